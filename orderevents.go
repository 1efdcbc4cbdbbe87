package shop

// Event types that cross domain boundaries. The order service publishes
// them; inventory (and anyone else) subscribes.
const (
	// EventOrderPaid: an order was paid; its reserved stock is sold.
	EventOrderPaid = "order.paid"
	// EventOrderCancelled: an unpaid order was cancelled; its reservation returns to stock.
	EventOrderCancelled = "order.cancelled"
	// EventOrderExpired: an unpaid order ran out of time; its reservation returns to stock.
	EventOrderExpired = "order.expired"
	// EventOrderRefunded: a paid order was refunded; its sold units go back on hand.
	EventOrderRefunded = "order.refunded"
)

// OrderEventData is the data of the order.* events.
type OrderEventData struct {
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Status  string `json:"status"`
	Total   Money  `json:"total"`
}
