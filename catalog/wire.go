package catalog

import (
	"github.com/go-kit/log"
	"github.com/kitshop/shop"
)

// New returns the catalogue as a program serving it wants it: NewService on
// store with opts, counted and timed by InstrumentingMiddleware(m), and
// logged by LoggingMiddleware(logger) around that, so a log line's time
// covers the metrics too. Serve the result with MakeServerEndpoints and a
// transport (NewHTTPHandler).
func New(store Store, logger log.Logger, m shop.ServiceMetrics, opts ...Option) Service {
	s := NewService(store, opts...)
	s = InstrumentingMiddleware(m)(s)
	return LoggingMiddleware(logger)(s)
}
