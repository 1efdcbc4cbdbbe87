package catalog

import (
	"context"
	"time"

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

func (mw loggingMiddleware) log(ctx context.Context, method string, begin time.Time, err error, kv ...any) {
	shop.LogCall(ctx, mw.logger, method, begin, err, kv...)
}

func (mw loggingMiddleware) CreateProduct(ctx context.Context, np NewProduct) (p Product, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "CreateProduct", begin, err, "sku", np.SKU, "id", p.ID)
	}(time.Now())
	return mw.next.CreateProduct(ctx, np)
}

func (mw loggingMiddleware) GetProduct(ctx context.Context, id string) (p Product, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "GetProduct", begin, err, "id", id)
	}(time.Now())
	return mw.next.GetProduct(ctx, id)
}

func (mw loggingMiddleware) UpdateProduct(ctx context.Context, id string, patch ProductPatch) (p Product, err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "UpdateProduct", begin, err, "id", id)
	}(time.Now())
	return mw.next.UpdateProduct(ctx, id, patch)
}

func (mw loggingMiddleware) DeleteProduct(ctx context.Context, id string) (err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "DeleteProduct", begin, err, "id", id)
	}(time.Now())
	return mw.next.DeleteProduct(ctx, id)
}

func (mw loggingMiddleware) ListProducts(ctx context.Context, q ListQuery) (page shop.Page[Product], err error) {
	defer func(begin time.Time) {
		mw.log(ctx, "ListProducts", begin, err, "limit", q.Limit, "category", q.Category, "q", q.Q, "items", len(page.Items))
	}(time.Now())
	return mw.next.ListProducts(ctx, q)
}

// InstrumentingMiddleware counts every call in m.Requests and observes its
// duration in seconds in m.Latency, both labelled "method" and "code" (the
// error's shop.CodeOf, or "" on success), through m.Record.
// shop.NewServiceMetrics makes a matching pair.
func InstrumentingMiddleware(m shop.ServiceMetrics) Middleware {
	return func(next Service) Service {
		return instrumentingMiddleware{next: next, metrics: m}
	}
}

type instrumentingMiddleware struct {
	next    Service
	metrics shop.ServiceMetrics
}

func (mw instrumentingMiddleware) CreateProduct(ctx context.Context, np NewProduct) (p Product, err error) {
	defer func(begin time.Time) { mw.metrics.Record("CreateProduct", begin, err) }(time.Now())
	return mw.next.CreateProduct(ctx, np)
}

func (mw instrumentingMiddleware) GetProduct(ctx context.Context, id string) (p Product, err error) {
	defer func(begin time.Time) { mw.metrics.Record("GetProduct", begin, err) }(time.Now())
	return mw.next.GetProduct(ctx, id)
}

func (mw instrumentingMiddleware) UpdateProduct(ctx context.Context, id string, patch ProductPatch) (p Product, err error) {
	defer func(begin time.Time) { mw.metrics.Record("UpdateProduct", begin, err) }(time.Now())
	return mw.next.UpdateProduct(ctx, id, patch)
}

func (mw instrumentingMiddleware) DeleteProduct(ctx context.Context, id string) (err error) {
	defer func(begin time.Time) { mw.metrics.Record("DeleteProduct", begin, err) }(time.Now())
	return mw.next.DeleteProduct(ctx, id)
}

func (mw instrumentingMiddleware) ListProducts(ctx context.Context, q ListQuery) (page shop.Page[Product], err error) {
	defer func(begin time.Time) { mw.metrics.Record("ListProducts", begin, err) }(time.Now())
	return mw.next.ListProducts(ctx, q)
}
