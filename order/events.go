package order

import "github.com/kitshop/shop"

// EventSource is the CloudEvents source of the events the order desk emits.
const EventSource = "order"

// eventType is the event announcing that an order became status, and
// whether there is one. Steps into and out of paying announce nothing.
func eventType(status Status) (string, bool) {
	switch status {
	case StatusPaid:
		return shop.EventOrderPaid, true
	case StatusCancelled:
		return shop.EventOrderCancelled, true
	case StatusExpired:
		return shop.EventOrderExpired, true
	case StatusRefunded:
		return shop.EventOrderRefunded, true
	}
	return "", false
}

// EventFor returns the event announcing the status o has just taken, and
// whether that status has one: order.paid, order.cancelled, order.expired
// or order.refunded (shop.EventOrder...), with shop.OrderEventData as its
// data. Becoming pending or paying announces nothing.
//
// A Store calls it in Transition, on the order Step.Apply returned, and
// records the event in the same transaction as the change (see Store).
// Inventory consumes these events (inventory.EventHandlers): they sell,
// release or give back the order's units, so an event lost is stock lost.
func EventFor(o Order) (e shop.Event, ok bool, err error) {
	typ, ok := eventType(o.Status)
	if !ok {
		return shop.Event{}, false, nil
	}
	e, err = shop.NewEvent(EventSource, typ, o.ID, shop.OrderEventData{
		OrderID: o.ID, UserID: o.UserID, Status: string(o.Status), Total: shop.Money{Amount: o.Total, Currency: o.Currency}})
	if err != nil {
		return shop.Event{}, false, err
	}
	return e, true, nil
}
