package order

import (
	"context"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/unpack"
)

// Endpoints collects the order service's endpoints. On the server side
// MakeServerEndpoints builds it from a Service; on the client side
// MakeClientEndpoints builds it from a remote address, and Endpoints then
// implements Service itself.
type Endpoints struct {
	PlaceOrderEndpoint  endpoint.Endpoint
	GetOrderEndpoint    endpoint.Endpoint
	ListOrdersEndpoint  endpoint.Endpoint
	PayOrderEndpoint    endpoint.Endpoint
	CancelOrderEndpoint endpoint.Endpoint
	RefundOrderEndpoint endpoint.Endpoint
}

// MakeServerEndpoints returns endpoints that call s.
func MakeServerEndpoints(s Service) Endpoints {
	return Endpoints{
		PlaceOrderEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(PlaceOrderRequest)
			o, err := s.PlaceOrder(ctx, NewOrder(req))
			return OrderResponse{Order: o, Err: err, Created: true}, nil
		},
		GetOrderEndpoint: func(ctx context.Context, request any) (any, error) {
			o, err := s.GetOrder(ctx, request.(GetOrderRequest).ID)
			return OrderResponse{Order: o, Err: err}, nil
		},
		ListOrdersEndpoint: func(ctx context.Context, request any) (any, error) {
			p, err := s.ListOrders(ctx, request.(ListOrdersRequest).PageRequest)
			return ListOrdersResponse{Page: p, Err: err}, nil
		},
		PayOrderEndpoint: func(ctx context.Context, request any) (any, error) {
			req := request.(PayOrderRequest)
			o, err := s.PayOrder(ctx, req.ID, req.CardNumber)
			return OrderResponse{Order: o, Err: err}, nil
		},
		CancelOrderEndpoint: func(ctx context.Context, request any) (any, error) {
			o, err := s.CancelOrder(ctx, request.(CancelOrderRequest).ID)
			return OrderResponse{Order: o, Err: err}, nil
		},
		RefundOrderEndpoint: func(ctx context.Context, request any) (any, error) {
			o, err := s.RefundOrder(ctx, request.(RefundOrderRequest).ID)
			return OrderResponse{Order: o, Err: err}, nil
		},
	}
}

// PlaceOrderRequest is the body of POST /orders; the idempotency key comes
// from the Idempotency-Key header.
type PlaceOrderRequest struct {
	Items          []Item `json:"items"`
	IdempotencyKey string `json:"-"`
}

// GetOrderRequest names one order.
type GetOrderRequest struct{ ID string }

// ListOrdersRequest asks for one page of orders.
type ListOrdersRequest struct{ shop.PageRequest }

// PayOrderRequest is POST /orders/{id}/pay.
type PayOrderRequest struct {
	ID         string `json:"-"`
	CardNumber string `json:"card_number"`
}

// CancelOrderRequest is POST /orders/{id}/cancel.
type CancelOrderRequest struct{ ID string }

// RefundOrderRequest is POST /orders/{id}/refund.
type RefundOrderRequest struct{ ID string }

// OrderResponse carries one order, or the business error that prevented it.
type OrderResponse struct {
	Order
	Err error `json:"-"`
	// Created makes the HTTP status 201 (a placed order).
	Created bool `json:"-"`
}

// Failed implements endpoint.Failer.
func (r OrderResponse) Failed() error { return r.Err }

// StatusCode is 201 for a placed order, 200 otherwise.
func (r OrderResponse) StatusCode() int {
	if r.Created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// ListOrdersResponse carries one page of orders.
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
