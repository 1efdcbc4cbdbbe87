package order_test

import (
	"context"
	"testing"
	"time"

	"github.com/kitshop/shop/order"
)

// The figures behind the operators' gauges: orders by status, the
// inventory's held reservations and units, and the outbox backlog.
func TestOperationsFigures(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mug := f.product("MUG-1", 500, "USD", 10)
	place := func(qty int64) order.Order {
		o, err := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{ProductID: mug, Quantity: qty}}})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	before := time.Now()
	place(2)
	cancelled := place(3)
	if _, err := f.orders.CancelOrder(asAlice, cancelled.ID); err != nil {
		t.Fatal(err)
	}

	counts, err := f.store.CountByStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[order.StatusPending] != 1 || counts[order.StatusCancelled] != 1 || len(counts) != 2 {
		t.Fatalf("orders by status = %v, want 1 pending and 1 cancelled", counts)
	}
	// The cancellation's release waits in the order outbox: both orders
	// still hold their units.
	held, units, err := f.invStore.Held(ctx)
	if err != nil || held != 2 || units != 5 {
		t.Fatalf("held = %d reservations, %d units, %v; want 2 and 5", held, units, err)
	}
	pending, oldest, err := f.store.OutboxBacklog(ctx)
	if err != nil || pending != 3 || oldest.Before(before.Add(-time.Second)) || oldest.After(time.Now()) {
		t.Fatalf("backlog = %d, oldest %v, %v; want 3 (two order.created, one order.cancelled) from this test", pending, oldest, err)
	}
	f.deliver()
	if pending, oldest, err = f.store.OutboxBacklog(ctx); err != nil || pending != 0 || !oldest.IsZero() {
		t.Fatalf("backlog after delivery = %d, oldest %v, %v; want none", pending, oldest, err)
	}
	if held, units, err = f.invStore.Held(ctx); err != nil || held != 1 || units != 2 {
		t.Fatalf("held after the release = %d reservations, %d units, %v; want 1 and 2", held, units, err)
	}
}
