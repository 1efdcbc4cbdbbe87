// Package outbox is the transactional outbox: a service writes the events of
// a change into its own database in the same transaction as the change, and a
// relay publishes them afterwards, retrying until the publisher accepts each
// one. A crash or a broker outage delays an event; it never loses it.
//
// Events of one subject (an aggregate: one order, one product) are published
// in the order they were added: while one waits for a retry, the ones after
// it wait too. Events of different subjects never hold each other up.
//
// A service's migrations must create the table (see Schema).
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/sqlitedb"
	"github.com/kitshop/shop/internal/tracing"
	"go.opentelemetry.io/otel/trace"
)

// Schema is the DDL of the outbox table; copy it into a migration. It holds
// only the events still to publish: the relay deletes each one once the
// transport confirmed it, so the table stays small and an event costs one
// b-tree insert and one delete: no index, as the relay's passes read the
// small table whole. seq is the rowid: a new row always sorts after every
// row still in the table, which is the order the relay publishes in.
const Schema = `CREATE TABLE outbox (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL,
	subject      TEXT NOT NULL DEFAULT '',
	event        BLOB NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT ''
);`

// Upgrade is the DDL that rebuilds an outbox table of the first schema
// (sent rows kept with a sent_at time, no subject) as Schema, keeping the
// events not yet sent, in their order.
const Upgrade = `CREATE TABLE outbox_next (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL,
	subject      TEXT NOT NULL DEFAULT '',
	event        BLOB NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT ''
);
INSERT INTO outbox_next (seq, id, subject, event, attempts, next_attempt, last_error)
	SELECT seq, id, COALESCE(json_extract(event, '$.subject'), ''), event, attempts, next_attempt, last_error
	FROM outbox WHERE sent_at IS NULL ORDER BY seq;
DROP TABLE outbox;
ALTER TABLE outbox_next RENAME TO outbox;`

// Add stores e in the outbox within tx, so it is published if and only if tx
// commits.
func Add(ctx context.Context, tx *sqlitedb.Tx, e shop.Event) error {
	if e.TraceParent == "" {
		tracing.Stamp(ctx, &e) // the change's trace goes on with the event
	}
	raw, err := jsonEvent(e)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(id, event, subject) VALUES (?, ?, ?)`, e.ID, raw, e.Subject); err != nil {
		return fmt.Errorf("outbox: add %s: %w", e.Type, err)
	}
	return nil
}

// Relay publishes a database's outbox events in the order they were added.
// An event the publisher refuses is retried with exponential backoff (capped
// at MaxBackoff); the later events of its subject wait for it, the others go
// on. A shop.BatchPublisher gets each pass's events in one batch.
type Relay struct {
	db     *sqlitedb.DB
	pub    shop.Publisher
	logger log.Logger
	wake   chan struct{}
	now    func() time.Time
	// dueStmt is dueQuery prepared on the reader pool, by Drain, which
	// one goroutine calls at a time.
	dueStmt *sql.Stmt
	// stalled: the last pass published nothing and failed something.
	stalled bool

	// Interval is how often the relay looks for due events when nobody
	// calls Notify (default 1s).
	Interval time.Duration
	// MaxBackoff caps the delay between attempts of one event (default 1m).
	MaxBackoff time.Duration
	// Batch is how many events one pass handles at most (default 100).
	Batch int
	// FlushTimeout bounds the last passes Run makes once its context is
	// done, so the events of the last requests go out before the process
	// exits (default 2s; what is left waits for the next start).
	FlushTimeout time.Duration
}

// NewRelay returns a relay from db's outbox to pub. Call Run to start it.
func NewRelay(db *sqlitedb.DB, pub shop.Publisher, logger log.Logger) *Relay {
	return &Relay{db: db, pub: pub, logger: logger, wake: make(chan struct{}, 1), now: time.Now,
		Interval: time.Second, MaxBackoff: time.Minute, Batch: 100, FlushTimeout: 2 * time.Second}
}

// Notify tells the relay that new events were committed, so it publishes
// them now instead of at its next interval. It never blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes events until ctx is done, then flushes: it publishes what
// is due for at most FlushTimeout, unless the transport refused everything
// lately.
func (r *Relay) Run(ctx context.Context) {
	if r.Interval <= 0 {
		r.Interval = time.Second
	}
	if r.Batch <= 0 {
		r.Batch = 100
	}
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	defer func() {
		if r.dueStmt != nil {
			r.dueStmt.Close()
			r.dueStmt = nil
		}
	}()
	for {
		for {
			n, err := r.Drain(ctx)
			if err != nil && ctx.Err() == nil {
				level.Error(r.logger).Log("msg", "outbox relay pass failed", "err", err)
			}
			if err != nil || n < r.Batch {
				break
			}
		}
		// While the transport refuses everything, new events would fail
		// too, and each pass reads the whole table: passes then wait for
		// the interval instead of following every commit.
		for next := false; !next; {
			select {
			case <-ctx.Done():
				r.flush()
				return
			case <-r.wake:
				next = !r.stalled
			case <-t.C:
				next = true
			}
		}
	}
}

// flush makes passes until nothing is due, a pass fails, or FlushTimeout
// passes.
func (r *Relay) flush() {
	if r.stalled || r.FlushTimeout <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.FlushTimeout)
	defer cancel()
	for {
		n, err := r.Drain(ctx)
		if err != nil {
			if ctx.Err() == nil {
				level.Warn(r.logger).Log("msg", "outbox flush on stop failed; the events wait for the next start", "err", err)
			}
			return
		}
		if n == 0 || r.stalled {
			return
		}
	}
}

type pending struct {
	seq      int64
	subject  string
	raw      []byte
	attempts int
}

// Drain makes one pass: it tries to publish every due event (at most
// Batch), in order, and records the outcome of each. It returns how many
// events were due.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	now := r.now()
	if r.dueStmt == nil {
		st, err := r.db.R.PrepareContext(ctx, dueQuery)
		if err != nil {
			return 0, fmt.Errorf("outbox: prepare: %w", err)
		}
		r.dueStmt = st
	}
	rows, err := r.dueStmt.QueryContext(ctx, now.UnixNano(), r.Batch)
	if err != nil {
		return 0, fmt.Errorf("outbox: read: %w", err)
	}
	var due []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.seq, &p.subject, &p.raw, &p.attempts); err != nil {
			rows.Close()
			return 0, fmt.Errorf("outbox: read: %w", err)
		}
		due = append(due, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("outbox: read: %w", err)
	}
	if len(due) == 0 {
		return 0, nil
	}
	events := make([]shop.Event, len(due))
	results := make([]error, len(due))
	for i, p := range due {
		events[i], results[i] = parseEvent(p.raw)
	}
	r.publish(ctx, due, events, results)

	// The first failure of a subject is retried with backoff; the events
	// of that subject after it wait behind it without an attempt of their
	// own. The outcome of the pass is written in one transaction that
	// joins the store's group commit, so relaying costs the store no
	// commit of its own. It runs with the caller's context cut loose: the
	// events are out, and forgetting that would publish them again.
	var sent []int64
	type failure struct {
		seq   int64
		next  int64
		cause string
	}
	var failed []failure
	stopped := map[string]bool{}
	for i, p := range due {
		err := results[i]
		if err == nil {
			sent = append(sent, p.seq)
			continue
		}
		if ctx.Err() != nil || (p.subject != "" && stopped[p.subject]) {
			continue
		}
		if p.subject != "" {
			stopped[p.subject] = true
		}
		delay := r.backoff(p.attempts + 1)
		level.Warn(r.logger).Log("msg", "event not published; will retry", "event_id", events[i].ID, "type", events[i].Type,
			"attempt", p.attempts+1, "retry_in", delay, "err", err)
		failed = append(failed, failure{p.seq, r.now().Add(delay).UnixNano(), truncate(err.Error(), 500)})
	}
	r.stalled = len(sent) == 0 && len(failed) > 0
	if len(sent) == 0 && len(failed) == 0 {
		return len(due), ctx.Err()
	}
	err = r.db.Tx(context.WithoutCancel(ctx), func(ctx context.Context, tx *sqlitedb.Tx) error {
		if len(sent) > 0 {
			// One statement for any number of rows, so it stays prepared.
			list, _ := json.Marshal(sent)
			if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))`, string(list)); err != nil {
				return fmt.Errorf("outbox: delete sent events: %w", err)
			}
		}
		for _, f := range failed {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE seq = ?`,
				f.next, f.cause, f.seq); err != nil {
				return fmt.Errorf("outbox: record failure: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return len(due), err
	}
	return len(due), ctx.Err()
}

// dueQuery selects a pass's events. Due: its time has come, and no event
// of its subject is waiting for a retry (an event waits only behind an
// older one of its subject, which is the one waiting; SQLite computes the
// waiting subjects once per pass). Several events of one subject can be due
// in one pass, in order.
const dueQuery = `SELECT seq, subject, event, attempts FROM outbox AS o
	WHERE next_attempt <= ?1
	  AND (subject = '' OR subject NOT IN (SELECT subject FROM outbox WHERE next_attempt > ?1))
	ORDER BY seq LIMIT ?2`

// errBehind is the result of an event not handed over because an older
// event of its subject failed in the same pass.
var errBehind = errors.New("outbox: an older event of its subject is not published yet")

// publish hands the pass's events to the publisher, in order, and fills in
// results (already holding the decoding errors). Once an event of a
// subject fails, the later ones of that subject are not handed over. A
// shop.BatchPublisher gets them all in one batch; its contract is to stop
// a subject at its first failure the same way.
func (r *Relay) publish(ctx context.Context, due []pending, events []shop.Event, results []error) {
	stopped := map[string]bool{}
	behind := func(i int) bool { return due[i].subject != "" && stopped[due[i].subject] }
	stop := func(i int) {
		if due[i].subject != "" {
			stopped[due[i].subject] = true
		}
	}
	// Each event is published in a span of its own, below the trace of the
	// change that made it, and carries that span to its consumer.
	// With tracing off no event carries a trace, and the pass allocates
	// nothing for it.
	var spans []trace.Span
	var ctxs []context.Context
	for i := range events {
		if results[i] != nil || events[i].TraceParent == "" {
			continue
		}
		if spans == nil {
			spans, ctxs = make([]trace.Span, len(events)), make([]context.Context, len(events))
		}
		ctxs[i], spans[i] = tracing.FromEvent(ctx, "publish", trace.SpanKindProducer, events[i])
		tracing.Stamp(ctxs[i], &events[i])
	}
	eventCtx := func(i int) context.Context {
		if ctxs == nil || ctxs[i] == nil {
			return ctx
		}
		return ctxs[i]
	}
	defer func() {
		for i, span := range spans {
			if span != nil {
				tracing.End(span, results[i])
			}
		}
	}()
	bp, batches := r.pub.(shop.BatchPublisher)
	if !batches {
		for i := range due {
			switch {
			case results[i] != nil:
				stop(i)
			case behind(i):
				results[i] = errBehind
			case ctx.Err() != nil:
				results[i] = ctx.Err()
			default:
				if results[i] = r.pub.Publish(eventCtx(i), events[i]); results[i] != nil {
					stop(i)
				}
			}
		}
		return
	}
	var batch []shop.Event
	var at []int
	for i := range due {
		switch {
		case results[i] != nil:
			stop(i)
		case behind(i):
			results[i] = errBehind
		default:
			batch = append(batch, events[i])
			at = append(at, i)
		}
	}
	if len(batch) == 0 {
		return
	}
	errs := bp.PublishBatch(ctx, batch)
	for j, i := range at {
		if len(errs) != len(batch) {
			results[i] = fmt.Errorf("outbox: publisher answered a batch of %d with %d results", len(batch), len(errs))
			continue
		}
		results[i] = errs[j]
	}
}

// Pending returns how many events wait to be published.
func (r *Relay) Pending(ctx context.Context) (int, error) { return Pending(ctx, r.db) }

// Pending returns how many events of db's outbox wait to be published.
func Pending(ctx context.Context, db *sqlitedb.DB) (int, error) {
	var n int
	err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n)
	return n, err
}

// Backlog returns how many events of db's outbox wait to be published, and
// when the oldest of them happened (the zero time when none wait).
func Backlog(ctx context.Context, db *sqlitedb.DB) (pending int, oldest time.Time, err error) {
	if err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&pending); err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox: count: %w", err)
	}
	if pending == 0 {
		return 0, time.Time{}, nil
	}
	var raw []byte
	err = db.R.QueryRowContext(ctx, `SELECT event FROM outbox ORDER BY seq LIMIT 1`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) { // published meanwhile
		return pending, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox: read the oldest: %w", err)
	}
	e, err := parseEvent(raw)
	if err != nil {
		return pending, time.Time{}, nil // an unreadable event has no time; the count still holds
	}
	return pending, e.Time, nil
}

func (r *Relay) backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < attempt && d < r.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.MaxBackoff)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Relays is the relay slot of a store: RunOutbox starts the relay in it,
// and the store's writes call Notify after they commit events. The zero
// value is ready to use; keep one per store.
type Relays struct {
	relay atomic.Pointer[Relay]
}

// Run relays db's outbox to pub until ctx is done (see Relay.Run), and
// lets Notify reach that relay meanwhile.
func (rs *Relays) Run(ctx context.Context, db *sqlitedb.DB, pub shop.Publisher, logger log.Logger) {
	r := NewRelay(db, pub, logger)
	rs.relay.Store(r)
	r.Run(ctx)
}

// Notify wakes the running relay, if there is one, after events were
// committed. It never blocks.
func (rs *Relays) Notify() {
	if r := rs.relay.Load(); r != nil {
		r.Notify()
	}
}
