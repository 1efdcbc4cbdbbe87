// Package inventory keeps the stock of every product and the reservations that
// orders hold on it, so that concurrent buyers never oversell.
package inventory

import (
	"context"
	"time"
)

// Service is the stock keeper. A local value (NewService) and a remote HTTP
// client (MakeClientEndpoints) both implement it.
type Service interface {
	// GetStock returns a product's stock, or ErrNotFound "stock_not_found" when
	// no stock was ever recorded for it. Anyone may read stock.
	GetStock(ctx context.Context, productID string) (Stock, error)
	// AddStock adds quantity (> 0) units on hand (admin).
	AddStock(ctx context.Context, productID string, quantity int64) (Stock, error)
	// RemoveStock takes quantity (> 0) units off hand (admin); going below what
	// is reserved is ErrConflict "insufficient_stock".
	RemoveStock(ctx context.Context, productID string, quantity int64) (Stock, error)

	// Reserve holds stock for all lines of an order, or for none: a line that
	// cannot be served is ErrConflict "insufficient_stock" naming the product.
	// It is idempotent by order ID: a repeat returns the existing reservation.
	// A reservation never committed is released after expiresAt. Service role only.
	Reserve(ctx context.Context, orderID string, lines []Line, expiresAt time.Time) (Reservation, error)
	// Commit turns a held reservation into a sale (the units leave on_hand).
	// Committing a committed reservation returns it unchanged. Service role only.
	Commit(ctx context.Context, orderID string) (Reservation, error)
	// Release returns a held reservation's units to available. Releasing a
	// released or expired reservation returns it unchanged; releasing a
	// committed one is ErrConflict. Service role only.
	Release(ctx context.Context, orderID string) (Reservation, error)
}

// Stock is a product's stock. Available = OnHand - Reserved, never below 0.
type Stock struct {
	ProductID string `json:"product_id"`
	OnHand    int64  `json:"on_hand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
}

// Line is a quantity of one product.
type Line struct {
	ProductID string `json:"product_id"`
	Quantity  int64  `json:"quantity"`
}

// ReservationStatus is where a reservation is in its life.
type ReservationStatus string

// Reservation statuses: held until committed (sold), released (returned) or
// expired (returned because nobody committed it in time).
const (
	ReservationHeld      ReservationStatus = "held"
	ReservationCommitted ReservationStatus = "committed"
	ReservationReleased  ReservationStatus = "released"
	ReservationExpired   ReservationStatus = "expired"
)

// Reservation is stock held for one order.
type Reservation struct {
	OrderID   string            `json:"order_id"`
	Status    ReservationStatus `json:"status"`
	Lines     []Line            `json:"lines"`
	CreatedAt time.Time         `json:"created_at"`
	ExpiresAt time.Time         `json:"expires_at"`
}
