package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/outbox"
	"github.com/kitshop/shop/internal/sqlitedb"
	"github.com/kitshop/shop/transport/inproc"
)

var schema = fstest.MapFS{"0001_outbox.sql": {Data: []byte(outbox.Schema)}}

func openDB(t *testing.T, path string) *sqlitedb.DB {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), path, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newEvent(t *testing.T, typ, subject string) shop.Event {
	t.Helper()
	e, err := shop.NewEvent("test", typ, subject, map[string]string{"subject": subject})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// add stores events in one committed transaction.
func add(t *testing.T, db *sqlitedb.DB, events ...shop.Event) {
	t.Helper()
	err := db.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error {
		for _, e := range events {
			if err := outbox.Add(context.Background(), tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// recorder is a Publisher that remembers every attempt and fails while
// fail says so.
type recorder struct {
	mu        sync.Mutex
	attempts  map[string]int
	delivered []shop.Event
	fail      func(e shop.Event, attempt int) error
}

func newRecorder(fail func(e shop.Event, attempt int) error) *recorder {
	return &recorder{attempts: map[string]int{}, fail: fail}
}

func (r *recorder) Publish(ctx context.Context, e shop.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[e.ID]++
	if r.fail != nil {
		if err := r.fail(e, r.attempts[e.ID]); err != nil {
			return err
		}
	}
	r.delivered = append(r.delivered, e)
	return nil
}

func (r *recorder) deliveredIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, len(r.delivered))
	for i, e := range r.delivered {
		ids[i] = e.ID
	}
	return ids
}

func (r *recorder) attemptsOf(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[id]
}

func ids(events []shop.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func pending(t *testing.T, r *outbox.Relay) int {
	t.Helper()
	n, err := r.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// run starts r.Run and returns a function that stops it and waits for it
// to return.
func run(t *testing.T, r *outbox.Relay) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context was cancelled")
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestDrainPublishesInOrderOnce(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	var events []shop.Event
	for i := range 5 {
		events = append(events, newEvent(t, shop.EventOrderPaid, fmt.Sprintf("o%d", i)))
	}
	add(t, db, events[:2]...)
	add(t, db, events[2])
	add(t, db, events[3:]...)

	pub := newRecorder(nil)
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	if got := pending(t, r); got != 5 {
		t.Fatalf("Pending = %d before the relay ran, want 5", got)
	}
	n, err := r.Drain(context.Background())
	if err != nil || n != 5 {
		t.Fatalf("Drain = %d, %v; want 5, nil", n, err)
	}
	if got := pub.deliveredIDs(); !slices.Equal(got, ids(events)) {
		t.Errorf("published %v, want %v in order", got, ids(events))
	}
	if got := pending(t, r); got != 0 {
		t.Errorf("Pending = %d after publishing, want 0", got)
	}

	n, err = r.Drain(context.Background())
	if err != nil || n != 0 {
		t.Errorf("second Drain = %d, %v; want 0, nil", n, err)
	}
	if got := len(pub.deliveredIDs()); got != 5 {
		t.Errorf("%d deliveries after a second Drain, want still 5", got)
	}
}

func TestPublishedEventIsTheAddedOne(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	data := shop.OrderEventData{OrderID: "o1", UserID: "u1", Status: "paid", Total: shop.Money{Amount: 1999, Currency: "USD"}}
	e, err := shop.NewEvent("order", shop.EventOrderPaid, "o1", data)
	if err != nil {
		t.Fatal(err)
	}
	add(t, db, e)
	pub := newRecorder(nil)
	if _, err := outbox.NewRelay(db, pub, log.NewNopLogger()).Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(pub.delivered) != 1 {
		t.Fatalf("%d events published, want 1", len(pub.delivered))
	}
	got := pub.delivered[0]
	if got.ID != e.ID || got.Type != e.Type || got.Source != e.Source || got.Subject != e.Subject ||
		got.SpecVersion != e.SpecVersion || got.DataType != e.DataType || !got.Time.Equal(e.Time) {
		t.Errorf("published %+v, want %+v", got, e)
	}
	var gotData shop.OrderEventData
	if err := json.Unmarshal(got.Data, &gotData); err != nil || !reflect.DeepEqual(gotData, data) {
		t.Errorf("published data %s (%v), want %+v", got.Data, err, data)
	}
}

func TestRunPublishesOnNotify(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	pub := newRecorder(nil)
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	r.Interval = time.Hour // only Notify can wake it
	r.Batch = 2            // several passes are needed, all on one Notify
	run(t, r)

	var events []shop.Event
	for i := range 7 {
		events = append(events, newEvent(t, shop.EventOrderCancelled, fmt.Sprintf("o%d", i)))
	}
	add(t, db, events...)
	r.Notify()
	r.Notify() // never blocks, even when a wake-up is already queued
	waitFor(t, "all events published", func() bool { return len(pub.deliveredIDs()) >= len(events) })
	if got := pub.deliveredIDs(); !slices.Equal(got, ids(events)) {
		t.Errorf("published %v, want %v", got, ids(events))
	}
	waitFor(t, "Pending to reach 0", func() bool { return pending(t, r) == 0 })
}

func TestRunPublishesOnInterval(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	pub := newRecorder(nil)
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	r.Interval = 5 * time.Millisecond
	run(t, r)
	e := newEvent(t, shop.EventOrderExpired, "o1")
	add(t, db, e) // no Notify
	waitFor(t, "the event published", func() bool { return len(pub.deliveredIDs()) == 1 })
}

func TestFailingPublisherGetsTheEventAgain(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	flaky := newEvent(t, shop.EventOrderPaid, "flaky")
	behind := newEvent(t, shop.EventOrderPaid, "behind")
	const failures = 3
	pub := newRecorder(func(e shop.Event, attempt int) error {
		if e.ID == flaky.ID && attempt <= failures {
			return errors.New("broker unavailable")
		}
		return nil
	})
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	r.Interval = 2 * time.Millisecond
	r.MaxBackoff = 5 * time.Millisecond
	add(t, db, flaky, behind)
	run(t, r)

	waitFor(t, "the flaky event delivered", func() bool { return slices.Contains(pub.deliveredIDs(), flaky.ID) })
	waitFor(t, "Pending to reach 0", func() bool { return pending(t, r) == 0 })
	time.Sleep(20 * time.Millisecond) // several more passes, which must not publish again

	if got := pub.attemptsOf(flaky.ID); got != failures+1 {
		t.Errorf("flaky event attempted %d times, want %d", got, failures+1)
	}
	if got := pub.attemptsOf(behind.ID); got != 1 {
		t.Errorf("event behind attempted %d times, want 1", got)
	}
	// Exactly one successful delivery each, and the failing event did not
	// hold up the one behind it.
	if got, want := pub.deliveredIDs(), []string{behind.ID, flaky.ID}; !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}

	// Sent events leave the table.
	var rows int
	if err := db.R.QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d rows left after every event was sent, want 0", rows)
	}
}

func TestEventIsNeverDropped(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	e := newEvent(t, shop.EventOrderPaid, "o1")
	pub := newRecorder(func(shop.Event, int) error { return errors.New("broker unavailable") })
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	r.Interval = time.Millisecond
	r.MaxBackoff = 2 * time.Millisecond
	add(t, db, e)
	stop := run(t, r)

	// Backoff is capped at MaxBackoff: without the cap the second attempt
	// would wait 100ms and the third 200ms.
	waitFor(t, "ten attempts", func() bool { return pub.attemptsOf(e.ID) >= 10 })
	stop()
	if got := pending(t, r); got != 1 {
		t.Errorf("Pending = %d after %d failed attempts, want 1", got, pub.attemptsOf(e.ID))
	}
	var attempts int
	var lastError string
	if err := db.R.QueryRow(`SELECT attempts, last_error FROM outbox WHERE id = ?`, e.ID).Scan(&attempts, &lastError); err != nil {
		t.Fatal(err)
	}
	// The attempt that stop interrupted may not be recorded.
	if n := pub.attemptsOf(e.ID); attempts < n-1 || attempts > n || lastError != "broker unavailable" {
		t.Errorf("row: attempts %d, last_error %q; want %d (or one less), broker unavailable", attempts, lastError, n)
	}

	// Once the broker is back, a new relay delivers it.
	ok := newRecorder(nil)
	r2 := outbox.NewRelay(db, ok, log.NewNopLogger())
	r2.Interval = time.Millisecond
	run(t, r2)
	waitFor(t, "delivery after recovery", func() bool { return len(ok.deliveredIDs()) == 1 })
}

func TestBackoffGrowsExponentially(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	e := newEvent(t, shop.EventOrderPaid, "o1")
	add(t, db, e)
	pub := newRecorder(func(shop.Event, int) error { return errors.New("no") })
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	r.MaxBackoff = 150 * time.Millisecond

	nextAttempt := func() time.Time {
		var ns int64
		if err := db.R.QueryRow(`SELECT next_attempt FROM outbox WHERE id = ?`, e.ID).Scan(&ns); err != nil {
			t.Fatal(err)
		}
		return time.Unix(0, ns)
	}
	for attempt, want := range []time.Duration{100 * time.Millisecond, 150 * time.Millisecond, 150 * time.Millisecond} {
		before := time.Now()
		n, err := r.Drain(context.Background())
		after := time.Now()
		if err != nil || n != 1 {
			t.Fatalf("attempt %d: Drain = %d, %v; want 1, nil", attempt+1, n, err)
		}
		next := nextAttempt()
		if next.Before(before.Add(want)) || next.After(after.Add(want)) {
			t.Errorf("attempt %d: next attempt in %v, want %v", attempt+1, next.Sub(before), want)
		}
		// Not due yet: a pass now leaves it alone. (A pass that ends after
		// next may have found it due, so only an early one is checked.)
		n, err = r.Drain(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 && time.Now().Before(next) {
			t.Errorf("attempt %d: Drain before the event was due tried it", attempt+1)
		}
		if n != 0 {
			t.Skip("machine too slow to observe the backoff")
		}
		time.Sleep(time.Until(next) + time.Millisecond)
	}
	if got := pub.attemptsOf(e.ID); got < 3 {
		t.Errorf("%d attempts, want at least 3", got)
	}
}

func TestRolledBackEventIsNeverPublished(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	ctx := context.Background()
	rolledBack := newEvent(t, shop.EventOrderPaid, "rolled-back")
	errAbort := errors.New("payment declined")
	err := db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		if err := outbox.Add(ctx, tx, rolledBack); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Tx = %v", err)
	}
	committed := newEvent(t, shop.EventOrderPaid, "committed")
	add(t, db, committed)

	pub := newRecorder(nil)
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	if got := pending(t, r); got != 1 {
		t.Errorf("Pending = %d, want 1 (only the committed event)", got)
	}
	if _, err := r.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pub.deliveredIDs(); !slices.Equal(got, []string{committed.ID}) {
		t.Errorf("published %v, want only %s", got, committed.ID)
	}
	if pub.attemptsOf(rolledBack.ID) != 0 {
		t.Error("the rolled-back event was published")
	}
}

func TestEventsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "order.db")
	db, err := sqlitedb.Open(context.Background(), path, schema)
	if err != nil {
		t.Fatal(err)
	}
	sent := newEvent(t, shop.EventOrderPaid, "sent-before-crash")
	add(t, db, sent)
	pub := newRecorder(nil)
	if _, err := outbox.NewRelay(db, pub, log.NewNopLogger()).Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	unsent := []shop.Event{newEvent(t, shop.EventOrderPaid, "a"), newEvent(t, shop.EventOrderCancelled, "b")}
	add(t, db, unsent...)
	// The process stops before the relay runs again.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDB(t, path)
	pub2 := newRecorder(nil)
	r := outbox.NewRelay(db, pub2, log.NewNopLogger())
	if got := pending(t, r); got != 2 {
		t.Fatalf("Pending after restart = %d, want 2", got)
	}
	if _, err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := pub2.deliveredIDs(); !slices.Equal(got, ids(unsent)) {
		t.Errorf("published after restart %v, want %v (and not the already sent event)", got, ids(unsent))
	}
	if got := pending(t, r); got != 0 {
		t.Errorf("Pending = %d, want 0", got)
	}
}

func TestAddRefusesBadEvents(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	ctx := context.Background()
	e := newEvent(t, shop.EventOrderPaid, "o1")
	noID, noType := e, e
	noID.ID = ""
	noType.Type = ""
	for name, bad := range map[string]shop.Event{"no id": noID, "no type": noType} {
		t.Run(name, func(t *testing.T) {
			err := db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error { return outbox.Add(ctx, tx, bad) })
			if err == nil {
				t.Fatal("Add succeeded")
			}
		})
	}

	if got := pending(t, outbox.NewRelay(db, newRecorder(nil), log.NewNopLogger())); got != 0 {
		t.Errorf("Pending = %d after refused events, want 0", got)
	}
}

// An outbox of the first schema (sent rows kept, no subject) upgraded in
// place keeps exactly its unsent events, in order, with their subjects.
func TestUpgradeKeepsUnsentEventsInOrder(t *testing.T) {
	first := `CREATE TABLE outbox (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	id           TEXT NOT NULL UNIQUE,
	event        BLOB NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	sent_at      INTEGER
);
CREATE INDEX outbox_pending ON outbox(next_attempt) WHERE sent_at IS NULL;`
	path := filepath.Join(t.TempDir(), "order.db")
	old, err := sqlitedb.Open(context.Background(), path, fstest.MapFS{"0001_outbox.sql": {Data: []byte(first)}})
	if err != nil {
		t.Fatal(err)
	}
	sent, a, b := newEvent(t, shop.EventOrderPaid, "o1"), newEvent(t, shop.EventOrderPaid, "o2"), newEvent(t, shop.EventOrderRefunded, "o2")
	for i, e := range []shop.Event{sent, a, b} {
		raw, _ := json.Marshal(e)
		var sentAt any
		if i == 0 {
			sentAt = time.Now().UnixNano()
		}
		if _, err := old.W.Exec(`INSERT INTO outbox(id, event, sent_at) VALUES (?, ?, ?)`, e.ID, raw, sentAt); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	db, err := sqlitedb.Open(context.Background(), path, fstest.MapFS{
		"0001_outbox.sql": {Data: []byte(first)}, "0002_upgrade.sql": {Data: []byte(outbox.Upgrade)}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pub := newRecorder(nil)
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	for range 3 {
		if _, err := r.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := pub.deliveredIDs(), []string{a.ID, b.ID}; !slices.Equal(got, want) {
		t.Errorf("delivered %v after the upgrade, want the two unsent ones in order", got)
	}
	if left := pending(t, r); left != 0 {
		t.Errorf("%d rows left after the upgraded events were sent", left)
	}
}

func TestDrainStopsWhenContextIsCancelled(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	e := newEvent(t, shop.EventOrderPaid, "o1")
	add(t, db, e)
	ctx, cancel := context.WithCancel(context.Background())
	pub := newRecorder(func(shop.Event, int) error {
		cancel() // shutting down while the broker is slow
		return context.Canceled
	})
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	if _, err := r.Drain(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain = %v, want context.Canceled", err)
	}
	// The interrupted attempt is not held against the event: it is due at
	// once for the next relay.
	pub2 := newRecorder(nil)
	if n, err := outbox.NewRelay(db, pub2, log.NewNopLogger()).Drain(context.Background()); err != nil || n != 1 {
		t.Fatalf("Drain after restart = %d, %v; want 1", n, err)
	}
	if got := pub2.deliveredIDs(); !slices.Equal(got, []string{e.ID}) {
		t.Errorf("published %v, want %s", got, e.ID)
	}
}

func TestUnreadableEventDoesNotBlockOthers(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	if _, err := db.W.Exec(`INSERT INTO outbox(id, event) VALUES ('corrupt', '{not json')`); err != nil {
		t.Fatal(err)
	}
	good := newEvent(t, shop.EventOrderPaid, "o1")
	add(t, db, good)
	pub := newRecorder(nil)
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	if _, err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := pub.deliveredIDs(); !slices.Equal(got, []string{good.ID}) {
		t.Errorf("published %v, want %s", got, good.ID)
	}
	if got := pending(t, r); got != 1 {
		t.Errorf("Pending = %d, want 1 (the unreadable event kept for a fix)", got)
	}
}

func TestRelayToBusRedeliversUntilEveryHandlerSucceeds(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	bus := inproc.NewBus()
	var mu sync.Mutex
	seen := map[string]int{}
	failStock := 2
	bus.Subscribe(shop.EventOrderPaid, func(_ context.Context, e shop.Event) error {
		mu.Lock()
		defer mu.Unlock()
		seen["mailer:"+e.Subject]++
		return nil
	})
	bus.Subscribe(shop.EventOrderPaid, func(_ context.Context, e shop.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if failStock > 0 {
			failStock--
			return errors.New("stock table locked")
		}
		seen["inventory:"+e.Subject]++
		return nil
	})
	r := outbox.NewRelay(db, bus, log.NewNopLogger())
	r.Interval = 2 * time.Millisecond
	r.MaxBackoff = 3 * time.Millisecond
	add(t, db, newEvent(t, shop.EventOrderPaid, "o1"))
	run(t, r)
	waitFor(t, "Pending to reach 0", func() bool { return pending(t, r) == 0 })

	mu.Lock()
	defer mu.Unlock()
	// The idempotent mailer saw the event once per attempt; inventory
	// took it exactly once, on the third attempt.
	if seen["inventory:o1"] != 1 || seen["mailer:o1"] != 3 {
		t.Errorf("deliveries = %v, want inventory once and mailer three times", seen)
	}
}

func TestEventsOfOneSubjectWaitForTheOneBeingRetried(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	paid := newEvent(t, shop.EventOrderPaid, "o1")
	refunded := newEvent(t, shop.EventOrderRefunded, "o1")
	other := newEvent(t, shop.EventOrderPaid, "o2")
	const failures = 3
	pub := newRecorder(func(e shop.Event, attempt int) error {
		if e.ID == paid.ID && attempt <= failures {
			return errors.New("broker unavailable")
		}
		return nil
	})
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	r.Interval = 2 * time.Millisecond
	r.MaxBackoff = 5 * time.Millisecond
	add(t, db, paid, refunded, other)
	run(t, r)
	waitFor(t, "Pending to reach 0", func() bool { return pending(t, r) == 0 })

	// o2 went out at once; o1's refund never overtook its payment and was
	// not even tried before the payment was out.
	if got, want := pub.deliveredIDs(), []string{other.ID, paid.ID, refunded.ID}; !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if got := pub.attemptsOf(refunded.ID); got != 1 {
		t.Errorf("refund attempted %d times, want 1 (after the payment)", got)
	}
}

// batcher is a BatchPublisher that records the batches it was given.
type batcher struct {
	recorder
	batches [][]string
}

func (b *batcher) PublishBatch(ctx context.Context, events []shop.Event) []error {
	b.mu.Lock()
	b.batches = append(b.batches, ids(events))
	b.mu.Unlock()
	errs := make([]error, len(events))
	stopped := map[string]bool{}
	for i, e := range events {
		if stopped[e.Subject] { // the contract: a subject stops at its first failure
			errs[i] = errors.New("behind a failure")
			continue
		}
		if errs[i] = b.Publish(ctx, e); errs[i] != nil {
			stopped[e.Subject] = true
		}
	}
	return errs
}

func TestBatchPublisherGetsEachPassInOneBatch(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	var events []shop.Event
	for i := range 5 {
		events = append(events, newEvent(t, shop.EventOrderPaid, fmt.Sprintf("o%d", i)))
	}
	// A hot subject: several of its events go in one batch, in order.
	events = append(events, newEvent(t, shop.EventOrderRefunded, "o0"), newEvent(t, shop.EventOrderPaid, "o0"))
	add(t, db, events...)
	b := &batcher{recorder: *newRecorder(nil)}
	r := outbox.NewRelay(db, b, log.NewNopLogger())
	if n, err := r.Drain(context.Background()); err != nil || n != len(events) {
		t.Fatalf("Drain = %d, %v; want all %d events in one pass", n, err, len(events))
	}
	if len(b.batches) != 1 || !slices.Equal(b.batches[0], ids(events)) {
		t.Errorf("batches = %v, want one batch of every event in order", b.batches)
	}
	if got := pending(t, r); got != 0 {
		t.Errorf("Pending = %d, want 0", got)
	}
}

// A failed event holds back the later events of its subject, however the
// publisher answered for them, and only it counts an attempt.
func TestFailureInABatchHoldsItsSubjectBack(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	first, second, other := newEvent(t, shop.EventOrderPaid, "o1"), newEvent(t, shop.EventOrderRefunded, "o1"), newEvent(t, shop.EventOrderPaid, "o2")
	add(t, db, first, second, other)
	failing := true
	b := &batcher{recorder: *newRecorder(func(e shop.Event, _ int) error {
		if e.ID == first.ID && failing {
			return errors.New("nack")
		}
		return nil
	})}
	r := outbox.NewRelay(db, b, log.NewNopLogger())
	r.MaxBackoff = time.Millisecond
	if _, err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	var attempts int
	db.R.QueryRow(`SELECT attempts FROM outbox WHERE id = ?`, second.ID).Scan(&attempts)
	if attempts != 0 {
		t.Errorf("the event behind the failure counted %d attempts, want 0", attempts)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, r); got != 2 {
		t.Errorf("Pending = %d while the first event keeps failing, want 2 (it and the one behind)", got)
	}
	failing = false
	time.Sleep(5 * time.Millisecond)
	if _, err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := b.deliveredIDs()
	if pending(t, r) != 0 || slices.Index(got, first.ID) > slices.Index(got, second.ID) || !slices.Contains(got, other.ID) {
		t.Errorf("delivered %v, pending %d; want all, o1's in order", got, pending(t, r))
	}
}

// While the publisher refuses everything, commits do not each start a
// pass (each reads the whole table): passes follow the interval.
func TestStalledRelayWaitsForTheInterval(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	head := newEvent(t, shop.EventOrderPaid, "o1")
	pub := newRecorder(func(shop.Event, int) error { return errors.New("broker unavailable") })
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	r.Interval = time.Hour // only the first pass and Notify could start passes
	r.MaxBackoff = time.Nanosecond
	add(t, db, head)
	run(t, r)
	waitFor(t, "the first attempt", func() bool { return pub.attemptsOf(head.ID) >= 1 })
	time.Sleep(10 * time.Millisecond) // the first pass records its failure
	for range 50 {
		r.Notify()
		time.Sleep(time.Millisecond)
	}
	if got := pub.attemptsOf(head.ID); got > 2 {
		t.Errorf("head attempted %d times while stalled, want at most 2: every Notify started a pass", got)
	}
}

func TestRunFlushesWhenStopped(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	pub := newRecorder(nil)
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	r.Interval = time.Hour // neither the interval nor a Notify wakes it
	stop := run(t, r)
	time.Sleep(50 * time.Millisecond) // its first pass, on an empty outbox, is over
	events := []shop.Event{newEvent(t, shop.EventOrderPaid, "o1"), newEvent(t, shop.EventOrderPaid, "o2")}
	add(t, db, events...) // the last request's events, committed as the process stops
	stop()
	if got := pub.deliveredIDs(); !slices.Equal(got, ids(events)) {
		t.Fatalf("published on stop %v, want %v", got, ids(events))
	}
	if n := pending(t, r); n != 0 {
		t.Fatalf("%d events still pending after the flush", n)
	}
}

func TestStopDoesNotWaitForARefusingTransport(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "order.db"))
	pub := newRecorder(func(shop.Event, int) error { return errors.New("broker down") })
	r := outbox.NewRelay(db, pub, log.NewNopLogger())
	r.Interval = time.Hour
	e := newEvent(t, shop.EventOrderPaid, "o1")
	add(t, db, e)
	stop := run(t, r)
	waitFor(t, "the first attempt", func() bool { return pub.attemptsOf(e.ID) > 0 })
	began := time.Now()
	stop()
	if waited := time.Since(began); waited > r.FlushTimeout {
		t.Fatalf("stopping took %s with a transport refusing everything", waited)
	}
	if n := pending(t, r); n != 1 {
		t.Fatalf("pending = %d, want the refused event kept", n)
	}
}
