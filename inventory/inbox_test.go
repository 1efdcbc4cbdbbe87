package inventory

import (
	"context"
	"sync"
	"testing"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inbox"
	"github.com/kitshop/shop/transport/inproc"
)

// Concurrent and late copies of an event change nothing, and the inbox,
// not only the reservation's state, recognises them.
func TestInboxAppliesEachEventOnce(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 10)
	if _, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 3}}, f.expires()); err != nil {
		t.Fatal(err)
	}
	ib := f.store.Inbox(inbox.Attempts(1))
	bus := inproc.NewBus()
	if err := ib.Subscribe(bus, EventHandlers(f.svc, &logRecorder{})); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	paid := orderEvent(t, shop.EventOrderPaid, "o1")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := bus.Publish(ctx, paid); err != nil {
				t.Errorf("order.paid: %v", err)
			}
		})
	}
	wg.Wait()
	wantStock(t, f.svc, "p1", 7, 0)
	if ok, err := ib.Handled(ctx, paid.ID); err != nil || !ok {
		t.Fatalf("Handled(order.paid) = %v, %v", ok, err)
	}

	refunded := orderEvent(t, shop.EventOrderRefunded, "o1")
	if err := bus.Publish(ctx, refunded); err != nil {
		t.Fatal(err)
	}
	wantStock(t, f.svc, "p1", 10, 0)
	// A late copy of the first order.paid: already handled, so nothing.
	if err := bus.Publish(ctx, paid); err != nil {
		t.Fatal(err)
	}
	wantStock(t, f.svc, "p1", 10, 0)
	if n, _ := ib.Parked(ctx); n != 0 {
		t.Errorf("parked = %d, want 0", n)
	}

	// An event that cannot apply is parked, listed, and not retried.
	unknown := orderEvent(t, shop.EventOrderPaid, "nobody")
	if err := bus.Publish(ctx, unknown); err != nil {
		t.Fatal(err)
	}
	dead, err := ib.DeadLetters(ctx, 10)
	if err != nil || len(dead) != 1 || dead[0].Event.ID != unknown.ID || dead[0].Consumer != Consumer {
		t.Fatalf("dead letters = %+v, %v; want the event for the unknown order", dead, err)
	}
}
