package inventory

import (
	"context"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/log"
	"github.com/kitshop/shop"
)

// Middleware decorates a Service with a cross-cutting concern such as
// logging or metrics.
type Middleware func(Service) Service

// LoggingMiddleware logs one line per call: the method, the product or order
// ID, the quantity or number of lines, the request ID, how long the call
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

func (mw loggingMiddleware) Reserve(ctx context.Context, orderID string, lines []Line, expiresAt time.Time) (r Reservation, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "Reserve", begin, err, "order_id", orderID, "lines", len(lines))
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

// InstrumentingMiddleware counts calls in requests and records their
// duration in seconds in latency, both labelled with "method" and "code"
// (shop.CodeOf of the error, "" on success). shop.NewServiceMetrics
// makes a matching pair.
func InstrumentingMiddleware(requests metrics.Counter, latency metrics.Histogram) Middleware {
	return func(next Service) Service {
		return instrumentingMiddleware{next: next, metrics: shop.ServiceMetrics{Requests: requests, Latency: latency}}
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

func (mw instrumentingMiddleware) Reserve(ctx context.Context, orderID string, lines []Line, expiresAt time.Time) (r Reservation, err error) {
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
