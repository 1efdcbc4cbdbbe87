package order

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
)

// Middleware decorates a Service: it returns a Service that does something
// around each call of next (logging, metrics, checks) and calls it.
type Middleware func(Service) Service

// LoggingMiddleware logs one line per call through shop.LogCall: method,
// order ID, request ID, duration and error (at info level, warn for errors
// that are not the caller's fault). Card numbers are never logged.
func LoggingMiddleware(logger log.Logger) Middleware {
	return func(next Service) Service { return loggingMiddleware{next, logger} }
}

type loggingMiddleware struct {
	next   Service
	logger log.Logger
}

func (m loggingMiddleware) log(ctx context.Context, method, id string, begin time.Time, err error) {
	shop.LogCall(ctx, m.logger, method, begin, err, "order_id", id)
}

func (m loggingMiddleware) PlaceOrder(ctx context.Context, in NewOrder) (o Order, err error) {
	defer func(begin time.Time) { m.log(ctx, "PlaceOrder", o.ID, begin, err) }(time.Now())
	return m.next.PlaceOrder(ctx, in)
}

func (m loggingMiddleware) GetOrder(ctx context.Context, id string) (o Order, err error) {
	defer func(begin time.Time) { m.log(ctx, "GetOrder", id, begin, err) }(time.Now())
	return m.next.GetOrder(ctx, id)
}

func (m loggingMiddleware) ListOrders(ctx context.Context, p shop.PageRequest) (page shop.Page[Order], err error) {
	defer func(begin time.Time) { m.log(ctx, "ListOrders", "", begin, err) }(time.Now())
	return m.next.ListOrders(ctx, p)
}

func (m loggingMiddleware) PayOrder(ctx context.Context, id, card string) (o Order, err error) {
	defer func(begin time.Time) { m.log(ctx, "PayOrder", id, begin, err) }(time.Now())
	return m.next.PayOrder(ctx, id, card)
}

func (m loggingMiddleware) CancelOrder(ctx context.Context, id string) (o Order, err error) {
	defer func(begin time.Time) { m.log(ctx, "CancelOrder", id, begin, err) }(time.Now())
	return m.next.CancelOrder(ctx, id)
}

func (m loggingMiddleware) RefundOrder(ctx context.Context, id string) (o Order, err error) {
	defer func(begin time.Time) { m.log(ctx, "RefundOrder", id, begin, err) }(time.Now())
	return m.next.RefundOrder(ctx, id)
}

// InstrumentingMiddleware counts calls and records their latency in m
// (through ServiceMetrics.Record), labelled by method and error code (""
// on success).
func InstrumentingMiddleware(m shop.ServiceMetrics) Middleware {
	return func(next Service) Service {
		return instrumentingMiddleware{next: next, metrics: m}
	}
}

type instrumentingMiddleware struct {
	next    Service
	metrics shop.ServiceMetrics
}

func (m instrumentingMiddleware) PlaceOrder(ctx context.Context, in NewOrder) (o Order, err error) {
	defer func(begin time.Time) { m.metrics.Record("PlaceOrder", begin, err) }(time.Now())
	return m.next.PlaceOrder(ctx, in)
}

func (m instrumentingMiddleware) GetOrder(ctx context.Context, id string) (o Order, err error) {
	defer func(begin time.Time) { m.metrics.Record("GetOrder", begin, err) }(time.Now())
	return m.next.GetOrder(ctx, id)
}

func (m instrumentingMiddleware) ListOrders(ctx context.Context, p shop.PageRequest) (page shop.Page[Order], err error) {
	defer func(begin time.Time) { m.metrics.Record("ListOrders", begin, err) }(time.Now())
	return m.next.ListOrders(ctx, p)
}

func (m instrumentingMiddleware) PayOrder(ctx context.Context, id, card string) (o Order, err error) {
	defer func(begin time.Time) { m.metrics.Record("PayOrder", begin, err) }(time.Now())
	return m.next.PayOrder(ctx, id, card)
}

func (m instrumentingMiddleware) CancelOrder(ctx context.Context, id string) (o Order, err error) {
	defer func(begin time.Time) { m.metrics.Record("CancelOrder", begin, err) }(time.Now())
	return m.next.CancelOrder(ctx, id)
}

func (m instrumentingMiddleware) RefundOrder(ctx context.Context, id string) (o Order, err error) {
	defer func(begin time.Time) { m.metrics.Record("RefundOrder", begin, err) }(time.Now())
	return m.next.RefundOrder(ctx, id)
}
