package shop

import "time"

// The event types the bundled services publish, each written through the
// outbox of the service that owns the change, in the same transaction as the
// change. EVENTS.md lists them with their data and who consumes them.
const (
	// EventUserRegistered: an account was created. Data: UserEventData.
	EventUserRegistered = "user.registered"

	// EventProductCreated: a product was added to the catalog. Data: ProductEventData.
	EventProductCreated = "product.created"
	// EventProductUpdated: a product's fields changed. Data: ProductEventData (the new fields).
	EventProductUpdated = "product.updated"
	// EventProductDeleted: a product was removed. Data: ProductEventData (its last fields).
	EventProductDeleted = "product.deleted"

	// EventStockChanged: a product's on-hand or reserved quantity changed. Data: StockEventData.
	EventStockChanged = "stock.changed"

	// EventOrderCreated: an order was placed and its stock reserved. Data: OrderEventData with Lines.
	EventOrderCreated = "order.created"
	// EventOrderPaid: an order was paid; its reserved stock is sold.
	EventOrderPaid = "order.paid"
	// EventOrderCancelled: an unpaid order was cancelled; its reservation returns to stock.
	EventOrderCancelled = "order.cancelled"
	// EventOrderExpired: an unpaid order ran out of time; its reservation returns to stock.
	EventOrderExpired = "order.expired"
	// EventOrderRefunded: a paid order was refunded; its sold units go back on hand.
	EventOrderRefunded = "order.refunded"
)

// UserEventData is the data of user.* events. It never holds a password or
// its hash.
type UserEventData struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// ProductEventData is the data of product.* events: the product as it is
// after the change (as it was, for product.deleted).
type ProductEventData struct {
	ProductID   string    `json:"product_id"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Price       Money     `json:"price"`
	Category    string    `json:"category"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// StockEventData is the data of stock.changed: the product's quantities
// after the change, and what changed them.
type StockEventData struct {
	ProductID string `json:"product_id"`
	OnHand    int64  `json:"on_hand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
	// Reason is what changed the stock: "added", "reduced", "reserved",
	// "sold", "released", "expired" or "returned".
	Reason string `json:"reason"`
	// OrderID is the order whose reservation changed the stock, if any.
	OrderID string `json:"order_id,omitempty"`
}

// OrderEventData is the data of the order.* events.
type OrderEventData struct {
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Status  string `json:"status"`
	Total   Money  `json:"total"`
	// Lines are the ordered quantities; order.created carries them, the
	// later events may leave them out.
	Lines []OrderLineData `json:"lines,omitempty"`
}

// OrderLineData is one line of an order event.
type OrderLineData struct {
	ProductID string `json:"product_id"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}
