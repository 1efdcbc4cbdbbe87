package inbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inbox"
	"github.com/kitshop/shop/internal/sqlitedb"
	"github.com/prometheus/client_golang/prometheus"
)

// The consumer's database: the inbox tables beside a table the handlers
// change, the way a service's store keeps them.
var migrations = fstest.MapFS{
	"0001_effects.sql": {Data: []byte(`CREATE TABLE effects (name TEXT PRIMARY KEY, n INTEGER NOT NULL);`)},
	"0002_inbox.sql":   {Data: []byte(inbox.Schema)},
}

func openDB(t *testing.T) *sqlitedb.DB {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), filepath.Join(t.TempDir(), "consumer.db"), migrations)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newInbox(db *sqlitedb.DB, opts ...inbox.Option) *inbox.Inbox {
	opts = append([]inbox.Option{inbox.Backoff(time.Millisecond, 4*time.Millisecond), inbox.ReadFrom(db.R)}, opts...)
	return inbox.New(db.W, "test", opts...)
}

// bump is a handler's effect: one more on the counter name, in a store
// transaction.
func bump(ctx context.Context, db *sqlitedb.DB, name string) error {
	return db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO effects(name, n) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1`, name)
		return err
	})
}

func count(t *testing.T, db *sqlitedb.DB, name string) int {
	t.Helper()
	var n int
	err := db.R.QueryRow(`SELECT n FROM effects WHERE name = ?`, name).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func event(t *testing.T, subject string) shop.Event {
	t.Helper()
	e, err := shop.NewEvent("order", shop.EventOrderPaid, subject, shop.OrderEventData{OrderID: subject})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRedeliveredEventChangesNothing(t *testing.T) {
	db := openDB(t)
	ib := newInbox(db)
	var calls atomic.Int32
	h := ib.Handle(shop.EventOrderPaid, func(ctx context.Context, e shop.Event) error {
		calls.Add(1)
		return bump(ctx, db, e.Subject)
	})
	e := event(t, "o1")
	for range 3 {
		if err := h(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if got := count(t, db, "o1"); got != 1 {
		t.Errorf("effect applied %d times, want 1", got)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("handler called %d times, want 1: later deliveries are skipped before it runs", got)
	}
	if ok, err := ib.Handled(context.Background(), e.ID); err != nil || !ok {
		t.Errorf("Handled = %v, %v; want true", ok, err)
	}
}

func TestConcurrentDeliveriesApplyOnce(t *testing.T) {
	db := openDB(t)
	ib := newInbox(db)
	// Every delivery gets past the "handled already?" check before any
	// commits: only the transaction's record can stop the doubles.
	var start sync.WaitGroup
	start.Add(8)
	h := ib.Handle(shop.EventOrderPaid, func(ctx context.Context, e shop.Event) error {
		start.Done()
		start.Wait()
		return bump(ctx, db, e.Subject)
	})
	e := event(t, "o1")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- h(context.Background(), e) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("delivery: %v", err)
		}
	}
	if got := count(t, db, "o1"); got != 1 {
		t.Errorf("effect applied %d times by 8 concurrent deliveries, want 1", got)
	}
}

func TestHandlerWithoutTransactionIsMarkedAfterwards(t *testing.T) {
	db := openDB(t)
	ib := newInbox(db)
	var calls atomic.Int32
	h := ib.Handle(shop.EventOrderPaid, func(context.Context, shop.Event) error { calls.Add(1); return nil })
	e := event(t, "o1")
	for range 2 {
		if err := h(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("handler called %d times, want 1", got)
	}
}

func TestFailedTransactionLeavesNoMark(t *testing.T) {
	db := openDB(t)
	ib := newInbox(db)
	var calls atomic.Int32
	h := ib.Handle(shop.EventOrderPaid, func(ctx context.Context, e shop.Event) error {
		n := calls.Add(1)
		return db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO effects(name, n) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1`, e.Subject); err != nil {
				return err
			}
			if n < 3 {
				return errors.New("stock table locked") // undoes the effect and the mark
			}
			return nil
		})
	})
	e := event(t, "o1")
	if err := h(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("handler called %d times, want 3 (two failures, then success)", got)
	}
	if got := count(t, db, "o1"); got != 1 {
		t.Errorf("effect applied %d times, want 1", got)
	}
}

func TestFailingEventIsParkedAndReplayedAfterTheFix(t *testing.T) {
	db := openDB(t)
	ib := newInbox(db, inbox.Attempts(3))
	var broken atomic.Bool
	broken.Store(true)
	var calls atomic.Int32
	h := ib.Handle(shop.EventOrderPaid, func(ctx context.Context, e shop.Event) error {
		calls.Add(1)
		if broken.Load() {
			return errors.New("price table missing")
		}
		return bump(ctx, db, e.Subject)
	})
	e := event(t, "o1")
	if err := h(context.Background(), e); err != nil {
		t.Fatalf("handler = %v; a parked event is taken off the transport's hands", err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("tried %d times, want 3", got)
	}
	dead, err := ib.DeadLetters(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Event.ID != e.ID || dead[0].Event.Subject != "o1" || string(dead[0].Event.Data) != string(e.Data) ||
		dead[0].Attempts != 3 || dead[0].Consumer != "test" || !strings.Contains(dead[0].Reason, "price table missing") || dead[0].ParkedAt.IsZero() {
		t.Fatalf("dead letters = %+v, want the event with 3 attempts and its reason", dead)
	}

	// Replaying before the fix fails and keeps it parked.
	if err := ib.Replay(context.Background(), e.ID); err == nil {
		t.Fatal("replay before the fix succeeded")
	}
	if n, _ := ib.Parked(context.Background()); n != 1 {
		t.Errorf("parked = %d after a failed replay, want 1", n)
	}

	broken.Store(false)
	if err := ib.Replay(context.Background(), e.ID); err != nil {
		t.Fatal(err)
	}
	if got := count(t, db, "o1"); got != 1 {
		t.Errorf("effect applied %d times after the replay, want 1", got)
	}
	if n, _ := ib.Parked(context.Background()); n != 0 {
		t.Errorf("parked = %d after the replay, want 0", n)
	}
	// The event is handled now: a late redelivery changes nothing.
	if err := h(context.Background(), e); err != nil || count(t, db, "o1") != 1 {
		t.Errorf("redelivery after replay: %v, effect %d", err, count(t, db, "o1"))
	}
	if err := ib.Replay(context.Background(), e.ID); !errors.Is(err, shop.ErrNotFound) {
		t.Errorf("replaying it again = %v, want not found", err)
	}
}

func TestHandlerCanGiveUpAtOnce(t *testing.T) {
	db := openDB(t)
	ib := newInbox(db)
	var calls atomic.Int32
	h := ib.Handle(shop.EventOrderPaid, func(context.Context, shop.Event) error {
		calls.Add(1)
		return fmt.Errorf("%w: data is not an order", shop.ErrDeadLetter)
	})
	if err := h(context.Background(), event(t, "o1")); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Errorf("tried %d times, want 1: the handler said retrying cannot help", calls.Load())
	}
	if n, _ := ib.Parked(context.Background()); n != 1 {
		t.Errorf("parked = %d, want 1", n)
	}
}

func TestDeadLetterToTransport(t *testing.T) {
	db := openDB(t)
	ib := newInbox(db, inbox.Attempts(2), inbox.DeadLetterToTransport())
	h := ib.Handle(shop.EventOrderPaid, func(context.Context, shop.Event) error { return errors.New("boom") })
	err := h(context.Background(), event(t, "o1"))
	if !errors.Is(err, shop.ErrDeadLetter) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err = %v, want a dead letter carrying the cause", err)
	}
	if n, _ := ib.Parked(context.Background()); n != 0 {
		t.Errorf("parked = %d, want 0: the transport parks it", n)
	}
}

func TestShutdownMidRetryLeavesTheEventToTheTransport(t *testing.T) {
	db := openDB(t)
	ib := inbox.New(db.W, "test", inbox.Backoff(time.Hour, time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	h := ib.Handle(shop.EventOrderPaid, func(context.Context, shop.Event) error { cancel(); return errors.New("boom") })
	if err := h(ctx, event(t, "o1")); err == nil {
		t.Fatal("handler returned nil; the transport would drop the event")
	}
	if n, _ := ib.Parked(context.Background()); n != 0 {
		t.Errorf("parked = %d, want 0: it was never given up", n)
	}
}

func TestMarkIgnoresOtherDatabases(t *testing.T) {
	db, other := openDB(t), openDB(t)
	ib := newInbox(db)
	h := ib.Handle(shop.EventOrderPaid, func(ctx context.Context, e shop.Event) error {
		if err := bump(ctx, other, e.Subject); err != nil { // another service's store in the same process
			return err
		}
		return bump(ctx, db, e.Subject)
	})
	e := event(t, "o1")
	if err := h(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if count(t, other, "o1") != 1 || count(t, db, "o1") != 1 {
		t.Errorf("effects: other %d, own %d; want 1 each", count(t, other, "o1"), count(t, db, "o1"))
	}
}

func TestPanickingHandlerIsAFailure(t *testing.T) {
	db := openDB(t)
	ib := newInbox(db, inbox.Attempts(1))
	h := ib.Handle(shop.EventOrderPaid, func(context.Context, shop.Event) error { panic("nil map") })
	if err := h(context.Background(), event(t, "o1")); err != nil {
		t.Fatal(err)
	}
	dead, err := ib.DeadLetters(context.Background(), 10)
	if err != nil || len(dead) != 1 || !strings.Contains(dead[0].Reason, "panicked") {
		t.Errorf("dead letters = %+v, %v; want the panic parked", dead, err)
	}
}

func TestPruneForgetsOnlyOldEvents(t *testing.T) {
	db := openDB(t)
	ib := newInbox(db, inbox.Retain(time.Hour))
	h := ib.Handle(shop.EventOrderPaid, func(context.Context, shop.Event) error { return nil })
	old, fresh := event(t, "o1"), event(t, "o2")
	for _, e := range []shop.Event{old, fresh} {
		if err := h(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	// Age the first record past the retention rather than sleeping
	// through it, so a slow machine cannot age the second one too.
	if _, err := db.W.Exec(`UPDATE inbox SET handled_at = handled_at - ? WHERE event_id = ?`,
		(2 * time.Hour).Nanoseconds(), old.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := ib.Prune(context.Background()); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	if ok, _ := ib.Handled(context.Background(), fresh.ID); !ok {
		t.Error("the fresh event was pruned")
	}
}

func TestSubscribeWrapsEveryHandler(t *testing.T) {
	db := openDB(t)
	ib := newInbox(db)
	sub := subscriber{}
	err := ib.Subscribe(sub, map[string]shop.Handler{
		shop.EventOrderPaid:      func(ctx context.Context, e shop.Event) error { return bump(ctx, db, "paid") },
		shop.EventOrderCancelled: func(ctx context.Context, e shop.Event) error { return bump(ctx, db, "cancelled") },
	})
	if err != nil {
		t.Fatal(err)
	}
	e := event(t, "o1")
	for range 2 {
		if err := sub[shop.EventOrderPaid](context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if count(t, db, "paid") != 1 || len(sub) != 2 {
		t.Errorf("paid effect %d, subscriptions %d; want 1 and 2", count(t, db, "paid"), len(sub))
	}
}

type subscriber map[string]shop.Handler

func (s subscriber) Subscribe(typ string, h shop.Handler) error { s[typ] = h; return nil }

func TestLagObservesEachAppliedEventOnce(t *testing.T) {
	db := openDB(t)
	reg := prometheus.NewRegistry()
	lag, err := inbox.NewLagHistogram(reg, "test")
	if err != nil {
		t.Fatal(err)
	}
	ib := newInbox(db, inbox.Lag(lag))
	h := ib.Handle(shop.EventOrderPaid, func(ctx context.Context, e shop.Event) error { return bump(ctx, db, "paid") })
	e := event(t, "o1")
	e.Time = time.Now().Add(-2 * time.Second) // it happened two seconds ago
	for range 2 {                             // the copy is skipped, and not observed
		if err := h(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != 1 || families[0].GetName() != "kitshop_inbox_event_lag_seconds" {
		t.Fatalf("families %v", families)
	}
	m := families[0].GetMetric()
	if len(m) != 1 || m[0].GetHistogram().GetSampleCount() != 1 || m[0].GetHistogram().GetSampleSum() < 2 {
		t.Fatalf("lag %v: want one observation of at least 2 s", m)
	}
	if _, err := inbox.NewLagHistogram(reg, "test"); err != nil {
		t.Fatalf("a second histogram on the same registry: %v", err)
	}
}
