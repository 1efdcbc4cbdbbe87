package order_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/order"
)

// wantCreated fails unless e is the order.created event of o.
func wantCreated(t *testing.T, e shop.Event, o order.Order) {
	t.Helper()
	if e.Type != shop.EventOrderCreated || e.Source != order.EventSource || e.Subject != o.ID ||
		e.SpecVersion != "1.0" || e.ID == "" || e.Time.IsZero() || e.DataType != "application/json" {
		t.Fatalf("event %+v, want an order.created of %s from %s", e, o.ID, order.EventSource)
	}
	var data shop.OrderEventData
	if err := json.Unmarshal(e.Data, &data); err != nil {
		t.Fatalf("event data %s: %v", e.Data, err)
	}
	want := shop.OrderEventData{OrderID: o.ID, UserID: o.UserID, Status: "pending",
		Total: shop.Money{Amount: o.Total, Currency: o.Currency}}
	for _, l := range o.Lines {
		want.Lines = append(want.Lines, shop.OrderLineData{ProductID: l.ProductID, Quantity: l.Quantity, UnitPrice: l.UnitPrice})
	}
	if data.OrderID != want.OrderID || data.UserID != want.UserID || data.Status != want.Status ||
		data.Total != want.Total || !slices.Equal(data.Lines, want.Lines) || len(want.Lines) == 0 {
		t.Fatalf("event data %+v, want %+v", data, want)
	}
}

// Create records order.created with the order's lines and total, in the
// same transaction: nothing when it stores nothing. The Transition events
// follow it unchanged.
func TestCreateRecordsOrderCreated(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "order.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := order.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	st := order.NewSQLiteStore(db)
	defer st.Close()

	now := time.Now().UTC().Round(0)
	o := order.Order{ID: shop.NewID(), UserID: "alice", Status: order.StatusPending,
		Lines: []order.Line{{ProductID: "p1", Name: "Mug", UnitPrice: 400, Quantity: 2}, {ProductID: "p2", Name: "Cup", UnitPrice: 150, Quantity: 1}},
		Total: 950, Currency: "EUR", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		History: []order.StatusChange{{To: order.StatusPending, By: "alice", At: now}}}
	if err := st.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	added := testkit.NewOutboxLog(db)
	events := added.Next(t)
	if len(events) != 1 {
		t.Fatalf("%d events after Create, want 1", len(events))
	}
	wantCreated(t, events[0], o)

	// A taken ID, or an order without its one history entry: nothing.
	if err := st.Create(ctx, o); err == nil {
		t.Fatal("a second order with one ID was stored")
	}
	bad := o
	bad.ID, bad.History = shop.NewID(), nil
	if err := st.Create(ctx, bad); err == nil {
		t.Fatal("an order without history was stored")
	}
	if events := added.Next(t); len(events) != 0 {
		t.Fatalf("%d more events after failed creates, want none: %s", len(events), testkit.EventsString(events))
	}

	// Transition's events come after it, as EventFor makes them.
	if _, err := st.Transition(ctx, o.ID, order.Step{To: order.StatusCancelled, By: "alice", At: now}); err != nil {
		t.Fatal(err)
	}
	events = added.Next(t)
	if len(events) != 1 || events[0].Type != shop.EventOrderCancelled || events[0].Subject != o.ID {
		t.Fatalf("events after cancelling: %+v", events)
	}
	var data shop.OrderEventData
	if err := json.Unmarshal(events[0].Data, &data); err != nil || data.Status != string(order.StatusCancelled) || data.Lines != nil {
		t.Fatalf("order.cancelled data %s, %v", events[0].Data, err)
	}
	if n, err := st.PendingEvents(ctx); err != nil || n != 2 {
		t.Fatalf("PendingEvents = %d, %v, want 2", n, err)
	}
}

// Each order PlaceOrder stores is announced once, through the outbox and
// the bus: not a retry with the same idempotency key, nor an order that
// could not be placed.
func TestPlaceOrderIsAnnounced(t *testing.T) {
	f := newFixture(t)
	var rec testkit.Recorder
	if err := f.bus.Subscribe(shop.EventOrderCreated, rec.Handle); err != nil {
		t.Fatal(err)
	}
	mug, cup := f.product("EV-1", 400, "EUR", 5), f.product("EV-2", 150, "EUR", 1)
	req := order.NewOrder{Items: []order.Item{{ProductID: mug, Quantity: 2}, {ProductID: cup, Quantity: 1}}, IdempotencyKey: "ev-1"}
	o, err := f.orders.PlaceOrder(asAlice, req)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := f.orders.PlaceOrder(asAlice, req); err != nil || again.ID != o.ID {
		t.Fatalf("retry = %+v, %v, want the first order", again, err)
	}
	_, err = f.orders.PlaceOrder(asBob, order.NewOrder{Items: []order.Item{{ProductID: cup, Quantity: 1}}})
	if !errors.Is(err, shop.ErrConflict) {
		t.Fatalf("order beyond the stock: %v, want a conflict", err)
	}
	f.deliver()
	events := rec.Events()
	if len(events) != 1 {
		t.Fatalf("%d order.created events delivered, want 1", len(events))
	}
	wantCreated(t, events[0], o)
}
