package order

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-kit/kit/sd"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	shophttp "github.com/kitshop/shop/transport/http"
)

// IdempotencyKeyHeader carries PlaceOrderRequest.IdempotencyKey over HTTP:
// a retried POST /orders with the same key returns the first order. The key
// travels only in this header; a body naming "idempotency_key" is refused
// as an unknown field, so there is never a question of which one wins.
const IdempotencyKeyHeader = "Idempotency-Key"

// NewHTTPHandler serves the order routes: POST /orders (201 Created, also
// for a retry that returns the first order), GET /orders, GET /orders/{id},
// POST /orders/{id}/pay, POST /orders/{id}/cancel and
// POST /orders/{id}/refund (200). Bearer tokens are checked with v, and
// 500s are logged to logger.
func NewHTTPHandler(e Endpoints, v shop.Verifier, logger log.Logger) http.Handler {
	opts := shophttp.ServerOptions(logger, v)
	mux := http.NewServeMux()
	mux.Handle("POST /orders", kithttp.NewServer(e.PlaceOrderEndpoint, decodePlaceOrder, encodeCreated, opts...))
	mux.Handle("GET /orders", kithttp.NewServer(e.ListOrdersEndpoint, decodeListOrders, shophttp.EncodeJSON, opts...))
	mux.Handle("GET /orders/{id}", kithttp.NewServer(e.GetOrderEndpoint, decodeGetOrder, shophttp.EncodeJSON, opts...))
	mux.Handle("POST /orders/{id}/pay", kithttp.NewServer(e.PayOrderEndpoint, decodePayOrder, shophttp.EncodeJSON, opts...))
	mux.Handle("POST /orders/{id}/cancel", kithttp.NewServer(e.CancelOrderEndpoint, decodeCancelOrder, shophttp.EncodeJSON, opts...))
	mux.Handle("POST /orders/{id}/refund", kithttp.NewServer(e.RefundOrderEndpoint, decodeRefundOrder, shophttp.EncodeJSON, opts...))
	return shophttp.Routes(mux)
}

// createdResponse is a placed order, answered with 201 Created.
type createdResponse struct{ OrderResponse }

// StatusCode implements shophttp.StatusCoder.
func (createdResponse) StatusCode() int { return http.StatusCreated }

// encodeCreated is the encoder of POST /orders: the placed order with 201
// Created, or the error with its own status.
func encodeCreated(ctx context.Context, w http.ResponseWriter, response any) error {
	if r, ok := response.(OrderResponse); ok {
		response = createdResponse{r}
	}
	return shophttp.EncodeJSON(ctx, w, response)
}

// placeOrderBody is the body of POST /orders; the idempotency key comes
// from the Idempotency-Key header.
type placeOrderBody struct {
	Items []Item `json:"items"`
}

func decodePlaceOrder(_ context.Context, r *http.Request) (any, error) {
	var body placeOrderBody
	if err := shophttp.DecodeJSON(r, &body, 0); err != nil {
		return nil, err
	}
	return PlaceOrderRequest{Items: body.Items, IdempotencyKey: strings.TrimSpace(r.Header.Get(IdempotencyKeyHeader))}, nil
}

func decodeListOrders(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	p, err := shop.ParsePageRequest(q.Get("limit"), q.Get("cursor"))
	return ListOrdersRequest{p}, err
}

func decodeGetOrder(_ context.Context, r *http.Request) (any, error) {
	return GetOrderRequest{ID: r.PathValue("id")}, nil
}

// payOrderBody is the body of POST /orders/{id}/pay; the ID is the path's.
type payOrderBody struct {
	CardNumber string `json:"card_number"`
}

func decodePayOrder(_ context.Context, r *http.Request) (any, error) {
	var body payOrderBody
	if err := shophttp.DecodeJSON(r, &body, 0); err != nil {
		return nil, err
	}
	return PayOrderRequest{ID: r.PathValue("id"), CardNumber: body.CardNumber}, nil
}

// decodeCancelOrder accepts an empty body or an empty JSON object.
func decodeCancelOrder(_ context.Context, r *http.Request) (any, error) {
	if err := decodeEmptyBody(r); err != nil {
		return nil, err
	}
	return CancelOrderRequest{ID: r.PathValue("id")}, nil
}

// decodeRefundOrder accepts an empty body or an empty JSON object.
func decodeRefundOrder(_ context.Context, r *http.Request) (any, error) {
	if err := decodeEmptyBody(r); err != nil {
		return nil, err
	}
	return RefundOrderRequest{ID: r.PathValue("id")}, nil
}

// decodeEmptyBody accepts no body, or a JSON object without fields.
func decodeEmptyBody(r *http.Request) error {
	if r.ContentLength != 0 {
		var empty struct{}
		if err := shophttp.DecodeJSON(r, &empty, 0); err != nil && shop.CodeOf(err) != "bad_json" {
			return err
		}
	}
	return nil
}

// MakeClientEndpoints returns Endpoints that call the order service at
// instance ("http://host:port" or "host:port") over HTTP. token supplies the
// bearer token of each call; nil passes on the token of the incoming request
// the context came from.
//
// It calls one fixed instance; NewHTTPClient calls the instances an
// sd.Instancer reports, with breakers, balancing and retries.
func MakeClientEndpoints(instance string, token func() (string, error), opts ...kithttp.ClientOption) (Endpoints, error) {
	base, err := shophttp.InstanceURL(instance)
	if err != nil {
		return Endpoints{}, fmt.Errorf("order client: %w", err)
	}
	options := append(shophttp.ClientOptions(token), opts...)
	client := func(method string, path func(req any) string, enc kithttp.EncodeRequestFunc, dec kithttp.DecodeResponseFunc) *kithttp.Client {
		tgt := *base
		return kithttp.NewClient(method, &tgt, func(ctx context.Context, r *http.Request, req any) error {
			r.URL.Path = base.Path + path(req)
			r.URL.RawPath = ""
			return enc(ctx, r, req)
		}, dec, options...)
	}
	noBody := func(context.Context, *http.Request, any) error { return nil }
	decodeOrder := shophttp.DecodeResponse(func(err error) OrderResponse { return OrderResponse{Err: err} })
	idPath := func(suffix string) func(any) string {
		return func(req any) string {
			var id string
			switch r := req.(type) {
			case GetOrderRequest:
				id = r.ID
			case PayOrderRequest:
				id = r.ID
			case CancelOrderRequest:
				id = r.ID
			case RefundOrderRequest:
				id = r.ID
			}
			return "/orders/" + url.PathEscape(id) + suffix
		}
	}
	return Endpoints{
		PlaceOrderEndpoint: client(http.MethodPost, func(any) string { return "/orders" }, func(ctx context.Context, r *http.Request, req any) error {
			p := req.(PlaceOrderRequest)
			if p.IdempotencyKey != "" {
				r.Header.Set(IdempotencyKeyHeader, p.IdempotencyKey)
			}
			return shophttp.EncodeJSONRequest(ctx, r, placeOrderBody{Items: p.Items})
		}, decodeOrder).Endpoint(),
		GetOrderEndpoint: client(http.MethodGet, idPath(""), noBody, decodeOrder).Endpoint(),
		ListOrdersEndpoint: client(http.MethodGet, func(any) string { return "/orders" }, func(_ context.Context, r *http.Request, req any) error {
			p := req.(ListOrdersRequest)
			q := url.Values{}
			if p.Limit != 0 {
				q.Set("limit", fmt.Sprint(p.Limit))
			}
			if p.Cursor != "" {
				q.Set("cursor", p.Cursor)
			}
			r.URL.RawQuery = q.Encode()
			return nil
		}, shophttp.DecodeResponse(func(err error) ListOrdersResponse { return ListOrdersResponse{Err: err} })).Endpoint(),
		PayOrderEndpoint: client(http.MethodPost, idPath("/pay"), func(ctx context.Context, r *http.Request, req any) error {
			return shophttp.EncodeJSONRequest(ctx, r, payOrderBody{CardNumber: req.(PayOrderRequest).CardNumber})
		}, decodeOrder).Endpoint(),
		CancelOrderEndpoint: client(http.MethodPost, idPath("/cancel"), noBody, decodeOrder).Endpoint(),
		RefundOrderEndpoint: client(http.MethodPost, idPath("/refund"), noBody, decodeOrder).Endpoint(),
	}, nil
}

// HTTPClient is an order Service over HTTP across the instances of an
// sd.Instancer, made by NewHTTPClient. Close it when done.
type HTTPClient struct {
	Endpoints
	closer io.Closer
}

// Close stops following the instancer and closes the instances'
// endpoints. The instancer is the caller's to stop.
func (c *HTTPClient) Close() error { return c.closer.Close() }

// NewHTTPClient returns an order Service that calls the instances
// instancer reports (each a base URL, as MakeClientEndpoints takes it),
// through discovery.NewEndpoint: a breaker and a concurrency limit per
// instance, round-robin balancing, retries and an overall timeout; opts
// tune them. token is as for MakeClientEndpoints.
//
// Reads are retried after any failure of an instance, and so is PlaceOrder
// with an idempotency key (a retry returns the first order). PlaceOrder
// without a key, PayOrder, CancelOrder and RefundOrder are retried only when
// they never reached an instance (a refused connection, an open breaker):
// an attempt that did may have acted, and its retry would answer 409
// rather than what happened. When no instance can answer, a call fails with
// 503 "order_unavailable" (shop.ErrUnavailable); business errors, and the
// service's own 503s such as payment_pending, arrive as the service
// answered them.
func NewHTTPClient(instancer sd.Instancer, token func() (string, error), opts ...discovery.ClientOption) (*HTTPClient, error) {
	httpClient := shophttp.NewClient(10 * time.Second) // one connection pool for every instance
	factory := discovery.Instances(func(instance string) (Endpoints, error) {
		return MakeClientEndpoints(instance, token, kithttp.SetClient(httpClient))
	}, func(ctx context.Context, e Endpoints, request any) (any, error) {
		switch request.(type) {
		case PlaceOrderRequest:
			return e.PlaceOrderEndpoint(ctx, request)
		case GetOrderRequest:
			return e.GetOrderEndpoint(ctx, request)
		case ListOrdersRequest:
			return e.ListOrdersEndpoint(ctx, request)
		case PayOrderRequest:
			return e.PayOrderEndpoint(ctx, request)
		case CancelOrderRequest:
			return e.CancelOrderEndpoint(ctx, request)
		case RefundOrderRequest:
			return e.RefundOrderEndpoint(ctx, request)
		}
		return nil, fmt.Errorf("order client: no endpoint takes a %T", request)
	})
	idempotent := func(request any) bool {
		switch r := request.(type) {
		case GetOrderRequest, ListOrdersRequest:
			return true
		case PlaceOrderRequest:
			return r.IdempotencyKey != ""
		}
		return false
	}
	opts = append([]discovery.ClientOption{discovery.RetryIdempotent(idempotent)}, opts...)
	ep, closer, err := discovery.NewEndpoint("order", instancer, factory, opts...)
	if err != nil {
		return nil, err
	}
	return &HTTPClient{
		Endpoints: Endpoints{
			PlaceOrderEndpoint:  ep,
			GetOrderEndpoint:    ep,
			ListOrdersEndpoint:  ep,
			PayOrderEndpoint:    ep,
			CancelOrderEndpoint: ep,
			RefundOrderEndpoint: ep,
		},
		closer: closer,
	}, nil
}
