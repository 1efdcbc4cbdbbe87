package order

import (
	"context"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/log"
	"github.com/kitshop/shop"
)

// Middleware decorates a Service.
type Middleware func(Service) Service

// LoggingMiddleware logs one line per call: method, order ID, request ID,
// duration and error. Card numbers are never logged.
func LoggingMiddleware(logger log.Logger) Middleware {
	return func(next Service) Service { return loggingMiddleware{next, logger} }
}

type loggingMiddleware struct {
	next   Service
	logger log.Logger
}

func (m loggingMiddleware) log(ctx context.Context, method, id string, begin time.Time, err error) {
	m.logger.Log("method", method, "order_id", id, "request_id", shop.RequestIDFrom(ctx),
		"took", time.Since(begin), "err", err)
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

// InstrumentingMiddleware counts calls and records their latency, labelled
// by method and error code ("" on success).
func InstrumentingMiddleware(requests metrics.Counter, latency metrics.Histogram) Middleware {
	return func(next Service) Service { return instrumentingMiddleware{next, requests, latency} }
}

type instrumentingMiddleware struct {
	next     Service
	requests metrics.Counter
	latency  metrics.Histogram
}

func (m instrumentingMiddleware) observe(method string, begin time.Time, err error) {
	code := ""
	if err != nil {
		code = shop.CodeOf(err)
	}
	m.requests.With("method", method, "code", code).Add(1)
	m.latency.With("method", method, "code", code).Observe(time.Since(begin).Seconds())
}

func (m instrumentingMiddleware) PlaceOrder(ctx context.Context, in NewOrder) (o Order, err error) {
	defer func(begin time.Time) { m.observe("PlaceOrder", begin, err) }(time.Now())
	return m.next.PlaceOrder(ctx, in)
}

func (m instrumentingMiddleware) GetOrder(ctx context.Context, id string) (o Order, err error) {
	defer func(begin time.Time) { m.observe("GetOrder", begin, err) }(time.Now())
	return m.next.GetOrder(ctx, id)
}

func (m instrumentingMiddleware) ListOrders(ctx context.Context, p shop.PageRequest) (page shop.Page[Order], err error) {
	defer func(begin time.Time) { m.observe("ListOrders", begin, err) }(time.Now())
	return m.next.ListOrders(ctx, p)
}

func (m instrumentingMiddleware) PayOrder(ctx context.Context, id, card string) (o Order, err error) {
	defer func(begin time.Time) { m.observe("PayOrder", begin, err) }(time.Now())
	return m.next.PayOrder(ctx, id, card)
}

func (m instrumentingMiddleware) CancelOrder(ctx context.Context, id string) (o Order, err error) {
	defer func(begin time.Time) { m.observe("CancelOrder", begin, err) }(time.Now())
	return m.next.CancelOrder(ctx, id)
}
