package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/kitshop/shop"
)

// EventHandlers returns the handlers of the order events the inventory
// consumes, keyed by event type, ready to pass to a shop.Subscriber:
//
//	shop.EventOrderPaid       -> Commit (the held units are sold)
//	shop.EventOrderCancelled  -> Release (the held units return to stock)
//	shop.EventOrderExpired    -> Release
//	shop.EventOrderRefunded   -> Return (the sold units go back on hand)
//
// The handlers call s as the service identity "inventory". When trying
// again cannot help (malformed data, no reservation, a conflicting state
// such as a payment for a reservation that already expired) a handler
// returns an error wrapping shop.ErrDeadLetter, so the event is parked for
// an operator instead of retried; any other error asks for the event again
// later. Wrap the handlers with the store's inbox (SQLiteStore.Inbox) so a
// redelivered event changes nothing; Commit, Release and Return are also
// idempotent on their own.
func EventHandlers(s Service, logger log.Logger) map[string]shop.Handler {
	commit := func(ctx context.Context, orderID string) error {
		_, err := s.Commit(ctx, orderID)
		return err
	}
	release := func(ctx context.Context, orderID string) error {
		_, err := s.Release(ctx, orderID)
		return err
	}
	giveBack := func(ctx context.Context, orderID string) error {
		_, err := s.Return(ctx, orderID)
		return err
	}
	return map[string]shop.Handler{
		shop.EventOrderRefunded:  orderEventHandler(giveBack, logger),
		shop.EventOrderPaid:      orderEventHandler(commit, logger),
		shop.EventOrderCancelled: orderEventHandler(release, logger),
		shop.EventOrderExpired:   orderEventHandler(release, logger),
	}
}

func orderEventHandler(apply func(ctx context.Context, orderID string) error, logger log.Logger) shop.Handler {
	return func(ctx context.Context, e shop.Event) error {
		var data shop.OrderEventData
		if err := json.Unmarshal(e.Data, &data); err != nil || data.OrderID == "" {
			level.Warn(logger).Log("event", e.Type, "event_id", e.ID, "msg", "event without an order_id in its data; parking it", "err", err)
			return fmt.Errorf("%w: %s event %s has no order_id in its data (%v)", shop.ErrDeadLetter, e.Type, e.ID, err)
		}
		ctx = shop.WithIdentity(ctx, shop.Identity{UserID: "inventory", Role: shop.RoleService})
		err := apply(ctx, data.OrderID)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, shop.ErrNotFound), errors.Is(err, shop.ErrConflict), errors.Is(err, shop.ErrInvalid):
			level.Warn(logger).Log("event", e.Type, "event_id", e.ID, "order_id", data.OrderID,
				"msg", "event cannot be applied; parking it", "code", shop.CodeOf(err), "err", err)
			return fmt.Errorf("%w: %s of order %s cannot be applied: %w", shop.ErrDeadLetter, e.Type, data.OrderID, err)
		default:
			return err
		}
	}
}

// ConsumedEvents returns the event types the inventory consumes, sorted:
// the keys of EventHandlers, for binding its queue or subscribing it to
// pushes.
func ConsumedEvents() []string {
	return slices.Sorted(maps.Keys(EventHandlers(nil, log.NewNopLogger())))
}
