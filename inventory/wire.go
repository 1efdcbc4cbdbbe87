package inventory

import (
	"github.com/go-kit/log"
	"github.com/kitshop/shop"
)

// New returns the inventory kept in store with the middleware a program
// serving it wants: NewService(store, opts...) wrapped in
// InstrumentingMiddleware(m), then LoggingMiddleware(logger), so the log
// line of a call covers the time its metrics record. The service's own
// lines (WithLogger) go to logger as well, unless opts hold a WithLogger of
// their own; logger must not be nil. Like NewService it panics when an
// option is given a value it cannot use. Run an Expirer (NewExpirer) on the
// same store beside it.
func New(store Store, logger log.Logger, m shop.ServiceMetrics, opts ...Option) Service {
	svc := NewService(store, append([]Option{WithLogger(logger)}, opts...)...)
	svc = InstrumentingMiddleware(m)(svc)
	return LoggingMiddleware(logger)(svc)
}
