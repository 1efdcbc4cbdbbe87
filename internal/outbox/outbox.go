// Package outbox is the transactional outbox: a service writes the events of
// a change into its own database in the same transaction as the change, and a
// relay publishes them afterwards, retrying until the publisher accepts each
// one. A crash or a broker outage delays an event; it never loses it.
//
// A service's migrations must create the table (see Schema).
package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/sqlitedb"
)

// Schema is the DDL of the outbox table; copy it into a migration.
const Schema = `CREATE TABLE outbox (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	id           TEXT NOT NULL UNIQUE,
	event        BLOB NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	sent_at      INTEGER
);
CREATE INDEX outbox_pending ON outbox(next_attempt) WHERE sent_at IS NULL;`

// Add stores e in the outbox within tx, so it is published if and only if tx
// commits.
func Add(ctx context.Context, tx *sqlitedb.Tx, e shop.Event) error {
	raw, err := jsonEvent(e)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(id, event) VALUES (?, ?)`, e.ID, raw); err != nil {
		return fmt.Errorf("outbox: add %s: %w", e.Type, err)
	}
	return nil
}

// Relay publishes a database's outbox events in the order they were added.
// An event the publisher refuses is retried with exponential backoff (capped
// at MaxBackoff) without holding up the events behind it.
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

// Drain makes one pass: it tries to publish every due event (at most Batch)
// and records the outcome of each. It returns how many events it tried.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	now := r.now()
	rows, err := r.db.R.QueryContext(ctx, `SELECT seq, event, attempts FROM outbox
		WHERE sent_at IS NULL AND next_attempt <= ? ORDER BY seq LIMIT ?`, now.UnixNano(), r.Batch)
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
	for _, p := range due {
		e, err := parseEvent(p.raw)
		if err == nil {
			err = r.pub.Publish(ctx, e)
		}
		if err == nil {
			if _, err := r.db.W.ExecContext(ctx, `UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = '' WHERE seq = ?`,
				r.now().UnixNano(), p.seq); err != nil {
				return len(due), fmt.Errorf("outbox: mark sent: %w", err)
			}
			continue
		}
		if ctx.Err() != nil {
			return len(due), ctx.Err()
		}
		delay := r.backoff(p.attempts + 1)
		level.Warn(r.logger).Log("msg", "event not published; will retry", "event_id", e.ID, "type", e.Type,
			"attempt", p.attempts+1, "retry_in", delay, "err", err)
		if _, uerr := r.db.W.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE seq = ?`,
			r.now().Add(delay).UnixNano(), truncate(err.Error(), 500), p.seq); uerr != nil {
			return len(due), fmt.Errorf("outbox: record failure: %w", errors.Join(err, uerr))
		}
	}
	return len(due), nil
}

// Pending returns how many events wait to be published.
func (r *Relay) Pending(ctx context.Context) (int, error) { return Pending(ctx, r.db) }

// Pending returns how many events of db's outbox wait to be published.
func Pending(ctx context.Context, db *sqlitedb.DB) (int, error) {
	var n int
	err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`).Scan(&n)
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
