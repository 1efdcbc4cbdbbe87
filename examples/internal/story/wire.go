package story

import "time"

// What the public API answers, as far as the story reads it.

type apiStock struct {
	ProductID string `json:"product_id"`
	OnHand    int64  `json:"on_hand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
}

type apiProduct struct {
	ID       string `json:"id"`
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	Price    int64  `json:"price"`
	Currency string `json:"currency"`
	Category string `json:"category"`
}

type apiProducts struct {
	Items      []apiProduct `json:"items"`
	NextCursor string       `json:"next_cursor"`
}

type apiLine struct {
	ProductID string `json:"product_id"`
	UnitPrice int64  `json:"unit_price"`
	Quantity  int64  `json:"quantity"`
}

type apiStep struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

type apiOrder struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Status    string    `json:"status"`
	Lines     []apiLine `json:"lines"`
	Total     int64     `json:"total"`
	Currency  string    `json:"currency"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	PaymentID string    `json:"payment_id"`
	RefundID  string    `json:"refund_id"`
	History   []apiStep `json:"history"`
}

type apiOrders struct {
	Items      []apiOrder `json:"items"`
	NextCursor string     `json:"next_cursor"`
}

// item is one line of an order the customer asks for.
type item struct {
	ProductID string `json:"product_id"`
	Quantity  int64  `json:"quantity"`
}

// The order statuses of the public API.
const (
	statusPending   = "pending"
	statusPaying    = "paying"
	statusPaid      = "paid"
	statusCancelled = "cancelled"
	statusExpired   = "expired"
	statusRefunded  = "refunded"
)

// transitions is the order life the README documents: pending -> paying |
// cancelled | expired; paying -> paid | pending; paid -> refunded.
var transitions = map[string][]string{
	statusPending: {statusPaying, statusCancelled, statusExpired},
	statusPaying:  {statusPaid, statusPending},
	statusPaid:    {statusRefunded},
}
