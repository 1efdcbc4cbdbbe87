package testkit

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

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/outbox"
)

// OutboxLog reads the events in a database's outbox table (the one
// outbox.Schema creates) in the order they were added, each once: every
// call of Next returns those added since the call before.
//
// It reads rows, so it sees an event only while it waits to be published:
// use it on a store whose relay is not running.
type OutboxLog struct {
	db  *sql.DB
	seq int64 // the last row read
}

// NewOutboxLog returns a log of db's outbox whose first Next returns every
// event in it.
func NewOutboxLog(db *sql.DB) *OutboxLog {
	return &OutboxLog{db: db}
}

// Next returns the events added to the outbox since the last call (on the
// first call, all of them), oldest first. It fails t when the rows cannot be
// read or an event does not decode.
func (l *OutboxLog) Next(t testing.TB) []shop.Event {
	t.Helper()
	events, _ := l.NextRaw(t)
	return events
}

// NextRaw is Next that also returns each event's row as stored: raws[i] is
// the JSON that events[i] was decoded from, for tests that check what an
// event must not carry.
func (l *OutboxLog) NextRaw(t testing.TB) (events []shop.Event, raws [][]byte) {
	t.Helper()
	rows, err := l.db.Query(`SELECT seq, event FROM outbox WHERE seq > ? ORDER BY seq`, l.seq)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var raw []byte
		var e shop.Event
		if err := rows.Scan(&l.seq, &raw); err != nil {
			t.Fatalf("read outbox: %v", err)
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("decode outbox event %s: %v", raw, err)
		}
		events, raws = append(events, e), append(raws, raw)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	return events, raws
}

// EventsString lists events on one line, each as its type, subject and
// data, for a failure message that shows what a test got.
func EventsString(events []shop.Event) string {
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = fmt.Sprintf("%s %s %s", e.Type, e.Subject, e.Data)
	}
	return fmt.Sprint(s)
}

// Recorder keeps the events it is given, in the order it gets them: its
// Handle is a shop.Handler to subscribe to a bus, and it is a
// shop.Publisher for a relay to publish to. It is safe for concurrent use;
// the zero value is ready.
type Recorder struct {
	mu     sync.Mutex
	events []shop.Event
}

// Handle records e and accepts it.
func (r *Recorder) Handle(_ context.Context, e shop.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

// Publish records e and accepts it.
func (r *Recorder) Publish(ctx context.Context, e shop.Event) error {
	return r.Handle(ctx, e)
}

// Events returns a copy of the events recorded so far.
func (r *Recorder) Events() []shop.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Len returns how many events were recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// RelayTimeout is how long WaitRelayed waits.
const RelayTimeout = 20 * time.Second

// WaitRelayed waits until a relay has emptied an outbox into rec: pending
// (a store's PendingEvents) reports no event left and rec holds at least n.
// It fails t when pending fails or RelayTimeout passes first.
func WaitRelayed(t testing.TB, pending func(context.Context) (int, error), rec *Recorder, n int) {
	t.Helper()
	deadline := time.Now().Add(RelayTimeout)
	for {
		left, err := pending(context.Background())
		if err != nil {
			t.Fatalf("pending events: %v", err)
		}
		got := len(rec.Events())
		if left == 0 && got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events pending, %d of %d received after %s", left, got, n, RelayTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WantOutboxSchema fails t unless db's outbox table and its indexes are, to
// the letter, those outbox.Schema creates (the table and its subject
// index): a service's migrations must not drift from the schema the relay
// is written for.
func WantOutboxSchema(t testing.TB, db *sql.DB) {
	t.Helper()
	ref, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "ref.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if _, err := ref.Exec(outbox.Schema); err != nil {
		t.Fatalf("create the reference outbox: %v", err)
	}
	got, want := outboxObjects(t, db), outboxObjects(t, ref)
	if !slices.Equal(got, want) || len(want) != 1 { // the table alone
		t.Fatalf("outbox of the migrations:\n%s\nwant outbox.Schema's:\n%s", got, want)
	}
}

// outboxObjects returns the type, name and SQL of every schema object of
// db's outbox table, the table included, by name.
func outboxObjects(t testing.TB, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master WHERE tbl_name = 'outbox' ORDER BY name`)
	if err != nil {
		t.Fatalf("read the outbox schema: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("read the outbox schema: %v", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read the outbox schema: %v", err)
	}
	return out
}
