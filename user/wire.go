package user

import (
	"github.com/go-kit/log"

	"github.com/kitshop/shop"
)

// New returns the account service as a program serving it wants it:
// NewService(store, issuer, opts...) with its own log lines going to logger
// (WithLogger(logger), which an option in opts may replace), wrapped in
// InstrumentingMiddleware(m), then LoggingMiddleware(logger), so that every
// call is counted and logged, logging outermost. Like NewService it panics
// when an option is given a value it cannot use.
func New(store Store, issuer TokenIssuer, logger log.Logger, m shop.ServiceMetrics, opts ...Option) Service {
	svc := NewService(store, issuer, append([]Option{WithLogger(logger)}, opts...)...)
	svc = InstrumentingMiddleware(m)(svc)
	return LoggingMiddleware(logger)(svc)
}
