package inventory

import (
	"context"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/unpack"
)

// Endpoints holds one go-kit endpoint per Service method. On the server side
// MakeServerEndpoints builds it around a Service; on the client side
// MakeClientEndpoints builds it around HTTP calls, and Endpoints itself then
// implements Service, so a remote inventory is used like a local one.
type Endpoints struct {
	GetStockEndpoint    endpoint.Endpoint
	AddStockEndpoint    endpoint.Endpoint
	RemoveStockEndpoint endpoint.Endpoint
	ReserveEndpoint     endpoint.Endpoint
	CommitEndpoint      endpoint.Endpoint
	ReleaseEndpoint     endpoint.Endpoint
	ReturnEndpoint      endpoint.Endpoint
	ListHeldEndpoint    endpoint.Endpoint
}

var _ Service = Endpoints{}

// MakeServerEndpoints returns the endpoints serving s, each wrapped in mw
// (the first is the outermost), such as a circuit breaker or a rate limiter.
// Business errors travel in the responses (endpoint.Failer); the endpoints
// themselves fail only when a middleware makes them.
func MakeServerEndpoints(s Service, mw ...endpoint.Middleware) Endpoints {
	e := Endpoints{
		GetStockEndpoint:    MakeGetStockEndpoint(s),
		AddStockEndpoint:    MakeAddStockEndpoint(s),
		RemoveStockEndpoint: MakeRemoveStockEndpoint(s),
		ReserveEndpoint:     MakeReserveEndpoint(s),
		CommitEndpoint:      MakeCommitEndpoint(s),
		ReleaseEndpoint:     MakeReleaseEndpoint(s),
		ReturnEndpoint:      MakeReturnEndpoint(s),
		ListHeldEndpoint:    MakeListHeldEndpoint(s),
	}
	for i := len(mw) - 1; i >= 0; i-- {
		e = e.Wrap(mw[i])
	}
	return e
}

// Wrap returns e with every endpoint wrapped in mw, on the server side or
// the client side alike (a client-side breaker or retry, say).
func (e Endpoints) Wrap(mw endpoint.Middleware) Endpoints {
	return Endpoints{
		GetStockEndpoint:    mw(e.GetStockEndpoint),
		AddStockEndpoint:    mw(e.AddStockEndpoint),
		RemoveStockEndpoint: mw(e.RemoveStockEndpoint),
		ReserveEndpoint:     mw(e.ReserveEndpoint),
		CommitEndpoint:      mw(e.CommitEndpoint),
		ReleaseEndpoint:     mw(e.ReleaseEndpoint),
		ReturnEndpoint:      mw(e.ReturnEndpoint),
		ListHeldEndpoint:    mw(e.ListHeldEndpoint),
	}
}

// GetStockRequest asks for a product's stock.
type GetStockRequest struct {
	ProductID string `json:"product_id"`
}

// ChangeStockRequest adds or removes Quantity units of a product.
type ChangeStockRequest struct {
	ProductID string `json:"product_id"`
	Quantity  int64  `json:"quantity"`
}

// StockResponse is a product's stock, or the error that prevented reading or
// changing it. It marshals to the Stock fields.
type StockResponse struct {
	Stock
	Err error `json:"-"`
}

// Failed returns the business error, if any (endpoint.Failer).
func (r StockResponse) Failed() error { return r.Err }

// ReserveRequest asks to hold stock for the lines of an order until ExpiresAt.
type ReserveRequest struct {
	OrderID   string    `json:"order_id"`
	Lines     []Line    `json:"lines"`
	ExpiresAt time.Time `json:"expires_at"`
}

// OrderRequest names the order whose reservation to commit, release or return.
type OrderRequest struct {
	OrderID string `json:"order_id"`
}

// ReservationResponse is a reservation, or the error that prevented making
// or changing it. It marshals to the Reservation fields and "created".
// Created is true when a Reserve call made the reservation rather than
// finding it (false for every other call); it travels as a field so that
// every transport carries it (HTTP also answers 201 instead of 200).
type ReservationResponse struct {
	Reservation
	Created bool  `json:"created"`
	Err     error `json:"-"`
}

// Failed returns the business error, if any (endpoint.Failer).
func (r ReservationResponse) Failed() error { return r.Err }

// ListHeldRequest asks for a page of the reservations still held that were
// created before CreatedBefore. It marshals to created_before and the
// PageRequest fields (limit, cursor).
type ListHeldRequest struct {
	CreatedBefore time.Time `json:"created_before"`
	shop.PageRequest
}

// ReservationsResponse is a page of reservations, or the error that
// prevented listing them. It marshals to the Page fields (items,
// next_cursor).
type ReservationsResponse struct {
	shop.Page[Reservation]
	Err error `json:"-"`
}

// Failed returns the business error, if any (endpoint.Failer).
func (r ReservationsResponse) Failed() error { return r.Err }

var (
	_ endpoint.Failer = StockResponse{}
	_ endpoint.Failer = ReservationResponse{}
	_ endpoint.Failer = ReservationsResponse{}
)

// MakeGetStockEndpoint returns an endpoint for s.GetStock.
func MakeGetStockEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(GetStockRequest)
		st, err := s.GetStock(ctx, req.ProductID)
		return StockResponse{Stock: st, Err: err}, nil
	}
}

// MakeAddStockEndpoint returns an endpoint for s.AddStock.
func MakeAddStockEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ChangeStockRequest)
		st, err := s.AddStock(ctx, req.ProductID, req.Quantity)
		return StockResponse{Stock: st, Err: err}, nil
	}
}

// MakeRemoveStockEndpoint returns an endpoint for s.RemoveStock.
func MakeRemoveStockEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ChangeStockRequest)
		st, err := s.RemoveStock(ctx, req.ProductID, req.Quantity)
		return StockResponse{Stock: st, Err: err}, nil
	}
}

// MakeReserveEndpoint returns an endpoint for s.Reserve. Its response says
// whether the reservation was created by this call (Created).
func MakeReserveEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ReserveRequest)
		r, created, err := s.Reserve(ctx, req.OrderID, req.Lines, req.ExpiresAt)
		return ReservationResponse{Reservation: r, Created: created && err == nil, Err: err}, nil
	}
}

// MakeCommitEndpoint returns an endpoint for s.Commit.
func MakeCommitEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(OrderRequest)
		r, err := s.Commit(ctx, req.OrderID)
		return ReservationResponse{Reservation: r, Err: err}, nil
	}
}

// MakeReleaseEndpoint returns an endpoint for s.Release.
func MakeReleaseEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(OrderRequest)
		r, err := s.Release(ctx, req.OrderID)
		return ReservationResponse{Reservation: r, Err: err}, nil
	}
}

// MakeReturnEndpoint returns an endpoint for s.Return.
func MakeReturnEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(OrderRequest)
		r, err := s.Return(ctx, req.OrderID)
		return ReservationResponse{Reservation: r, Err: err}, nil
	}
}

// MakeListHeldEndpoint returns an endpoint for s.ListHeld.
func MakeListHeldEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ListHeldRequest)
		p, err := s.ListHeld(ctx, req.CreatedBefore, req.PageRequest)
		return ReservationsResponse{Page: p, Err: err}, nil
	}
}

// stockResult unpacks a StockResponse from an endpoint call.
func stockResult(response any, err error) (Stock, error) {
	r, err := unpack.Response[StockResponse](response, err)
	return r.Stock, err
}

// reservationResult unpacks a ReservationResponse from an endpoint call.
func reservationResult(response any, err error) (ReservationResponse, error) {
	return unpack.Response[ReservationResponse](response, err)
}

// GetStock implements Service by calling GetStockEndpoint.
func (e Endpoints) GetStock(ctx context.Context, productID string) (Stock, error) {
	return stockResult(e.GetStockEndpoint(ctx, GetStockRequest{ProductID: productID}))
}

// AddStock implements Service by calling AddStockEndpoint.
func (e Endpoints) AddStock(ctx context.Context, productID string, quantity int64) (Stock, error) {
	return stockResult(e.AddStockEndpoint(ctx, ChangeStockRequest{ProductID: productID, Quantity: quantity}))
}

// RemoveStock implements Service by calling RemoveStockEndpoint.
func (e Endpoints) RemoveStock(ctx context.Context, productID string, quantity int64) (Stock, error) {
	return stockResult(e.RemoveStockEndpoint(ctx, ChangeStockRequest{ProductID: productID, Quantity: quantity}))
}

// Reserve implements Service by calling ReserveEndpoint.
func (e Endpoints) Reserve(ctx context.Context, orderID string, lines []Line, expiresAt time.Time) (Reservation, bool, error) {
	resp, err := reservationResult(e.ReserveEndpoint(ctx, ReserveRequest{OrderID: orderID, Lines: lines, ExpiresAt: expiresAt}))
	if err != nil {
		return Reservation{}, false, err
	}
	return resp.Reservation, resp.Created, nil
}

// Commit implements Service by calling CommitEndpoint.
func (e Endpoints) Commit(ctx context.Context, orderID string) (Reservation, error) {
	resp, err := reservationResult(e.CommitEndpoint(ctx, OrderRequest{OrderID: orderID}))
	return resp.Reservation, err
}

// Release implements Service by calling ReleaseEndpoint.
func (e Endpoints) Release(ctx context.Context, orderID string) (Reservation, error) {
	resp, err := reservationResult(e.ReleaseEndpoint(ctx, OrderRequest{OrderID: orderID}))
	return resp.Reservation, err
}

// Return implements Service by calling ReturnEndpoint.
func (e Endpoints) Return(ctx context.Context, orderID string) (Reservation, error) {
	resp, err := reservationResult(e.ReturnEndpoint(ctx, OrderRequest{OrderID: orderID}))
	return resp.Reservation, err
}

// ListHeld implements Service by calling ListHeldEndpoint.
func (e Endpoints) ListHeld(ctx context.Context, createdBefore time.Time, p shop.PageRequest) (shop.Page[Reservation], error) {
	resp, err := unpack.Response[ReservationsResponse](e.ListHeldEndpoint(ctx, ListHeldRequest{CreatedBefore: createdBefore, PageRequest: p}))
	return resp.Page, err
}
