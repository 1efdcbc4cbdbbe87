package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/kitshop/shop"
)

func orderEvent(t *testing.T, typ, orderID string) shop.Event {
	t.Helper()
	e, err := shop.NewEvent("order", typ, orderID, shop.OrderEventData{OrderID: orderID, UserID: "u1", Status: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEventHandlers(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 10)
	for _, o := range []string{"paid", "cancelled", "expired"} {
		if _, _, err := f.svc.Reserve(serviceCtx, o, []Line{{"p1", 2}}, f.expires()); err != nil {
			t.Fatal(err)
		}
	}
	var logs logRecorder
	h := EventHandlers(f.svc, &logs)
	want := []string{shop.EventOrderCancelled, shop.EventOrderExpired, shop.EventOrderPaid, shop.EventOrderRefunded}
	if got := ConsumedEvents(); !slices.Equal(got, want) || len(h) != len(want) {
		t.Fatalf("ConsumedEvents = %v with %d handlers, want %v, one handler each", got, len(h), want)
	}
	// Events arrive without any identity; the handlers act as the service.
	ctx := context.Background()

	paid := orderEvent(t, shop.EventOrderPaid, "paid")
	for range 2 { // the second delivery changes nothing
		if err := h[shop.EventOrderPaid](ctx, paid); err != nil {
			t.Fatalf("order.paid: %v", err)
		}
		wantStock(t, f.svc, "p1", 8, 4)
	}
	cancelled := orderEvent(t, shop.EventOrderCancelled, "cancelled")
	for range 2 {
		if err := h[shop.EventOrderCancelled](ctx, cancelled); err != nil {
			t.Fatalf("order.cancelled: %v", err)
		}
		wantStock(t, f.svc, "p1", 8, 2)
	}
	if err := h[shop.EventOrderExpired](ctx, orderEvent(t, shop.EventOrderExpired, "expired")); err != nil {
		t.Fatalf("order.expired: %v", err)
	}
	wantStock(t, f.svc, "p1", 8, 0)
	r, err := f.svc.Release(serviceCtx, "expired")
	if err != nil || r.Status != ReservationReleased {
		t.Fatalf("reservation after order.expired = %+v, %v", r, err)
	}

	// A refund puts the sold units back on hand, once however often the
	// event comes, and a late repeat of order.paid does not sell them again.
	refunded := orderEvent(t, shop.EventOrderRefunded, "paid")
	for range 2 {
		if err := h[shop.EventOrderRefunded](ctx, refunded); err != nil {
			t.Fatalf("order.refunded: %v", err)
		}
		wantStock(t, f.svc, "p1", 10, 0)
	}
	if err := h[shop.EventOrderPaid](ctx, paid); err != nil {
		t.Fatalf("order.paid after the refund: %v", err)
	}
	wantStock(t, f.svc, "p1", 10, 0)
	if r, err := f.svc.Commit(serviceCtx, "paid"); err != nil || r.Status != ReservationReturned {
		t.Fatalf("reservation after order.refunded = %+v, %v", r, err)
	}

	// Events that can never apply are dead letters, parked for an
	// operator rather than retried, with a log line.
	if err := h[shop.EventOrderPaid](ctx, orderEvent(t, shop.EventOrderPaid, "unknown")); !errors.Is(err, shop.ErrDeadLetter) || !errors.Is(err, shop.ErrNotFound) {
		t.Fatalf("order.paid for an unknown order: %v, want a dead letter carrying the not-found cause", err)
	}
	if !logs.contains("code", CodeReservationNotFound) {
		t.Fatalf("no log line for the unknown order: %v", logs.lines())
	}
	if err := h[shop.EventOrderCancelled](ctx, orderEvent(t, shop.EventOrderCancelled, "paid")); !errors.Is(err, shop.ErrDeadLetter) {
		t.Fatalf("order.cancelled for a sold order: %v, want a dead letter", err)
	}
	if !logs.contains("code", CodeReservationCommitted) {
		t.Fatalf("no log line for the conflict: %v", logs.lines())
	}
	bad := paid
	bad.Data = json.RawMessage(`{"order_id":42}`)
	if err := h[shop.EventOrderPaid](ctx, bad); !errors.Is(err, shop.ErrDeadLetter) {
		t.Fatalf("malformed event: %v, want a dead letter", err)
	}
	wantStock(t, f.svc, "p1", 10, 0)
}

// failingService fails every Commit, Release and Return with err.
type failingService struct {
	Service
	err error
}

func (s failingService) Commit(context.Context, string) (Reservation, error) {
	return Reservation{}, s.err
}
func (s failingService) Release(context.Context, string) (Reservation, error) {
	return Reservation{}, s.err
}
func (s failingService) Return(context.Context, string) (Reservation, error) {
	return Reservation{}, s.err
}

func TestEventHandlersAskForRedelivery(t *testing.T) {
	down := shop.E(shop.ErrUnavailable, "", "database is busy")
	plain := errors.New("disk I/O error")
	for _, cause := range []error{down, plain} {
		h := EventHandlers(failingService{err: cause}, &logRecorder{})
		for typ, handle := range h {
			if err := handle(context.Background(), orderEvent(t, typ, "o1")); err != cause {
				t.Errorf("%s with %v: err = %v, want the cause back for redelivery", typ, cause, err)
			}
		}
	}
}
