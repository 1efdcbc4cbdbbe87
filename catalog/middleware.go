package catalog

import (
	"context"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/log"
	"github.com/kitshop/shop"
)

// Middleware decorates a Service, for logging, metrics or anything else that
// wraps every call.
type Middleware func(Service) Service

// LoggingMiddleware logs one line per call: the method, the product ID or SKU
// it concerns, the request ID, how long it took and the error, if any.
func LoggingMiddleware(logger log.Logger) Middleware {
	return func(next Service) Service {
		return loggingMiddleware{next: next, logger: logger}
	}
}

type loggingMiddleware struct {
	next   Service
	logger log.Logger
}

func (mw loggingMiddleware) log(ctx context.Context, begin time.Time, err error, keyvals ...any) {
	kv := append([]any{"request_id", shop.RequestIDFrom(ctx)}, keyvals...)
	kv = append(kv, "took", time.Since(begin), "err", err)
	mw.logger.Log(kv...)
}

func (mw loggingMiddleware) CreateProduct(ctx context.Context, np NewProduct) (p Product, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, begin, err, "method", "CreateProduct", "sku", np.SKU, "id", p.ID)
	}(time.Now())
	return mw.next.CreateProduct(ctx, np)
}

func (mw loggingMiddleware) GetProduct(ctx context.Context, id string) (p Product, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, begin, err, "method", "GetProduct", "id", id)
	}(time.Now())
	return mw.next.GetProduct(ctx, id)
}

func (mw loggingMiddleware) UpdateProduct(ctx context.Context, id string, patch ProductPatch) (p Product, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, begin, err, "method", "UpdateProduct", "id", id)
	}(time.Now())
	return mw.next.UpdateProduct(ctx, id, patch)
}

func (mw loggingMiddleware) DeleteProduct(ctx context.Context, id string) (err error) {
	defer func(begin time.Time) {
		mw.log(ctx, begin, err, "method", "DeleteProduct", "id", id)
	}(time.Now())
	return mw.next.DeleteProduct(ctx, id)
}

func (mw loggingMiddleware) ListProducts(ctx context.Context, q ListQuery) (page shop.Page[Product], err error) {
	defer func(begin time.Time) {
		mw.log(ctx, begin, err, "method", "ListProducts", "limit", q.Limit, "category", q.Category, "q", q.Q, "items", len(page.Items))
	}(time.Now())
	return mw.next.ListProducts(ctx, q)
}

// InstrumentingMiddleware counts calls in requests and observes their
// duration in seconds in latency, both labelled "method" and "code" (the
// error's shop.CodeOf, or "" on success). shophttp.NewServiceMetrics makes a
// matching pair.
func InstrumentingMiddleware(requests metrics.Counter, latency metrics.Histogram) Middleware {
	return func(next Service) Service {
		return instrumentingMiddleware{next: next, requests: requests, latency: latency}
	}
}

type instrumentingMiddleware struct {
	next     Service
	requests metrics.Counter
	latency  metrics.Histogram
}

func (mw instrumentingMiddleware) observe(method string, begin time.Time, err error) {
	code := ""
	if err != nil {
		code = shop.CodeOf(err)
	}
	lvs := []string{"method", method, "code", code}
	mw.requests.With(lvs...).Add(1)
	mw.latency.With(lvs...).Observe(time.Since(begin).Seconds())
}

func (mw instrumentingMiddleware) CreateProduct(ctx context.Context, np NewProduct) (p Product, err error) {
	defer func(begin time.Time) { mw.observe("CreateProduct", begin, err) }(time.Now())
	return mw.next.CreateProduct(ctx, np)
}

func (mw instrumentingMiddleware) GetProduct(ctx context.Context, id string) (p Product, err error) {
	defer func(begin time.Time) { mw.observe("GetProduct", begin, err) }(time.Now())
	return mw.next.GetProduct(ctx, id)
}

func (mw instrumentingMiddleware) UpdateProduct(ctx context.Context, id string, patch ProductPatch) (p Product, err error) {
	defer func(begin time.Time) { mw.observe("UpdateProduct", begin, err) }(time.Now())
	return mw.next.UpdateProduct(ctx, id, patch)
}

func (mw instrumentingMiddleware) DeleteProduct(ctx context.Context, id string) (err error) {
	defer func(begin time.Time) { mw.observe("DeleteProduct", begin, err) }(time.Now())
	return mw.next.DeleteProduct(ctx, id)
}

func (mw instrumentingMiddleware) ListProducts(ctx context.Context, q ListQuery) (page shop.Page[Product], err error) {
	defer func(begin time.Time) { mw.observe("ListProducts", begin, err) }(time.Now())
	return mw.next.ListProducts(ctx, q)
}
