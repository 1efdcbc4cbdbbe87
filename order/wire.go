package order

import (
	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/inventory"
)

// New returns the order desk as a program serving it wants it:
// NewService(store, cat, inv, payments, opts...) wrapped in
// InstrumentingMiddleware(m), then LoggingMiddleware(logger), so the log
// line of a call covers the time its metrics record. The service's own lines
// (WithLogger) go to logger as well, unless opts hold a WithLogger of their
// own; logger must not be nil.
//
// Serve svc with MakeServerEndpoints and a transport (NewHTTPHandler). Run
// the background work on core, the undecorated service: core.RunExpiry and
// core.RunRecovery, and the store's outbox relay (SQLiteStore.RunOutbox)
// beside them. Calls made on core are neither logged nor counted.
func New(store Store, cat catalog.Service, inv inventory.Service, payments PaymentProvider, logger log.Logger, m shop.ServiceMetrics, opts ...Option) (svc Service, core *Orders) {
	core = NewService(store, cat, inv, payments, append([]Option{WithLogger(logger)}, opts...)...)
	svc = InstrumentingMiddleware(m)(core)
	return LoggingMiddleware(logger)(svc), core
}
