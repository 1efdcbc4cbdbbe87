package inventory

import (
	"context"
	"encoding/json"
	"errors"

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
// The handlers call s as the service identity "inventory". A handler returns
// nil when redelivery cannot help (malformed data, no reservation, a
// conflicting state), logging why, and the error otherwise, so the event
// comes again later. Because Commit and Release are idempotent, a repeated
// event changes nothing.
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
			level.Warn(logger).Log("event", e.Type, "event_id", e.ID, "msg", "dropping event without an order_id in its data", "err", err)
			return nil
		}
		ctx = shop.WithIdentity(ctx, shop.Identity{UserID: "inventory", Role: shop.RoleService})
		err := apply(ctx, data.OrderID)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, shop.ErrNotFound), errors.Is(err, shop.ErrConflict), errors.Is(err, shop.ErrInvalid):
			level.Warn(logger).Log("event", e.Type, "event_id", e.ID, "order_id", data.OrderID,
				"msg", "event cannot be applied; not retrying", "code", shop.CodeOf(err), "err", err)
			return nil
		default:
			return err
		}
	}
}
