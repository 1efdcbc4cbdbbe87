// Package inbox makes event consumers idempotent by construction. An Inbox
// records the ID of every event its consumer handled in the consumer's own
// SQLite database, in the same transaction as the handler's effect, so a
// redelivered event (brokers and outbox relays deliver at least once)
// changes nothing, whatever the handler does. It also bounds the attempts
// at an event that keeps failing: after Attempts tries with backoff the
// event is parked as a dead letter, in the inbox's own table or, for a
// broker with a dead-letter queue, there, and operators list and replay
// parked events through shop.DeadLetters.
//
// How the mark joins the handler's transaction: the wrapped handler runs
// with the event in its context, and the store's write transaction calls
// Mark(ctx, db, tx) first. The stores of this module (their SQLite
// transactions go through one place) do that by themselves; a store of
// your own calls Mark at the start of its transaction:
//
//	tx, _ := db.BeginTx(ctx, nil)
//	if err := inbox.Mark(ctx, db, tx); err != nil { // inbox.ErrHandled: done before
//		tx.Rollback()
//		return err
//	}
//	... the effect ...
//	return tx.Commit()
//
// A handler whose effect needs no transaction (nothing to change) is marked
// by the inbox after it returns. The guarantee covers the first write
// transaction a handler makes on the inbox's database; keep a handler's
// effect in one transaction.
package inbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-kit/kit/metrics"
	kitprometheus "github.com/go-kit/kit/metrics/prometheus"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/tracing"
)

// Schema is the DDL of the inbox tables: handled event IDs per consumer, and
// the events parked after their attempts ran out. Copy it into a migration
// of the consumer's database, or run it (it is idempotent) with Migrate.
const Schema = `CREATE TABLE IF NOT EXISTS inbox (
	consumer   TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	type       TEXT NOT NULL,
	handled_at INTEGER NOT NULL,
	PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inbox_handled_at ON inbox(handled_at);
CREATE TABLE IF NOT EXISTS inbox_parked (
	consumer  TEXT NOT NULL,
	event_id  TEXT NOT NULL,
	event     BLOB NOT NULL,
	reason    TEXT NOT NULL,
	attempts  INTEGER NOT NULL,
	parked_at INTEGER NOT NULL,
	PRIMARY KEY (consumer, event_id)
);`

// Migrate creates the inbox tables in db when they are missing.
func Migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, Schema); err != nil {
		return fmt.Errorf("inbox: create tables: %w", err)
	}
	return nil
}

// ErrHandled is what Mark returns when the event in the context was handled
// already (by an earlier delivery, or a concurrent one that committed
// first). Roll the transaction back and return it; the Inbox treats it as
// success.
var ErrHandled = errors.New("inbox: event already handled")

// Execer is what Mark writes through: a *sql.Tx, or a store's own
// transaction type.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Defaults of the options.
const (
	DefaultAttempts   = 5
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
	DefaultRetain     = 7 * 24 * time.Hour
)

// Inbox is one consumer's record of handled and parked events. Create it
// with New; it is safe for concurrent use.
type Inbox struct {
	db, r            *sql.DB
	consumer         string
	attempts         int
	minWait, maxWait time.Duration
	retain           time.Duration
	deadToTransport  bool
	lag              metrics.Histogram
	logger           log.Logger
	now              func() time.Time

	mu       sync.RWMutex
	handlers map[string]shop.Handler // by event type, unwrapped, for Replay

	// handled is the "handled already?" query, prepared once on r: it runs
	// for every delivery.
	prepare sync.Once
	handled *sql.Stmt
	prepErr error
}

// Option configures an Inbox.
type Option func(*Inbox)

// Attempts sets how many times a failing event is tried before it is given
// up (default DefaultAttempts). It panics when n < 1.
func Attempts(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("inbox.Attempts: need at least 1, got %d", n))
	}
	return func(ib *Inbox) { ib.attempts = n }
}

// Backoff sets the wait after the first failed attempt (doubled after each
// next one) and its cap (defaults DefaultMinBackoff, DefaultMaxBackoff). It
// panics unless 0 < min <= max.
func Backoff(min, max time.Duration) Option {
	if min <= 0 || max < min {
		panic(fmt.Sprintf("inbox.Backoff: need 0 < min <= max, got %s, %s", min, max))
	}
	return func(ib *Inbox) { ib.minWait, ib.maxWait = min, max }
}

// Retain sets how long handled event IDs are kept (default DefaultRetain):
// the window in which a redelivery is recognised. Run deletes older ones.
// It panics when d <= 0.
func Retain(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("inbox.Retain: need a positive duration, got %s", d))
	}
	return func(ib *Inbox) { ib.retain = d }
}

// ReadFrom makes the inbox's reads (is this event handled? which are
// parked?) use r, a read pool on the same database, instead of db.
func ReadFrom(r *sql.DB) Option { return func(ib *Inbox) { ib.r = r } }

// Logger sets where given-up and parked events are reported (default none).
func Logger(l log.Logger) Option { return func(ib *Inbox) { ib.logger = l } }

// DeadLetterToTransport makes the handler return an error wrapping
// shop.ErrDeadLetter when the attempts run out, instead of parking the
// event in the inbox, for a transport that parks dead letters itself (a
// RabbitMQ dead-letter queue). DeadLetters and Replay then see only what
// the inbox parked before.
func DeadLetterToTransport() Option { return func(ib *Inbox) { ib.deadToTransport = true } }

// Lag observes, for each event applied, the seconds from when it happened
// (its time attribute) to when its effect committed, labelled "type": how
// far the consumer runs behind. Prometheus calls this consumer lag; see
// NewLagHistogram.
func Lag(h metrics.Histogram) Option { return func(ib *Inbox) { ib.lag = h } }

// NewLagHistogram returns the histogram for Lag, registered on reg as
// kitshop_inbox_event_lag_seconds{consumer,type}, with buckets from 1 ms to
// 10 minutes.
func NewLagHistogram(reg prometheus.Registerer, consumer string) (metrics.Histogram, error) {
	hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "kitshop", Subsystem: "inbox", Name: "event_lag_seconds",
		Help:    "Seconds from an event's time to the commit of its effect in the consumer.",
		Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 60, 600},
	}, []string{"consumer", "type"})
	if err := reg.Register(hv); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, err
		}
		hv = are.ExistingCollector.(*prometheus.HistogramVec)
	}
	return kitprometheus.NewHistogram(hv).With("consumer", consumer), nil
}

// New returns the inbox of consumer (a service name such as "inventory") on
// db, which must hold the tables of Schema and be the database the
// handlers' effects are written to.
func New(db *sql.DB, consumer string, opts ...Option) *Inbox {
	if db == nil || consumer == "" {
		panic("inbox.New: need a database and a consumer name")
	}
	ib := &Inbox{db: db, r: db, consumer: consumer, attempts: DefaultAttempts,
		minWait: DefaultMinBackoff, maxWait: DefaultMaxBackoff, retain: DefaultRetain,
		logger: log.NewNopLogger(), now: time.Now, handlers: map[string]shop.Handler{}}
	for _, o := range opts {
		o(ib)
	}
	return ib
}

// Consumer is the name the inbox records its events under.
func (ib *Inbox) Consumer() string { return ib.consumer }

// Handle returns h wrapped for events of eventType: an event handled before
// is skipped, h's transaction records the event as handled (see Mark), a
// failure is tried again with backoff, and after the last attempt the event
// is parked (or, with DeadLetterToTransport, an error wrapping
// shop.ErrDeadLetter is returned). h is kept for Replay.
func (ib *Inbox) Handle(eventType string, h shop.Handler) shop.Handler {
	ib.mu.Lock()
	ib.handlers[eventType] = h
	ib.mu.Unlock()
	return func(ctx context.Context, e shop.Event) error { return ib.handle(ctx, e, h) }
}

// Subscribe wraps each handler of handlers (keyed by event type, as
// inventory.EventHandlers returns them) with Handle and subscribes it to sub.
func (ib *Inbox) Subscribe(sub shop.Subscriber, handlers map[string]shop.Handler) error {
	types := make([]string, 0, len(handlers))
	for t := range handlers {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if err := sub.Subscribe(t, ib.Handle(t, handlers[t])); err != nil {
			return fmt.Errorf("inbox: subscribe %s: %w", t, err)
		}
	}
	return nil
}

func (ib *Inbox) handle(ctx context.Context, e shop.Event, h shop.Handler) (err error) {
	ctx, span := tracing.FromEvent(ctx, "process", trace.SpanKindConsumer, e)
	span.SetAttributes(attribute.String("messaging.consumer.group.name", ib.consumer))
	defer func() { tracing.End(span, err) }()
	if e.ID == "" {
		err := fmt.Errorf("%w: event %s has no id, so it cannot be handled exactly once", shop.ErrDeadLetter, e.Type)
		if ib.deadToTransport {
			return err
		}
		e.ID = "missing-id-" + shop.NewID()
		return ib.park(ctx, e, err, 0)
	}
	handled, err := ib.Handled(ctx, e.ID)
	if err != nil || handled {
		return err
	}
	var last error
	attempt := 0
	for attempt < ib.attempts {
		attempt++
		if last = ib.once(ctx, e, h); last == nil {
			if ib.lag != nil && !e.Time.IsZero() {
				ib.lag.With("type", e.Type).Observe(ib.now().Sub(e.Time).Seconds())
			}
			return nil
		}
		if errors.Is(last, shop.ErrDeadLetter) {
			break
		}
		if ctx.Err() != nil {
			return last // shutting down: the transport delivers it again
		}
		if attempt == ib.attempts {
			break
		}
		t := time.NewTimer(ib.backoff(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return last
		}
	}
	level.Warn(ib.logger).Log("msg", "event given up after its attempts", "consumer", ib.consumer,
		"event_id", e.ID, "type", e.Type, "attempts", attempt, "err", last)
	if ib.deadToTransport {
		if errors.Is(last, shop.ErrDeadLetter) {
			return last
		}
		return fmt.Errorf("%w after %d attempts: %w", shop.ErrDeadLetter, attempt, last)
	}
	return ib.park(ctx, e, last, attempt)
}

// once runs h one time with the mark in its context. A nil result means
// the event is now recorded as handled.
func (ib *Inbox) once(ctx context.Context, e shop.Event, h shop.Handler) error {
	m := &mark{ib: ib, e: e}
	err := call(context.WithValue(ctx, markKey{}, m), h, e)
	if errors.Is(err, ErrHandled) {
		return nil
	}
	if err != nil || m.done {
		return err
	}
	// h changed nothing through a marked transaction: record it here.
	if _, err := ib.db.ExecContext(context.WithoutCancel(ctx), insertMark, ib.consumer, e.ID, e.Type, ib.now().UnixNano()); err != nil {
		return fmt.Errorf("inbox: record %s as handled: %w", e.ID, err)
	}
	return nil
}

func call(ctx context.Context, h shop.Handler, e shop.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler of %s panicked: %v", e.Type, p)
		}
	}()
	return h(ctx, e)
}

func (ib *Inbox) backoff(attempt int) time.Duration {
	d := ib.minWait
	for i := 1; i < attempt && d < ib.maxWait; i++ {
		d *= 2
	}
	return min(d, ib.maxWait)
}

const insertMark = `INSERT INTO inbox(consumer, event_id, type, handled_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`

type markKey struct{}

// mark is the event being handled, carried in the handler's context until
// a transaction on the inbox's database records it.
type mark struct {
	ib   *Inbox
	e    shop.Event
	done bool
}

// Mark records, inside tx, that the event being handled in ctx was handled,
// when ctx comes from an Inbox on db (a handler wrapped by Handle) and the
// event is not recorded yet; otherwise it does nothing. It returns
// ErrHandled when the event was handled already: undo tx and return that
// error. Call it at the start of every write transaction of a store that
// handlers call; it costs nothing outside handlers.
func Mark(ctx context.Context, db *sql.DB, tx Execer) error {
	m, ok := ctx.Value(markKey{}).(*mark)
	if !ok || m.done || m.ib.db != db {
		return nil
	}
	res, err := tx.ExecContext(ctx, insertMark, m.ib.consumer, m.e.ID, m.e.Type, m.ib.now().UnixNano())
	if err != nil {
		return fmt.Errorf("inbox: record %s as handled: %w", m.e.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("inbox: record %s as handled: %w", m.e.ID, err)
	} else if n == 0 {
		return ErrHandled
	}
	m.done = true
	return nil
}

// Handled reports whether the event with this ID was handled.
func (ib *Inbox) Handled(ctx context.Context, eventID string) (bool, error) {
	ib.prepare.Do(func() {
		ib.handled, ib.prepErr = ib.r.PrepareContext(context.WithoutCancel(ctx), `SELECT 1 FROM inbox WHERE consumer = ? AND event_id = ?`)
	})
	if ib.prepErr != nil {
		return false, fmt.Errorf("inbox: prepare: %w", ib.prepErr)
	}
	var one int
	err := ib.handled.QueryRowContext(ctx, ib.consumer, eventID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("inbox: look up %s: %w", eventID, err)
	}
	return true, nil
}

func (ib *Inbox) park(ctx context.Context, e shop.Event, cause error, attempts int) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("inbox: park %s: %w", e.ID, err)
	}
	reason := cause.Error()
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	if _, err := ib.db.ExecContext(context.WithoutCancel(ctx), `INSERT INTO inbox_parked(consumer, event_id, event, reason, attempts, parked_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (consumer, event_id) DO UPDATE SET
		reason = excluded.reason, attempts = inbox_parked.attempts + excluded.attempts, parked_at = excluded.parked_at`,
		ib.consumer, e.ID, raw, reason, attempts, ib.now().UnixNano()); err != nil {
		return fmt.Errorf("inbox: park %s: %w", e.ID, errors.Join(cause, err))
	}
	level.Error(ib.logger).Log("msg", "event parked as a dead letter; replay it once the cause is fixed", "consumer", ib.consumer,
		"event_id", e.ID, "type", e.Type, "reason", reason)
	return nil
}

// DeadLetters implements shop.DeadLetters: the events this inbox parked,
// oldest first.
func (ib *Inbox) DeadLetters(ctx context.Context, limit int) ([]shop.DeadLetter, error) {
	rows, err := ib.r.QueryContext(ctx, `SELECT event, reason, attempts, parked_at FROM inbox_parked
		WHERE consumer = ? ORDER BY parked_at, event_id LIMIT ?`, ib.consumer, limit)
	if err != nil {
		return nil, fmt.Errorf("inbox: list parked events: %w", err)
	}
	defer rows.Close()
	out := []shop.DeadLetter{}
	for rows.Next() {
		var raw []byte
		var at int64
		d := shop.DeadLetter{Consumer: ib.consumer}
		if err := rows.Scan(&raw, &d.Reason, &d.Attempts, &at); err != nil {
			return nil, fmt.Errorf("inbox: list parked events: %w", err)
		}
		if err := json.Unmarshal(raw, &d.Event); err != nil {
			return nil, fmt.Errorf("inbox: decode parked event: %w", err)
		}
		d.ParkedAt = time.Unix(0, at).UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inbox: list parked events: %w", err)
	}
	return out, nil
}

// Replay implements shop.DeadLetters: it runs the handler of the parked
// event once more. On success the event leaves the parked list; on failure
// it stays parked with the new reason and Replay returns the error.
func (ib *Inbox) Replay(ctx context.Context, eventID string) error {
	var raw []byte
	err := ib.db.QueryRowContext(ctx, `SELECT event FROM inbox_parked WHERE consumer = ? AND event_id = ?`, ib.consumer, eventID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return shop.E(shop.ErrNotFound, "dead_letter_not_found", "no parked event %q for %s", eventID, ib.consumer)
	}
	if err != nil {
		return fmt.Errorf("inbox: read parked event %s: %w", eventID, err)
	}
	var e shop.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("inbox: decode parked event %s: %w", eventID, err)
	}
	ib.mu.RLock()
	h, ok := ib.handlers[e.Type]
	ib.mu.RUnlock()
	if !ok {
		return shop.E(shop.ErrConflict, "no_handler", "%s has no handler for %s events; the event stays parked", ib.consumer, e.Type)
	}
	handled, err := ib.Handled(ctx, e.ID)
	if err == nil && !handled {
		err = ib.once(ctx, e, h)
	}
	if err != nil {
		if perr := ib.park(ctx, e, err, 1); perr != nil {
			return perr
		}
		return fmt.Errorf("replay %s: %w", eventID, err)
	}
	if _, err := ib.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM inbox_parked WHERE consumer = ? AND event_id = ?`, ib.consumer, eventID); err != nil {
		return fmt.Errorf("inbox: unpark %s: %w", eventID, err)
	}
	level.Info(ib.logger).Log("msg", "parked event replayed", "consumer", ib.consumer, "event_id", e.ID, "type", e.Type)
	return nil
}

// Parked returns how many events this inbox holds parked.
func (ib *Inbox) Parked(ctx context.Context) (int, error) {
	var n int
	err := ib.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM inbox_parked WHERE consumer = ?`, ib.consumer).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("inbox: count parked events: %w", err)
	}
	return n, nil
}

// Prune deletes the handled event IDs older than the retention window and
// returns how many.
func (ib *Inbox) Prune(ctx context.Context) (int64, error) {
	res, err := ib.db.ExecContext(ctx, `DELETE FROM inbox WHERE consumer = ? AND handled_at < ?`,
		ib.consumer, ib.now().Add(-ib.retain).UnixNano())
	if err != nil {
		return 0, fmt.Errorf("inbox: prune: %w", err)
	}
	return res.RowsAffected()
}

// Run prunes the inbox every hour until ctx is done.
func (ib *Inbox) Run(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := ib.Prune(ctx); err != nil && ctx.Err() == nil {
			level.Warn(ib.logger).Log("msg", "could not prune the inbox", "consumer", ib.consumer, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var _ shop.DeadLetters = (*Inbox)(nil)
