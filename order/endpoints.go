package order

import (
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/unpack"
)

// Endpoints collects the order service's endpoints, one per Service method.
// On the server side MakeServerEndpoints builds it from a Service; on the
// client side MakeClientEndpoints builds it from a remote address, and
// Endpoints then implements Service itself.
//
// Each endpoint takes the request type named after its method (a
// PlaceOrderRequest for PlaceOrderEndpoint, and so on) and returns an
// OrderResponse, or a ListOrdersResponse for ListOrdersEndpoint. Business
// errors travel in the response (endpoint.Failer); an endpoint itself fails
// only for transport trouble.
type Endpoints struct {
	PlaceOrderEndpoint  endpoint.Endpoint
	GetOrderEndpoint    endpoint.Endpoint
	ListOrdersEndpoint  endpoint.Endpoint
	PayOrderEndpoint    endpoint.Endpoint
	CancelOrderEndpoint endpoint.Endpoint
	RefundOrderEndpoint endpoint.Endpoint
}

// MakeServerEndpoints returns endpoints that call s, each wrapped in mw (the
// first middleware is the outermost).
func MakeServerEndpoints(s Service, mw ...endpoint.Middleware) Endpoints {
	e := Endpoints{
		PlaceOrderEndpoint:  MakePlaceOrderEndpoint(s),
		GetOrderEndpoint:    MakeGetOrderEndpoint(s),
		ListOrdersEndpoint:  MakeListOrdersEndpoint(s),
		PayOrderEndpoint:    MakePayOrderEndpoint(s),
		CancelOrderEndpoint: MakeCancelOrderEndpoint(s),
		RefundOrderEndpoint: MakeRefundOrderEndpoint(s),
	}
	for i := len(mw) - 1; i >= 0; i-- {
		e = e.Wrap(mw[i])
	}
	return e
}

// Wrap returns the endpoints, each wrapped in mw.
func (e Endpoints) Wrap(mw endpoint.Middleware) Endpoints {
	return Endpoints{
		PlaceOrderEndpoint:  mw(e.PlaceOrderEndpoint),
		GetOrderEndpoint:    mw(e.GetOrderEndpoint),
		ListOrdersEndpoint:  mw(e.ListOrdersEndpoint),
		PayOrderEndpoint:    mw(e.PayOrderEndpoint),
		CancelOrderEndpoint: mw(e.CancelOrderEndpoint),
		RefundOrderEndpoint: mw(e.RefundOrderEndpoint),
	}
}

// MakePlaceOrderEndpoint returns an endpoint that calls s.PlaceOrder with a
// PlaceOrderRequest and answers an OrderResponse.
func MakePlaceOrderEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(PlaceOrderRequest)
		o, err := s.PlaceOrder(ctx, NewOrder(req))
		return OrderResponse{Order: o, Err: err}, nil
	}
}

// MakeGetOrderEndpoint returns an endpoint that calls s.GetOrder with a
// GetOrderRequest and answers an OrderResponse.
func MakeGetOrderEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		o, err := s.GetOrder(ctx, request.(GetOrderRequest).ID)
		return OrderResponse{Order: o, Err: err}, nil
	}
}

// MakeListOrdersEndpoint returns an endpoint that calls s.ListOrders with a
// ListOrdersRequest and answers a ListOrdersResponse.
func MakeListOrdersEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		p, err := s.ListOrders(ctx, request.(ListOrdersRequest).PageRequest)
		return ListOrdersResponse{Page: p, Err: err}, nil
	}
}

// MakePayOrderEndpoint returns an endpoint that calls s.PayOrder with a
// PayOrderRequest and answers an OrderResponse.
func MakePayOrderEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(PayOrderRequest)
		o, err := s.PayOrder(ctx, req.ID, req.CardNumber)
		return OrderResponse{Order: o, Err: err}, nil
	}
}

// MakeCancelOrderEndpoint returns an endpoint that calls s.CancelOrder with
// a CancelOrderRequest and answers an OrderResponse.
func MakeCancelOrderEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		o, err := s.CancelOrder(ctx, request.(CancelOrderRequest).ID)
		return OrderResponse{Order: o, Err: err}, nil
	}
}

// MakeRefundOrderEndpoint returns an endpoint that calls s.RefundOrder with
// a RefundOrderRequest and answers an OrderResponse.
func MakeRefundOrderEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		o, err := s.RefundOrder(ctx, request.(RefundOrderRequest).ID)
		return OrderResponse{Order: o, Err: err}, nil
	}
}

// PlaceOrderRequest asks to place an order (Service.PlaceOrder): the items,
// and the idempotency key that makes a retry return the first order (see
// NewOrder.IdempotencyKey). A transport may carry the key apart from the
// items, as its own metadata.
type PlaceOrderRequest struct {
	Items          []Item `json:"items"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// GetOrderRequest names one order (Service.GetOrder).
type GetOrderRequest struct {
	ID string `json:"id"`
}

// ListOrdersRequest asks for one page of orders (Service.ListOrders); its
// fields are shop.PageRequest's, "limit" and "cursor".
type ListOrdersRequest struct {
	shop.PageRequest
}

// PayOrderRequest asks to pay an order with a card (Service.PayOrder).
type PayOrderRequest struct {
	ID         string `json:"id"`
	CardNumber string `json:"card_number"`
}

// CancelOrderRequest names the order to cancel (Service.CancelOrder).
type CancelOrderRequest struct {
	ID string `json:"id"`
}

// RefundOrderRequest names the order to refund (Service.RefundOrder).
type RefundOrderRequest struct {
	ID string `json:"id"`
}

// OrderResponse carries one order, or the business error that prevented
// it. It marshals to the Order object itself.
type OrderResponse struct {
	Order
	Err error `json:"-"`
}

// Failed implements endpoint.Failer.
func (r OrderResponse) Failed() error { return r.Err }

// ListOrdersResponse carries one page of orders ("items", "next_cursor"),
// or the business error that prevented it.
type ListOrdersResponse struct {
	shop.Page[Order]
	Err error `json:"-"`
}

// Failed implements endpoint.Failer.
func (r ListOrdersResponse) Failed() error { return r.Err }

var (
	_ endpoint.Failer = OrderResponse{}
	_ endpoint.Failer = ListOrdersResponse{}
	_ Service         = Endpoints{}
)

// PlaceOrder implements Service by calling the endpoint.
func (e Endpoints) PlaceOrder(ctx context.Context, o NewOrder) (Order, error) {
	return orderResult(e.PlaceOrderEndpoint(ctx, PlaceOrderRequest(o)))
}

// GetOrder implements Service by calling the endpoint.
func (e Endpoints) GetOrder(ctx context.Context, id string) (Order, error) {
	return orderResult(e.GetOrderEndpoint(ctx, GetOrderRequest{ID: id}))
}

// ListOrders implements Service by calling the endpoint.
func (e Endpoints) ListOrders(ctx context.Context, p shop.PageRequest) (shop.Page[Order], error) {
	r, err := unpack.Response[ListOrdersResponse](e.ListOrdersEndpoint(ctx, ListOrdersRequest{p}))
	return r.Page, err
}

// PayOrder implements Service by calling the endpoint.
func (e Endpoints) PayOrder(ctx context.Context, id, cardNumber string) (Order, error) {
	return orderResult(e.PayOrderEndpoint(ctx, PayOrderRequest{ID: id, CardNumber: cardNumber}))
}

// CancelOrder implements Service by calling the endpoint.
func (e Endpoints) CancelOrder(ctx context.Context, id string) (Order, error) {
	return orderResult(e.CancelOrderEndpoint(ctx, CancelOrderRequest{ID: id}))
}

// RefundOrder implements Service by calling the endpoint.
func (e Endpoints) RefundOrder(ctx context.Context, id string) (Order, error) {
	return orderResult(e.RefundOrderEndpoint(ctx, RefundOrderRequest{ID: id}))
}

func orderResult(resp any, err error) (Order, error) {
	r, err := unpack.Response[OrderResponse](resp, err)
	return r.Order, err
}
