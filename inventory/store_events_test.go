package inventory

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/transport/inproc"
)

// stockEvent is what a test expects of one stock.changed event.
type stockEvent struct {
	product          string
	onHand, reserved int64
	reason, order    string
}

func (w stockEvent) data() shop.StockEventData {
	return shop.StockEventData{ProductID: w.product, OnHand: w.onHand, Reserved: w.reserved,
		Available: w.onHand - w.reserved, Reason: w.reason, OrderID: w.order}
}

// checkStockEvents fails unless got is exactly want, in that order; after
// says what the events should follow.
func checkStockEvents(t *testing.T, after string, got []shop.Event, want ...stockEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("after %s: %d events %s, want %d", after, len(got), testkit.EventsString(got), len(want))
	}
	for i, e := range got {
		if e.Type != shop.EventStockChanged || e.Source != EventSource || e.Subject != want[i].product ||
			e.SpecVersion != "1.0" || e.ID == "" || e.Time.IsZero() || e.DataType != "application/json" {
			t.Fatalf("after %s: event %d is %+v, want a stock.changed of %s from %s", after, i, e, want[i].product, EventSource)
		}
		var data shop.StockEventData
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatalf("after %s: event %d data %s: %v", after, i, e.Data, err)
		}
		if data != want[i].data() {
			t.Fatalf("after %s: event %d data %+v, want %+v", after, i, data, want[i].data())
		}
	}
}

// wantEvents fails unless st's outbox holds exactly want, in that order.
func wantEvents(t *testing.T, st *SQLiteStore, want ...stockEvent) {
	t.Helper()
	checkStockEvents(t, "the changes", testkit.NewOutboxLog(st.db.R).Next(t), want...)
}

// AddStock and RemoveStock record one event each with the stock after, and
// nothing when they fail.
func TestStoreEventsOfStock(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	events := testkit.NewOutboxLog(st.db.R)
	now := time.Now().UTC()

	if _, err := st.AddStock(ctx, "p1", 10, now); err != nil {
		t.Fatal(err)
	}
	checkStockEvents(t, "adding new stock", events.Next(t), stockEvent{"p1", 10, 0, "added", ""})
	if _, err := st.AddStock(ctx, "p1", 5, now); err != nil {
		t.Fatal(err)
	}
	checkStockEvents(t, "adding more", events.Next(t), stockEvent{"p1", 15, 0, "added", ""})
	if _, err := st.RemoveStock(ctx, "p1", 3, now); err != nil {
		t.Fatal(err)
	}
	checkStockEvents(t, "removing", events.Next(t), stockEvent{"p1", 12, 0, "reduced", ""})

	_, err := st.RemoveStock(ctx, "p1", 13, now)
	wantErr(t, err, shop.ErrConflict, CodeInsufficientStock)
	_, err = st.RemoveStock(ctx, "nope", 1, now)
	wantErr(t, err, shop.ErrNotFound, CodeStockNotFound)
	checkStockEvents(t, "failed removals", events.Next(t))

	if n, err := st.PendingEvents(ctx); err != nil || n != 3 {
		t.Fatalf("PendingEvents = %d, %v, want 3", n, err)
	}
}

// Every reservation step records one event per product it moved, with the
// order's ID, and nothing when it changes nothing or fails.
func TestStoreEventsOfReservations(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	now := time.Now().UTC()
	for p, q := range map[string]int64{"p1": 10, "p2": 5} {
		if _, err := st.AddStock(ctx, p, q, now); err != nil {
			t.Fatal(err)
		}
	}
	events := testkit.NewOutboxLog(st.db.R)
	events.Next(t)
	reserve := func(orderID string, expires time.Time, lines ...Line) error {
		_, _, err := st.Reserve(ctx, Reservation{OrderID: orderID, Lines: lines, CreatedAt: now, ExpiresAt: expires})
		return err
	}
	later := now.Add(time.Hour)

	// Reserve: one event per line, in the order of the lines.
	if err := reserve("o1", later, Line{"p2", 2}, Line{"p1", 3}); err != nil {
		t.Fatal(err)
	}
	checkStockEvents(t, "reserving", events.Next(t), stockEvent{"p2", 5, 2, "reserved", "o1"}, stockEvent{"p1", 10, 3, "reserved", "o1"})
	if err := reserve("o1", later, Line{"p2", 2}, Line{"p1", 3}); err != nil {
		t.Fatal(err)
	}
	checkStockEvents(t, "reserving again", events.Next(t))
	// The first line fits, the second does not: nothing is kept.
	wantErr(t, reserve("o2", later, Line{"p1", 1}, Line{"p2", 4}), shop.ErrConflict, CodeInsufficientStock)
	wantErr(t, reserve("o2", later, Line{"nope", 1}), shop.ErrConflict, CodeInsufficientStock)
	checkStockEvents(t, "failed reservations", events.Next(t))

	// Commit of a held reservation: the units leave reserved and on hand.
	if _, err := st.Commit(ctx, "o1", now); err != nil {
		t.Fatal(err)
	}
	checkStockEvents(t, "committing", events.Next(t), stockEvent{"p2", 3, 0, "sold", "o1"}, stockEvent{"p1", 7, 0, "sold", "o1"})
	if _, err := st.Commit(ctx, "o1", now); err != nil {
		t.Fatal(err)
	}
	_, err := st.Release(ctx, "o1", now)
	wantErr(t, err, shop.ErrConflict, CodeReservationCommitted)
	_, err = st.Commit(ctx, "nope", now)
	wantErr(t, err, shop.ErrNotFound, CodeReservationNotFound)
	checkStockEvents(t, "committing again, releasing a sold reservation and committing an unknown one", events.Next(t))

	// Return: the sold units go back on hand.
	if _, err := st.Return(ctx, "o1", now); err != nil {
		t.Fatal(err)
	}
	checkStockEvents(t, "returning", events.Next(t), stockEvent{"p2", 5, 0, "returned", "o1"}, stockEvent{"p1", 10, 0, "returned", "o1"})
	if _, err := st.Return(ctx, "o1", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, "o1", now); err != nil {
		t.Fatal(err)
	}
	checkStockEvents(t, "returning again and committing a returned reservation", events.Next(t))

	// Release, then a late Commit selling what is still available.
	if err := reserve("o3", later, Line{"p1", 4}); err != nil {
		t.Fatal(err)
	}
	_, err = st.Return(ctx, "o3", now)
	wantErr(t, err, shop.ErrConflict, CodeReservationNotCommitted)
	if _, err := st.Release(ctx, "o3", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Release(ctx, "o3", now); err != nil {
		t.Fatal(err)
	}
	checkStockEvents(t, "reserving, returning a held reservation and releasing twice", events.Next(t),
		stockEvent{"p1", 10, 4, "reserved", "o3"}, stockEvent{"p1", 10, 0, "released", "o3"})
	if _, err := st.Commit(ctx, "o3", now); err != nil {
		t.Fatal(err)
	}
	checkStockEvents(t, "committing a released reservation", events.Next(t), stockEvent{"p1", 6, 0, "sold", "o3"})

	// A released reservation whose units are gone cannot be sold.
	if err := reserve("o4", later, Line{"p2", 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Release(ctx, "o4", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RemoveStock(ctx, "p2", 1, now); err != nil {
		t.Fatal(err)
	}
	events.Next(t)
	_, err = st.Commit(ctx, "o4", now)
	wantErr(t, err, shop.ErrConflict, CodeReservationReleased)
	checkStockEvents(t, "committing a released reservation without stock", events.Next(t))

	// ExpireHeld: one event per line of every reservation it expires.
	if err := reserve("o5", now, Line{"p1", 1}, Line{"p2", 1}); err != nil {
		t.Fatal(err)
	}
	if err := reserve("o6", now.Add(time.Second), Line{"p1", 2}); err != nil {
		t.Fatal(err)
	}
	if err := reserve("o7", later, Line{"p1", 1}); err != nil {
		t.Fatal(err)
	}
	events.Next(t)
	if n, err := st.ExpireHeld(ctx, now.Add(time.Minute), 10); err != nil || n != 2 {
		t.Fatalf("ExpireHeld = %d, %v, want 2", n, err)
	}
	checkStockEvents(t, "expiring", events.Next(t),
		stockEvent{"p1", 6, 3, "expired", "o5"}, stockEvent{"p2", 4, 0, "expired", "o5"},
		stockEvent{"p1", 6, 1, "expired", "o6"})
	if n, err := st.ExpireHeld(ctx, now.Add(time.Minute), 10); err != nil || n != 0 {
		t.Fatalf("second ExpireHeld = %d, %v, want 0", n, err)
	}
	checkStockEvents(t, "expiring with nothing due", events.Next(t))
}

// RunOutbox publishes the recorded events to a bus, each product's in the
// order they were recorded, until none is pending.
func TestStoreOutboxPublishes(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	now := time.Now().UTC()
	var rec testkit.Recorder
	bus := inproc.NewBus()
	if err := bus.Subscribe(shop.EventStockChanged, rec.Handle); err != nil {
		t.Fatal(err)
	}

	// Recorded before the relay runs, and while it runs.
	if _, err := st.AddStock(ctx, "p1", 10, now); err != nil {
		t.Fatal(err)
	}
	relayCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { st.RunOutbox(relayCtx, bus, log.NewNopLogger()); close(done) }()
	defer func() { stop(); <-done }()
	if _, _, err := st.Reserve(ctx, Reservation{OrderID: "o1", Lines: []Line{{"p1", 4}, {"p2", 1}}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err == nil {
		t.Fatal("reserved a product without stock")
	}
	if _, err := st.AddStock(ctx, "p2", 1, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Reserve(ctx, Reservation{OrderID: "o1", Lines: []Line{{"p1", 4}, {"p2", 1}}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, "o1", now); err != nil {
		t.Fatal(err)
	}

	testkit.WaitRelayed(t, st.PendingEvents, &rec, 5)
	// Different products' events may interleave; each product's keep their order.
	var p1, p2 []shop.Event
	for _, e := range rec.Events() {
		if e.Subject == "p1" {
			p1 = append(p1, e)
		} else {
			p2 = append(p2, e)
		}
	}
	checkStockEvents(t, "publishing p1's", p1, stockEvent{"p1", 10, 0, "added", ""},
		stockEvent{"p1", 10, 4, "reserved", "o1"}, stockEvent{"p1", 6, 0, "sold", "o1"})
	checkStockEvents(t, "publishing p2's", p2, stockEvent{"p2", 1, 0, "added", ""},
		stockEvent{"p2", 1, 1, "reserved", "o1"}, stockEvent{"p2", 0, 0, "sold", "o1"})
}

// The outbox table of the migrations is outbox.Schema, to the letter.
func TestOutboxMigrationIsTheSchema(t *testing.T) {
	testkit.WantOutboxSchema(t, newTestStore(t).db.R)
}
