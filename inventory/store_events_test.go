package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/outbox"
	"github.com/kitshop/shop/internal/sqlitedb"
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

// outboxLog reads a store's outbox rows in the order they were added, each
// once: next returns those added since its last call.
type outboxLog struct {
	db  *sqlitedb.DB
	seq int64
}

func (l *outboxLog) next(t *testing.T) []shop.Event {
	t.Helper()
	rows, err := l.db.R.Query(`SELECT seq, event FROM outbox WHERE seq > ? ORDER BY seq`, l.seq)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	defer rows.Close()
	var events []shop.Event
	for rows.Next() {
		var raw []byte
		var e shop.Event
		if err := rows.Scan(&l.seq, &raw); err != nil {
			t.Fatalf("read outbox: %v", err)
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("decode outbox event: %v", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	return events
}

// want fails unless the events added since the last call are exactly want,
// in that order; after says what they should follow.
func (l *outboxLog) want(t *testing.T, after string, want ...stockEvent) {
	t.Helper()
	checkStockEvents(t, after, l.next(t), want...)
}

func checkStockEvents(t *testing.T, after string, got []shop.Event, want ...stockEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("after %s: %d events %s, want %d", after, len(got), eventsString(got), len(want))
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

func eventsString(events []shop.Event) string {
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = fmt.Sprintf("%s %s %s", e.Type, e.Subject, e.Data)
	}
	return fmt.Sprint(s)
}

// wantEvents fails unless st's outbox holds exactly want, in that order.
func wantEvents(t *testing.T, st *SQLiteStore, want ...stockEvent) {
	t.Helper()
	(&outboxLog{db: st.db}).want(t, "the changes", want...)
}

// AddStock and RemoveStock record one event each with the stock after, and
// nothing when they fail.
func TestStoreEventsOfStock(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	events := &outboxLog{db: st.db}
	now := time.Now().UTC()

	if _, err := st.AddStock(ctx, "p1", 10, now); err != nil {
		t.Fatal(err)
	}
	events.want(t, "adding new stock", stockEvent{"p1", 10, 0, "added", ""})
	if _, err := st.AddStock(ctx, "p1", 5, now); err != nil {
		t.Fatal(err)
	}
	events.want(t, "adding more", stockEvent{"p1", 15, 0, "added", ""})
	if _, err := st.RemoveStock(ctx, "p1", 3, now); err != nil {
		t.Fatal(err)
	}
	events.want(t, "removing", stockEvent{"p1", 12, 0, "reduced", ""})

	_, err := st.RemoveStock(ctx, "p1", 13, now)
	wantErr(t, err, shop.ErrConflict, CodeInsufficientStock)
	_, err = st.RemoveStock(ctx, "nope", 1, now)
	wantErr(t, err, shop.ErrNotFound, CodeStockNotFound)
	events.want(t, "failed removals")

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
	events := &outboxLog{db: st.db}
	events.next(t)
	reserve := func(orderID string, expires time.Time, lines ...Line) error {
		_, _, err := st.Reserve(ctx, Reservation{OrderID: orderID, Lines: lines, CreatedAt: now, ExpiresAt: expires})
		return err
	}
	later := now.Add(time.Hour)

	// Reserve: one event per line, in the order of the lines.
	if err := reserve("o1", later, Line{"p2", 2}, Line{"p1", 3}); err != nil {
		t.Fatal(err)
	}
	events.want(t, "reserving", stockEvent{"p2", 5, 2, "reserved", "o1"}, stockEvent{"p1", 10, 3, "reserved", "o1"})
	if err := reserve("o1", later, Line{"p2", 2}, Line{"p1", 3}); err != nil {
		t.Fatal(err)
	}
	events.want(t, "reserving again")
	// The first line fits, the second does not: nothing is kept.
	wantErr(t, reserve("o2", later, Line{"p1", 1}, Line{"p2", 4}), shop.ErrConflict, CodeInsufficientStock)
	wantErr(t, reserve("o2", later, Line{"nope", 1}), shop.ErrConflict, CodeInsufficientStock)
	events.want(t, "failed reservations")

	// Commit of a held reservation: the units leave reserved and on hand.
	if _, err := st.Commit(ctx, "o1", now); err != nil {
		t.Fatal(err)
	}
	events.want(t, "committing", stockEvent{"p2", 3, 0, "sold", "o1"}, stockEvent{"p1", 7, 0, "sold", "o1"})
	if _, err := st.Commit(ctx, "o1", now); err != nil {
		t.Fatal(err)
	}
	_, err := st.Release(ctx, "o1", now)
	wantErr(t, err, shop.ErrConflict, CodeReservationCommitted)
	_, err = st.Commit(ctx, "nope", now)
	wantErr(t, err, shop.ErrNotFound, CodeReservationNotFound)
	events.want(t, "committing again, releasing a sold reservation and committing an unknown one")

	// Return: the sold units go back on hand.
	if _, err := st.Return(ctx, "o1", now); err != nil {
		t.Fatal(err)
	}
	events.want(t, "returning", stockEvent{"p2", 5, 0, "returned", "o1"}, stockEvent{"p1", 10, 0, "returned", "o1"})
	if _, err := st.Return(ctx, "o1", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, "o1", now); err != nil {
		t.Fatal(err)
	}
	events.want(t, "returning again and committing a returned reservation")

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
	events.want(t, "reserving, returning a held reservation and releasing twice",
		stockEvent{"p1", 10, 4, "reserved", "o3"}, stockEvent{"p1", 10, 0, "released", "o3"})
	if _, err := st.Commit(ctx, "o3", now); err != nil {
		t.Fatal(err)
	}
	events.want(t, "committing a released reservation", stockEvent{"p1", 6, 0, "sold", "o3"})

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
	events.next(t)
	_, err = st.Commit(ctx, "o4", now)
	wantErr(t, err, shop.ErrConflict, CodeReservationReleased)
	events.want(t, "committing a released reservation without stock")

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
	events.next(t)
	if n, err := st.ExpireHeld(ctx, now.Add(time.Minute), 10); err != nil || n != 2 {
		t.Fatalf("ExpireHeld = %d, %v, want 2", n, err)
	}
	events.want(t, "expiring",
		stockEvent{"p1", 6, 3, "expired", "o5"}, stockEvent{"p2", 4, 0, "expired", "o5"},
		stockEvent{"p1", 6, 1, "expired", "o6"})
	if n, err := st.ExpireHeld(ctx, now.Add(time.Minute), 10); err != nil || n != 0 {
		t.Fatalf("second ExpireHeld = %d, %v, want 0", n, err)
	}
	events.want(t, "expiring with nothing due")
}

// RunOutbox publishes the recorded events to a bus, each product's in the
// order they were recorded, until none is pending.
func TestStoreOutboxPublishes(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	now := time.Now().UTC()
	var (
		mu  sync.Mutex
		got []shop.Event
	)
	bus := inproc.NewBus()
	if err := bus.Subscribe(shop.EventStockChanged, func(_ context.Context, e shop.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	received := func() []shop.Event {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
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

	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := st.PendingEvents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && len(received()) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events pending, %d received after 20s", n, len(received()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Different products' events may interleave; each product's keep their order.
	var p1, p2 []shop.Event
	for _, e := range received() {
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
	wantOutboxSchema(t, newTestStore(t).db.R)
}

// wantOutboxSchema fails unless db's outbox table and indexes are those
// outbox.Schema creates.
func wantOutboxSchema(t *testing.T, db *sql.DB) {
	t.Helper()
	ref, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "ref.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if _, err := ref.Exec(outbox.Schema); err != nil {
		t.Fatal(err)
	}
	objects := func(db *sql.DB) []string {
		rows, err := db.Query(`SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master WHERE tbl_name = 'outbox' ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := objects(db), objects(ref); !slices.Equal(got, want) || len(want) != 2 { // the table and its subject index
		t.Fatalf("outbox of the migrations:\n%s\nwant outbox.Schema's:\n%s", got, want)
	}
}
