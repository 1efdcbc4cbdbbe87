package catalog

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	shophttp "github.com/kitshop/shop/transport/http"
)

// NewHTTPHandler serves the catalogue's public HTTP API:
//
//	POST   /products       create (admin)              201 product
//	GET    /products       list (anyone), query string 200 {"items":[...],"next_cursor":"..."}
//	                       ?limit&cursor&category&q
//	GET    /products/{id}  read (anyone)               200 product
//	PATCH  /products/{id}  partial update (admin)      200 product; a JSON null leaves a field as it is
//	DELETE /products/{id}  delete (admin)              204
//
// {id} is the product ID, path-escaped; the empty ID (/products/) reaches
// the service like any other. The status codes are decided here: 201 for a
// create, 204 for a delete, 200 for the rest, and the error's kind for a
// failure. Bearer tokens are checked with v; errors are JSON in the shop's
// error shape, and any other route is a JSON 404 (405 for a known path
// with another method). Request IDs, health and metrics routes are the
// caller's to add around it (see shophttp.WithRequestID and
// shophttp.Mount).
func NewHTTPHandler(e Endpoints, v shop.Verifier, logger log.Logger) http.Handler {
	opts := shophttp.ServerOptions(logger, v)
	mux := http.NewServeMux()
	mux.Handle("POST /products", kithttp.NewServer(e.CreateProductEndpoint, decodeCreateProductRequest, encodeCreateProductResponse, opts...))
	mux.Handle("GET /products", kithttp.NewServer(e.ListProductsEndpoint, decodeListProductsRequest, shophttp.EncodeJSON, opts...))
	for _, r := range []struct {
		method  string
		handler http.Handler
	}{
		{"GET", kithttp.NewServer(e.GetProductEndpoint, decodeGetProductRequest, shophttp.EncodeJSON, opts...)},
		{"PATCH", kithttp.NewServer(e.UpdateProductEndpoint, decodeUpdateProductRequest, shophttp.EncodeJSON, opts...)},
		{"DELETE", kithttp.NewServer(e.DeleteProductEndpoint, decodeDeleteProductRequest, encodeNoContent, opts...)},
	} {
		mux.Handle(r.method+" /products/{id}", r.handler)
		// The empty ID ("/products/", which {id} does not match) goes to the
		// service too, so a client asking for it gets the service's answer.
		mux.Handle(r.method+" /products/{$}", r.handler)
	}
	return shophttp.Routes(mux)
}

// createdProduct is a product answered with 201 Created (see
// shophttp.StatusCoder).
type createdProduct struct {
	Product
}

// StatusCode is 201 Created.
func (createdProduct) StatusCode() int { return http.StatusCreated }

// encodeCreateProductResponse answers a created product with 201 and its
// JSON, and an error as every route does.
func encodeCreateProductResponse(ctx context.Context, w http.ResponseWriter, response any) error {
	if r, ok := response.(CreateProductResponse); ok && r.Err == nil {
		return shophttp.EncodeJSON(ctx, w, createdProduct{r.Product})
	}
	return shophttp.EncodeJSON(ctx, w, response)
}

// encodeNoContent answers a success with 204 and no body, and an error as
// every route does.
func encodeNoContent(ctx context.Context, w http.ResponseWriter, response any) error {
	if f, ok := response.(endpoint.Failer); ok && f.Failed() != nil {
		return shophttp.EncodeJSON(ctx, w, response)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func decodeCreateProductRequest(_ context.Context, r *http.Request) (any, error) {
	var req CreateProductRequest
	if err := shophttp.DecodeJSON(r, &req.NewProduct, 0); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeGetProductRequest(_ context.Context, r *http.Request) (any, error) {
	return GetProductRequest{ID: r.PathValue("id")}, nil
}

func decodeUpdateProductRequest(_ context.Context, r *http.Request) (any, error) {
	req := UpdateProductRequest{ID: r.PathValue("id")}
	if err := shophttp.DecodeJSON(r, &req.Patch, 0); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeDeleteProductRequest(_ context.Context, r *http.Request) (any, error) {
	return DeleteProductRequest{ID: r.PathValue("id")}, nil
}

func decodeListProductsRequest(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	page, err := shop.ParsePageRequest(q.Get("limit"), q.Get("cursor"))
	if err != nil {
		return nil, err
	}
	return ListProductsRequest{ListQuery{PageRequest: page, Category: q.Get("category"), Q: q.Get("q")}}, nil
}

// MakeClientEndpoints returns endpoints that call a catalogue served by
// NewHTTPHandler at instance, a base URL such as "http://127.0.0.1:5002" or
// just "host:port". token supplies the bearer token of each call (nil: the
// token of the incoming request the context came from). opts come after the
// shop's ClientOptions, so they can replace the HTTP client.
//
// An error the remote service returns arrives with the same kind and code
// (shop.KindOf, shop.CodeOf). Business errors travel inside the response, so
// breakers and retries wrapped around these endpoints see only transport
// failures, 5xx and ErrUnavailable.
//
// It calls one fixed instance; NewHTTPClient calls the instances an
// sd.Instancer reports, with breakers, balancing and retries.
func MakeClientEndpoints(instance string, token func() (string, error), opts ...kithttp.ClientOption) (Endpoints, error) {
	base, err := shophttp.InstanceURL(instance)
	if err != nil {
		return Endpoints{}, fmt.Errorf("catalog client: %w", err)
	}
	base.Path += "/products"

	options := append(shophttp.ClientOptions(token), opts...)
	client := func(method string, enc kithttp.EncodeRequestFunc, dec kithttp.DecodeResponseFunc) endpoint.Endpoint {
		return kithttp.NewClient(method, base, enc, dec, options...).Endpoint()
	}
	return Endpoints{
		CreateProductEndpoint: client(http.MethodPost, encodeCreateProductRequest,
			shophttp.DecodeResponse(func(err error) CreateProductResponse { return CreateProductResponse{Err: err} })),
		GetProductEndpoint: client(http.MethodGet, encodeGetProductRequest,
			shophttp.DecodeResponse(func(err error) GetProductResponse { return GetProductResponse{Err: err} })),
		UpdateProductEndpoint: client(http.MethodPatch, encodeUpdateProductRequest,
			shophttp.DecodeResponse(func(err error) UpdateProductResponse { return UpdateProductResponse{Err: err} })),
		DeleteProductEndpoint: client(http.MethodDelete, encodeDeleteProductRequest,
			shophttp.DecodeResponse(func(err error) DeleteProductResponse { return DeleteProductResponse{Err: err} })),
		ListProductsEndpoint: client(http.MethodGet, encodeListProductsRequest,
			shophttp.DecodeResponse(func(err error) ListProductsResponse { return ListProductsResponse{Err: err} })),
	}, nil
}

// HTTPClient is a catalogue Service over HTTP across the instances of an
// sd.Instancer, made by NewHTTPClient. Close it when done.
type HTTPClient struct {
	Endpoints
	closer io.Closer
}

// Close stops following the instancer and closes the instances'
// endpoints. The instancer is the caller's to stop.
func (c *HTTPClient) Close() error { return c.closer.Close() }

// NewHTTPClient returns a catalogue Service that calls the instances
// instancer reports (each a base URL, as MakeClientEndpoints takes it),
// through discovery.NewEndpoint: a breaker and a concurrency limit per
// instance, round-robin balancing, retries and an overall timeout; opts
// tune them. token is as for MakeClientEndpoints.
//
// Reads, updates and deletes are idempotent and retried after any failure
// of an instance; CreateProduct is retried only when it never reached one
// (a refused connection, an open breaker). When no instance can answer, a
// call fails with 503 "catalog_unavailable" (shop.ErrUnavailable); business
// errors arrive as the service answered them and never open a breaker.
func NewHTTPClient(instancer sd.Instancer, token func() (string, error), opts ...discovery.ClientOption) (*HTTPClient, error) {
	httpClient := shophttp.NewClient(10 * time.Second) // one connection pool for every instance
	factory := discovery.Instances(func(instance string) (Endpoints, error) {
		return MakeClientEndpoints(instance, token, kithttp.SetClient(httpClient))
	}, func(ctx context.Context, e Endpoints, request any) (any, error) {
		switch request.(type) {
		case CreateProductRequest:
			return e.CreateProductEndpoint(ctx, request)
		case GetProductRequest:
			return e.GetProductEndpoint(ctx, request)
		case UpdateProductRequest:
			return e.UpdateProductEndpoint(ctx, request)
		case DeleteProductRequest:
			return e.DeleteProductEndpoint(ctx, request)
		case ListProductsRequest:
			return e.ListProductsEndpoint(ctx, request)
		}
		return nil, fmt.Errorf("catalog client: no endpoint takes a %T", request)
	})
	idempotent := func(request any) bool {
		_, create := request.(CreateProductRequest)
		return !create
	}
	opts = append([]discovery.ClientOption{discovery.RetryIdempotent(idempotent)}, opts...)
	ep, closer, err := discovery.NewEndpoint("catalog", instancer, factory, opts...)
	if err != nil {
		return nil, err
	}
	return &HTTPClient{
		Endpoints: Endpoints{
			CreateProductEndpoint: ep,
			GetProductEndpoint:    ep,
			UpdateProductEndpoint: ep,
			DeleteProductEndpoint: ep,
			ListProductsEndpoint:  ep,
		},
		closer: closer,
	}, nil
}

// withProductID appends /{id} to the request's path, escaped.
func withProductID(r *http.Request, id string) {
	escaped := r.URL.EscapedPath() + "/" + url.PathEscape(id)
	r.URL.Path += "/" + id
	r.URL.RawPath = escaped
}

func encodeCreateProductRequest(ctx context.Context, r *http.Request, request any) error {
	req := request.(CreateProductRequest)
	return shophttp.EncodeJSONRequest(ctx, r, req.NewProduct)
}

func encodeGetProductRequest(_ context.Context, r *http.Request, request any) error {
	withProductID(r, request.(GetProductRequest).ID)
	return nil
}

func encodeUpdateProductRequest(ctx context.Context, r *http.Request, request any) error {
	req := request.(UpdateProductRequest)
	withProductID(r, req.ID)
	return shophttp.EncodeJSONRequest(ctx, r, req.Patch)
}

func encodeDeleteProductRequest(_ context.Context, r *http.Request, request any) error {
	withProductID(r, request.(DeleteProductRequest).ID)
	return nil
}

func encodeListProductsRequest(_ context.Context, r *http.Request, request any) error {
	req := request.(ListProductsRequest)
	q := url.Values{}
	if req.Limit != 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if req.Cursor != "" {
		q.Set("cursor", req.Cursor)
	}
	if req.Category != "" {
		q.Set("category", req.Category)
	}
	if req.Q != "" {
		q.Set("q", req.Q)
	}
	r.URL.RawQuery = q.Encode()
	return nil
}
