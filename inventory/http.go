package inventory

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

// NewHTTPHandler serves the public inventory routes:
//
//	GET    /inventory/{product_id}                     -> 200 {product_id,on_hand,reserved,available}
//	POST   /inventory/{product_id}  {"quantity": n}    -> 200 stock after adding (admin)
//	DELETE /inventory/{product_id}  {"quantity": n}    -> 200 stock after removing (admin)
//
// Any other request is a JSON 404 (405 for a known path with another
// method). Tokens are checked with v; the service decides who may do what.
// Wrap the handler in shophttp.WithRequestID so log lines carry the
// request's ID. The reservation routes that other services call are
// served by NewInternalHTTPHandler; a client (MakeClientEndpoints) that
// reserves needs both on one base URL.
func NewHTTPHandler(e Endpoints, v shop.Verifier, logger log.Logger) http.Handler {
	opts := shophttp.ServerOptions(logger, v)
	mux := http.NewServeMux()
	mux.Handle("GET /inventory/{product_id}", kithttp.NewServer(e.GetStockEndpoint, decodeGetStockRequest, shophttp.EncodeJSON, opts...))
	mux.Handle("POST /inventory/{product_id}", kithttp.NewServer(e.AddStockEndpoint, decodeChangeStockRequest, shophttp.EncodeJSON, opts...))
	mux.Handle("DELETE /inventory/{product_id}", kithttp.NewServer(e.RemoveStockEndpoint, decodeChangeStockRequest, shophttp.EncodeJSON, opts...))
	return shophttp.Routes(mux)
}

// NewInternalHTTPHandler serves the routes other services call to hold and
// settle stock for their orders; they need a token with the service role and
// must never be exposed through the public gateway:
//
//	POST /internal/reservations  {"order_id","lines":[{"product_id","quantity"}],"expires_at"}
//	     -> 201 reservation with "created": true (200 and false when the order already had it)
//	POST /internal/reservations/{order_id}/commit   -> 200 reservation ("created": false)
//	POST /internal/reservations/{order_id}/release  -> 200 reservation
//	POST /internal/reservations/{order_id}/return   -> 200 reservation
//	GET  /internal/reservations?status=held&created_before=RFC3339&limit&cursor
//	     -> 200 {items,next_cursor}
//
// Any other request is a JSON 404 (405 for a known path with another method).
func NewInternalHTTPHandler(e Endpoints, v shop.Verifier, logger log.Logger) http.Handler {
	opts := shophttp.ServerOptions(logger, v)
	mux := http.NewServeMux()
	mux.Handle("POST /internal/reservations", kithttp.NewServer(e.ReserveEndpoint, decodeReserveRequest, encodeReservationResponse, opts...))
	mux.Handle("POST /internal/reservations/{order_id}/commit", kithttp.NewServer(e.CommitEndpoint, decodeOrderRequest, shophttp.EncodeJSON, opts...))
	mux.Handle("POST /internal/reservations/{order_id}/release", kithttp.NewServer(e.ReleaseEndpoint, decodeOrderRequest, shophttp.EncodeJSON, opts...))
	mux.Handle("POST /internal/reservations/{order_id}/return", kithttp.NewServer(e.ReturnEndpoint, decodeOrderRequest, shophttp.EncodeJSON, opts...))
	mux.Handle("GET /internal/reservations", kithttp.NewServer(e.ListHeldEndpoint, decodeListHeldRequest, shophttp.EncodeJSON, opts...))
	return shophttp.Routes(mux)
}

// encodeReservationResponse writes a reservation answer: 201 Created when
// the response says the call created the reservation, else what
// shophttp.EncodeJSON writes (200, or the error).
func encodeReservationResponse(ctx context.Context, w http.ResponseWriter, response any) error {
	if r, ok := response.(ReservationResponse); ok && r.Created && r.Err == nil {
		return shophttp.EncodeJSON(ctx, w, createdResponse{r})
	}
	return shophttp.EncodeJSON(ctx, w, response)
}

// createdResponse is a response answered with 201 Created; it marshals as
// the response it holds.
type createdResponse struct{ ReservationResponse }

// StatusCode implements shophttp.StatusCoder.
func (createdResponse) StatusCode() int { return http.StatusCreated }

// quantityBody is the body of POST and DELETE /inventory/{product_id}.
type quantityBody struct {
	Quantity int64 `json:"quantity"`
}

func decodeGetStockRequest(_ context.Context, r *http.Request) (any, error) {
	return GetStockRequest{ProductID: r.PathValue("product_id")}, nil
}

func decodeChangeStockRequest(_ context.Context, r *http.Request) (any, error) {
	var body quantityBody
	if err := shophttp.DecodeJSON(r, &body, 0); err != nil {
		return nil, err
	}
	return ChangeStockRequest{ProductID: r.PathValue("product_id"), Quantity: body.Quantity}, nil
}

func decodeReserveRequest(_ context.Context, r *http.Request) (any, error) {
	var req ReserveRequest
	if err := shophttp.DecodeJSON(r, &req, 0); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeOrderRequest(_ context.Context, r *http.Request) (any, error) {
	return OrderRequest{OrderID: r.PathValue("order_id")}, nil
}

// decodeListHeldRequest reads the query of GET /internal/reservations. Only
// held reservations can be listed, so status must be "held".
func decodeListHeldRequest(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	if st := q.Get("status"); st != string(ReservationHeld) {
		return nil, shop.E(shop.ErrInvalid, "invalid_status", "status must be %q", ReservationHeld)
	}
	before, err := time.Parse(time.RFC3339Nano, q.Get("created_before"))
	if err != nil {
		return nil, shop.E(shop.ErrInvalid, "invalid_created_before", "created_before must be an RFC 3339 time")
	}
	p, err := shop.ParsePageRequest(q.Get("limit"), q.Get("cursor"))
	if err != nil {
		return nil, err
	}
	return ListHeldRequest{CreatedBefore: before, PageRequest: p}, nil
}

// MakeClientEndpoints returns Endpoints that call the inventory service at
// instance, a base URL such as "http://127.0.0.1:5003" or just
// "127.0.0.1:5003". Every call presents a bearer token from token (a service
// credential for the reservation calls; nil passes on the token of the
// incoming request, see shophttp.PassToken). opts come after the shop's
// defaults (shophttp.ClientOptions) and can override them.
//
// An error the service returns reaches the caller with its kind and code.
// Business errors (4xx) travel inside the response, so that a circuit
// breaker wrapped around these endpoints counts only transport failures and
// 5xx answers.
//
// It calls one fixed instance; NewHTTPClient calls the instances an
// sd.Instancer reports, with breakers, balancing and retries.
func MakeClientEndpoints(instance string, token func() (string, error), opts ...kithttp.ClientOption) (Endpoints, error) {
	base, err := shophttp.InstanceURL(instance)
	if err != nil {
		return Endpoints{}, err
	}
	options := append(shophttp.ClientOptions(token), opts...)
	client := func(method string, enc kithttp.EncodeRequestFunc, dec kithttp.DecodeResponseFunc) endpoint.Endpoint {
		return kithttp.NewClient(method, base, enc, dec, options...).Endpoint()
	}
	stockPath := func(request any) string {
		var id string
		switch req := request.(type) {
		case GetStockRequest:
			id = req.ProductID
		case ChangeStockRequest:
			id = req.ProductID
		}
		return "/inventory/" + url.PathEscape(id)
	}
	changeStock := func(ctx context.Context, r *http.Request, request any) error {
		if err := setPath(r, base, stockPath(request)); err != nil {
			return err
		}
		return shophttp.EncodeJSONRequest(ctx, r, quantityBody{Quantity: request.(ChangeStockRequest).Quantity})
	}
	orderAction := func(action string) kithttp.EncodeRequestFunc {
		return func(_ context.Context, r *http.Request, request any) error {
			return setPath(r, base, "/internal/reservations/"+url.PathEscape(request.(OrderRequest).OrderID)+"/"+action)
		}
	}
	return Endpoints{
		GetStockEndpoint: client(http.MethodGet, func(_ context.Context, r *http.Request, request any) error {
			return setPath(r, base, stockPath(request))
		}, decodeStockResponse),
		AddStockEndpoint:    client(http.MethodPost, changeStock, decodeStockResponse),
		RemoveStockEndpoint: client(http.MethodDelete, changeStock, decodeStockResponse),
		ReserveEndpoint: client(http.MethodPost, func(ctx context.Context, r *http.Request, request any) error {
			if err := setPath(r, base, "/internal/reservations"); err != nil {
				return err
			}
			return shophttp.EncodeJSONRequest(ctx, r, request)
		}, decodeReservationResponse),
		CommitEndpoint:  client(http.MethodPost, orderAction("commit"), decodeReservationResponse),
		ReleaseEndpoint: client(http.MethodPost, orderAction("release"), decodeReservationResponse),
		ReturnEndpoint:  client(http.MethodPost, orderAction("return"), decodeReservationResponse),
		ListHeldEndpoint: client(http.MethodGet, func(_ context.Context, r *http.Request, request any) error {
			req := request.(ListHeldRequest)
			q := url.Values{"status": {string(ReservationHeld)}, "created_before": {req.CreatedBefore.UTC().Format(time.RFC3339Nano)}}
			if req.Limit != 0 {
				q.Set("limit", strconv.Itoa(req.Limit))
			}
			if req.Cursor != "" {
				q.Set("cursor", req.Cursor)
			}
			if err := setPath(r, base, "/internal/reservations"); err != nil {
				return err
			}
			r.URL.RawQuery = q.Encode()
			return nil
		}, shophttp.DecodeResponse(func(err error) ReservationsResponse { return ReservationsResponse{Err: err} })),
	}, nil
}

// HTTPClient is an inventory Service over HTTP across the instances of an
// sd.Instancer, made by NewHTTPClient. Close it when done.
type HTTPClient struct {
	Endpoints
	closer io.Closer
}

// Close stops following the instancer and closes the instances'
// endpoints. The instancer is the caller's to stop.
func (c *HTTPClient) Close() error { return c.closer.Close() }

// The requests of methods that share a request type, told apart on their
// way to an instance's endpoints.
type (
	addStockCall    ChangeStockRequest
	removeStockCall ChangeStockRequest
	commitCall      OrderRequest
	releaseCall     OrderRequest
	returnCall      OrderRequest
)

// NewHTTPClient returns an inventory Service that calls the instances
// instancer reports (each a base URL serving both NewHTTPHandler and
// NewInternalHTTPHandler, as MakeClientEndpoints takes it), through
// discovery.NewEndpoint: a breaker and a concurrency limit per instance,
// round-robin balancing, retries and an overall timeout; opts tune them.
// token is as for MakeClientEndpoints.
//
// Reads and the reservation calls (Reserve, Commit, Release, Return:
// idempotent by order ID) are retried after any failure of an instance;
// AddStock and RemoveStock only when they never reached one (a refused
// connection, an open breaker). When no instance can answer, a call fails
// with 503 "inventory_unavailable" (shop.ErrUnavailable); business errors
// arrive as the service answered them and never open a breaker.
func NewHTTPClient(instancer sd.Instancer, token func() (string, error), opts ...discovery.ClientOption) (*HTTPClient, error) {
	httpClient := shophttp.NewClient(10 * time.Second) // one connection pool for every instance
	factory := discovery.Instances(func(instance string) (Endpoints, error) {
		return MakeClientEndpoints(instance, token, kithttp.SetClient(httpClient))
	}, func(ctx context.Context, e Endpoints, request any) (any, error) {
		switch r := request.(type) {
		case GetStockRequest:
			return e.GetStockEndpoint(ctx, r)
		case addStockCall:
			return e.AddStockEndpoint(ctx, ChangeStockRequest(r))
		case removeStockCall:
			return e.RemoveStockEndpoint(ctx, ChangeStockRequest(r))
		case ReserveRequest:
			return e.ReserveEndpoint(ctx, r)
		case commitCall:
			return e.CommitEndpoint(ctx, OrderRequest(r))
		case releaseCall:
			return e.ReleaseEndpoint(ctx, OrderRequest(r))
		case returnCall:
			return e.ReturnEndpoint(ctx, OrderRequest(r))
		case ListHeldRequest:
			return e.ListHeldEndpoint(ctx, r)
		}
		return nil, fmt.Errorf("inventory client: no endpoint takes a %T", request)
	})
	idempotent := func(request any) bool {
		switch request.(type) {
		case addStockCall, removeStockCall:
			return false
		}
		return true
	}
	opts = append([]discovery.ClientOption{discovery.RetryIdempotent(idempotent)}, opts...)
	ep, closer, err := discovery.NewEndpoint("inventory", instancer, factory, opts...)
	if err != nil {
		return nil, err
	}
	return &HTTPClient{
		Endpoints: Endpoints{
			GetStockEndpoint: ep,
			AddStockEndpoint: func(ctx context.Context, request any) (any, error) {
				return ep(ctx, addStockCall(request.(ChangeStockRequest)))
			},
			RemoveStockEndpoint: func(ctx context.Context, request any) (any, error) {
				return ep(ctx, removeStockCall(request.(ChangeStockRequest)))
			},
			ReserveEndpoint: ep,
			CommitEndpoint: func(ctx context.Context, request any) (any, error) {
				return ep(ctx, commitCall(request.(OrderRequest)))
			},
			ReleaseEndpoint: func(ctx context.Context, request any) (any, error) {
				return ep(ctx, releaseCall(request.(OrderRequest)))
			},
			ReturnEndpoint: func(ctx context.Context, request any) (any, error) {
				return ep(ctx, returnCall(request.(OrderRequest)))
			},
			ListHeldEndpoint: ep,
		},
		closer: closer,
	}, nil
}

// setPath points r at escapedPath (already escaped) below base.
func setPath(r *http.Request, base *url.URL, escapedPath string) error {
	u, err := url.Parse(base.String() + escapedPath)
	if err != nil {
		return fmt.Errorf("inventory client: %w", err)
	}
	r.URL = u
	return nil
}

// decodeStockResponse decodes a stock answer; business errors travel in the
// response (see shophttp.DecodeResponse).
var decodeStockResponse = shophttp.DecodeResponse(func(err error) StockResponse { return StockResponse{Err: err} })

// decodeReservation decodes a reservation answer, with Created as the body
// says.
var decodeReservation = shophttp.DecodeResponse(func(err error) ReservationResponse { return ReservationResponse{Err: err} })

// decodeReservationResponse decodes a reservation answer; a 201 means the
// call created the reservation as well as "created": true does (a server
// that predates the field says it only with 201).
func decodeReservationResponse(ctx context.Context, resp *http.Response) (any, error) {
	v, err := decodeReservation(ctx, resp)
	if r, ok := v.(ReservationResponse); ok && err == nil && resp.StatusCode == http.StatusCreated {
		r.Created = true
		return r, nil
	}
	return v, err
}
