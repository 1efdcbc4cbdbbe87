package inventory

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
)

// Middleware decorates a Service with a cross-cutting concern such as
// logging or metrics.
type Middleware func(Service) Service

// LoggingMiddleware logs one line per call through shop.LogCall: the method,
// the product or order ID, the quantity or number of lines (and for Reserve
// whether it created the reservation), the request ID, how long the call
// took and its error (if any).
func LoggingMiddleware(logger log.Logger) Middleware {
	return func(next Service) Service { return loggingMiddleware{next: next, logger: logger} }
}

type loggingMiddleware struct {
	next   Service
	logger log.Logger
}

func (mw loggingMiddleware) log(ctx context.Context, method string, begin time.Time, err error, kv ...any) {
	shop.LogCall(ctx, mw.logger, method, begin, err, kv...)
}

func (mw loggingMiddleware) GetStock(ctx context.Context, productID string) (st Stock, err error) {
	defer func(begin time.Time) { mw.log(ctx, "GetStock", begin, err, "product_id", productID) }(time.Now())
	return mw.next.GetStock(ctx, productID)
}

func (mw loggingMiddleware) AddStock(ctx context.Context, productID string, quantity int64) (st Stock, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "AddStock", begin, err, "product_id", productID, "quantity", quantity)
	}(time.Now())
	return mw.next.AddStock(ctx, productID, quantity)
}

func (mw loggingMiddleware) RemoveStock(ctx context.Context, productID string, quantity int64) (st Stock, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "RemoveStock", begin, err, "product_id", productID, "quantity", quantity)
	}(time.Now())
	return mw.next.RemoveStock(ctx, productID, quantity)
}

func (mw loggingMiddleware) Reserve(ctx context.Context, orderID string, lines []Line, expiresAt time.Time) (r Reservation, created bool, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "Reserve", begin, err, "order_id", orderID, "lines", len(lines), "created", created)
	}(time.Now())
	return mw.next.Reserve(ctx, orderID, lines, expiresAt)
}

func (mw loggingMiddleware) Commit(ctx context.Context, orderID string) (r Reservation, err error) {
	defer func(begin time.Time) { mw.log(ctx, "Commit", begin, err, "order_id", orderID) }(time.Now())
	return mw.next.Commit(ctx, orderID)
}

func (mw loggingMiddleware) Release(ctx context.Context, orderID string) (r Reservation, err error) {
	defer func(begin time.Time) { mw.log(ctx, "Release", begin, err, "order_id", orderID) }(time.Now())
	return mw.next.Release(ctx, orderID)
}

func (mw loggingMiddleware) Return(ctx context.Context, orderID string) (r Reservation, err error) {
	defer func(begin time.Time) { mw.log(ctx, "Return", begin, err, "order_id", orderID) }(time.Now())
	return mw.next.Return(ctx, orderID)
}

func (mw loggingMiddleware) ListHeld(ctx context.Context, createdBefore time.Time, p shop.PageRequest) (page shop.Page[Reservation], err error) {
	defer func(begin time.Time) { mw.log(ctx, "ListHeld", begin, err, "limit", p.Limit) }(time.Now())
	return mw.next.ListHeld(ctx, createdBefore, p)
}

// InstrumentingMiddleware counts every call and records its duration through
// m.Record, labelled with "method" and "code" (shop.CodeOf of the error, ""
// on success). shop.NewServiceMetrics makes a Prometheus pair; any go-kit
// counter and histogram fit.
func InstrumentingMiddleware(m shop.ServiceMetrics) Middleware {
	return func(next Service) Service {
		return instrumentingMiddleware{next: next, metrics: m}
	}
}

type instrumentingMiddleware struct {
	next    Service
	metrics shop.ServiceMetrics
}

func (mw instrumentingMiddleware) GetStock(ctx context.Context, productID string) (st Stock, err error) {
	defer func(begin time.Time) { mw.metrics.Record("GetStock", begin, err) }(time.Now())
	return mw.next.GetStock(ctx, productID)
}

func (mw instrumentingMiddleware) AddStock(ctx context.Context, productID string, quantity int64) (st Stock, err error) {
	defer func(begin time.Time) { mw.metrics.Record("AddStock", begin, err) }(time.Now())
	return mw.next.AddStock(ctx, productID, quantity)
}

func (mw instrumentingMiddleware) RemoveStock(ctx context.Context, productID string, quantity int64) (st Stock, err error) {
	defer func(begin time.Time) { mw.metrics.Record("RemoveStock", begin, err) }(time.Now())
	return mw.next.RemoveStock(ctx, productID, quantity)
}

func (mw instrumentingMiddleware) Reserve(ctx context.Context, orderID string, lines []Line, expiresAt time.Time) (r Reservation, created bool, err error) {
	defer func(begin time.Time) { mw.metrics.Record("Reserve", begin, err) }(time.Now())
	return mw.next.Reserve(ctx, orderID, lines, expiresAt)
}

func (mw instrumentingMiddleware) Commit(ctx context.Context, orderID string) (r Reservation, err error) {
	defer func(begin time.Time) { mw.metrics.Record("Commit", begin, err) }(time.Now())
	return mw.next.Commit(ctx, orderID)
}

func (mw instrumentingMiddleware) Release(ctx context.Context, orderID string) (r Reservation, err error) {
	defer func(begin time.Time) { mw.metrics.Record("Release", begin, err) }(time.Now())
	return mw.next.Release(ctx, orderID)
}

func (mw instrumentingMiddleware) Return(ctx context.Context, orderID string) (r Reservation, err error) {
	defer func(begin time.Time) { mw.metrics.Record("Return", begin, err) }(time.Now())
	return mw.next.Return(ctx, orderID)
}

func (mw instrumentingMiddleware) ListHeld(ctx context.Context, createdBefore time.Time, p shop.PageRequest) (page shop.Page[Reservation], err error) {
	defer func(begin time.Time) { mw.metrics.Record("ListHeld", begin, err) }(time.Now())
	return mw.next.ListHeld(ctx, createdBefore, p)
}
