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
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/sqlitedb"
)

// Schema is the DDL of the outbox table; copy it into a migration. It holds
// only the events still to publish: the relay deletes each one once the
// transport confirmed it, so the table stays small and each event costs two
// b-tree inserts (the row and its subject index entry). seq is the rowid:
// a new row always sorts after every row still in the table, which is the
// order the relay publishes in.
const Schema = `CREATE TABLE outbox (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL,
	subject      TEXT NOT NULL DEFAULT '',
	event        BLOB NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_subject ON outbox(subject, seq);`

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
ALTER TABLE outbox_next RENAME TO outbox;
CREATE INDEX outbox_subject ON outbox(subject, seq);`

// Add stores e in the outbox within tx, so it is published if and only if tx
// commits.
func Add(ctx context.Context, tx *sqlitedb.Tx, e shop.Event) error {
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

	// Interval is how often the relay looks for due events when nobody
	// calls Notify (default 1s).
	Interval time.Duration
	// MaxBackoff caps the delay between attempts of one event (default 1m).
	MaxBackoff time.Duration
	// Batch is how many events one pass handles at most (default 100).
	Batch int
}

// NewRelay returns a relay from db's outbox to pub. Call Run to start it.
func NewRelay(db *sqlitedb.DB, pub shop.Publisher, logger log.Logger) *Relay {
	return &Relay{db: db, pub: pub, logger: logger, wake: make(chan struct{}, 1), now: time.Now,
		Interval: time.Second, MaxBackoff: time.Minute, Batch: 100}
}

// Notify tells the relay that new events were committed, so it publishes
// them now instead of at its next interval. It never blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes events until ctx is done.
func (r *Relay) Run(ctx context.Context) {
	if r.Interval <= 0 {
		r.Interval = time.Second
	}
	if r.Batch <= 0 {
		r.Batch = 100
	}
	t := time.NewTicker(r.Interval)
	defer t.Stop()
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
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-t.C:
		}
	}
}

type pending struct {
	seq      int64
	raw      []byte
	attempts int
}

// Drain makes one pass: it tries to publish every due event (at most Batch,
// and only the oldest unsent one of each subject) and records the outcome of
// each. It returns how many events it tried.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	now := r.now()
	// An event is due when its time has come and no older event of its
	// subject is still unsent: the subject index finds that older one.
	rows, err := r.db.R.QueryContext(ctx, `SELECT seq, event, attempts FROM outbox AS o
		WHERE next_attempt <= ?
		  AND (subject = '' OR NOT EXISTS (SELECT 1 FROM outbox AS p
			WHERE p.subject = o.subject AND p.seq < o.seq))
		ORDER BY seq LIMIT ?`, now.UnixNano(), r.Batch)
	if err != nil {
		return 0, fmt.Errorf("outbox: read: %w", err)
	}
	var due []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.seq, &p.raw, &p.attempts); err != nil {
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
	var batch []shop.Event
	var batchAt []int
	for i, p := range due {
		events[i], results[i] = parseEvent(p.raw)
		if results[i] == nil {
			batch = append(batch, events[i])
			batchAt = append(batchAt, i)
		}
	}
	for j, err := range r.publish(ctx, batch) {
		results[batchAt[j]] = err
	}
	var sent []any
	for i, p := range due {
		err := results[i]
		if err == nil {
			sent = append(sent, p.seq)
			continue
		}
		if ctx.Err() != nil {
			break
		}
		delay := r.backoff(p.attempts + 1)
		level.Warn(r.logger).Log("msg", "event not published; will retry", "event_id", events[i].ID, "type", events[i].Type,
			"attempt", p.attempts+1, "retry_in", delay, "err", err)
		if _, uerr := r.db.W.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE seq = ?`,
			r.now().Add(delay).UnixNano(), truncate(err.Error(), 500), p.seq); uerr != nil {
			return len(due), fmt.Errorf("outbox: record failure: %w", errors.Join(err, uerr))
		}
	}
	if len(sent) > 0 {
		// Deleted with the caller's context cut loose: the events are out,
		// and forgetting that would publish them again.
		if _, err := r.db.W.ExecContext(context.WithoutCancel(ctx), `DELETE FROM outbox WHERE seq IN (?`+strings.Repeat(",?", len(sent)-1)+`)`, sent...); err != nil {
			return len(due), fmt.Errorf("outbox: delete sent events: %w", err)
		}
	}
	return len(due), ctx.Err()
}

// publish hands events to the publisher: in one batch when it takes
// batches, else one after another, stopping at the first failure of a
// cancelled context.
func (r *Relay) publish(ctx context.Context, events []shop.Event) []error {
	if len(events) == 0 {
		return nil
	}
	if bp, ok := r.pub.(shop.BatchPublisher); ok && len(events) > 1 {
		errs := bp.PublishBatch(ctx, events)
		if len(errs) != len(events) {
			errs = make([]error, len(events))
			for i := range errs {
				errs[i] = fmt.Errorf("outbox: publisher answered a batch of %d with %d results", len(events), len(errs))
			}
		}
		return errs
	}
	errs := make([]error, len(events))
	for i, e := range events {
		if err := ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = r.pub.Publish(ctx, e)
	}
	return errs
}

// Pending returns how many events wait to be published.
func (r *Relay) Pending(ctx context.Context) (int, error) { return Pending(ctx, r.db) }

// Pending returns how many events of db's outbox wait to be published.
func Pending(ctx context.Context, db *sqlitedb.DB) (int, error) {
	var n int
	err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n)
	return n, err
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
