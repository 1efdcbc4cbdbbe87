// Package sqlitedb opens a service's SQLite database the same way in every
// service (WAL, busy timeout, foreign keys, one writer connection), applies
// the service's embedded, versioned migrations at start, and runs write
// transactions with group commit and prepared statements (see DB.Tx).
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/kitshop/shop/inbox"
	"github.com/kitshop/shop/internal/tracing"
)

// DB is a service's database: a single-connection pool for writes, so
// concurrent writers queue in Go instead of failing with SQLITE_BUSY, and a
// pool of read-only connections that WAL lets run beside the writer.
type DB struct {
	// W is the writer pool (one connection). Use it for every statement that
	// writes and for transactions that read what they then write.
	W *sql.DB
	// R is the reader pool. Its connections refuse writes.
	R *sql.DB

	name         string          // the file's base name, for traces
	queue        chan *txRequest // unbuffered: a send succeeds once the writer took it
	closing      chan struct{}
	writerDone   chan struct{}
	closeOnce    sync.Once
	txs, commits atomic.Uint64

	stmtMu  sync.RWMutex
	stmts   map[string]*sql.Stmt // prepared on the writer connection
	unknown map[string]struct{}  // seen in a transaction, to prepare after it

	replies []txReply // outcomes of the running batch; writer goroutine only

	borrowed bool // W and R belong to the caller (FromDB): Close leaves them open
}

// maxStatements bounds the writer's statement cache.
const maxStatements = 256

// Tx is a write transaction handed to the function given to DB.Tx. Its
// statements are prepared once per database and reused, so a hot write path
// does not pay for parsing SQL on every call.
type Tx struct {
	tx *sql.Tx
	db *DB
}

// stmt returns the prepared form of query bound to this transaction, or nil
// when it is not prepared yet (it is then prepared after the batch).
func (t *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	t.db.stmtMu.RLock()
	st, ok := t.db.stmts[query]
	t.db.stmtMu.RUnlock()
	if ok {
		return t.tx.StmtContext(ctx, st)
	}
	t.db.stmtMu.Lock()
	if len(t.db.stmts)+len(t.db.unknown) < maxStatements {
		t.db.unknown[query] = struct{}{}
	}
	t.db.stmtMu.Unlock()
	return nil
}

// ExecContext runs a statement that returns no rows.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query that returns rows.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query that returns at most one row.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// prepareSeen prepares the statements the last batch used for the first
// time. It runs on the writer goroutine between batches, when the writer
// connection is free.
func (db *DB) prepareSeen() {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	for q := range db.unknown {
		delete(db.unknown, q)
		if st, err := db.W.PrepareContext(context.Background(), q); err == nil {
			db.stmts[q] = st
		}
	}
}

// Stats counts the write transactions run through Tx and the commits that
// carried them; Transactions/Commits is the average group-commit batch.
type Stats struct {
	Transactions uint64
	Commits      uint64
	// Statements is how many distinct write statements are prepared.
	Statements int
}

// Stats returns the counts so far.
func (db *DB) Stats() Stats {
	db.stmtMu.RLock()
	n := len(db.stmts)
	db.stmtMu.RUnlock()
	return Stats{Transactions: db.txs.Load(), Commits: db.commits.Load(), Statements: n}
}

// Open opens (creating if needed) the database file at path and applies the
// migrations found in migrations (files named like 0001_init.sql, applied in
// order of their number, each once, each in its own transaction).
func Open(ctx context.Context, path string, migrations fs.FS) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	dsn := func(readOnly bool) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(1)")
		// Savepoints of group-committed transactions keep their statement
		// journals in memory instead of scratch files.
		q.Add("_pragma", "temp_store(MEMORY)")
		if readOnly {
			q.Add("_pragma", "query_only(1)")
		} else {
			q.Set("_txlock", "immediate")
		}
		return "file:" + uriPath.Replace(path) + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	if err := migrate(ctx, w, migrations); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", filepath.Base(path), err)
	}
	r, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", filepath.Base(path), err)
	}
	n := max(2, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	db := &DB{name: filepath.Base(path), W: w, R: r, queue: make(chan *txRequest), closing: make(chan struct{}), writerDone: make(chan struct{}),
		stmts: map[string]*sql.Stmt{}, unknown: map[string]struct{}{}}
	go db.writer()
	return db, nil
}

// FromDB wraps a database the caller opened and configured, so that a
// domain's SQLite store can run on it: db serves both reads and writes, and
// write transactions still go through Tx's queue (so they never fight over
// the write lock) with group commit. Close stops the queue and leaves db
// open; closing it stays the caller's job. Migrations are not applied: run
// Migrate first.
func FromDB(db *sql.DB) *DB {
	d := &DB{W: db, R: db, queue: make(chan *txRequest), closing: make(chan struct{}), writerDone: make(chan struct{}),
		stmts: map[string]*sql.Stmt{}, unknown: map[string]struct{}{}, borrowed: true}
	go d.writer()
	return d
}

// Migrate applies to db the migrations in migrations that it lacks: files
// named like 0001_init.sql, in order of their number, each once, each in its
// own transaction. Several processes may migrate one file at the same time.
func Migrate(ctx context.Context, db *sql.DB, migrations fs.FS) error {
	return migrate(ctx, db, migrations)
}

// OpenDir is Open with the migrations in the directory dir of fsys (an
// embed.FS holding "migrations/*.sql", say), so a domain's store opens its
// file in one line.
func OpenDir(ctx context.Context, path string, fsys fs.FS, dir string) (*DB, error) {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, err
	}
	return Open(ctx, path, sub)
}

// MigrateDir is Migrate with the migrations in the directory dir of fsys.
func MigrateDir(ctx context.Context, db *sql.DB, fsys fs.FS, dir string) error {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return err
	}
	return Migrate(ctx, db, sub)
}

// uriPath escapes the characters of a file path that SQLite's URI filenames
// give a meaning to: without it, a directory named "a#b" or "x?y" would
// silently open a different file, and one with "%41" would not open at all.
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// Close closes both pools (for a DB from FromDB, only its own statements).
// Transactions already running finish first; later ones fail.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.closing) })
	<-db.writerDone
	db.stmtMu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	clear(db.stmts)
	db.stmtMu.Unlock()
	if db.borrowed {
		return nil
	}
	return errors.Join(db.R.Close(), db.W.Close())
}

// Ping checks that the database answers; readiness probes use it.
func (db *DB) Ping(ctx context.Context) error {
	return db.R.PingContext(ctx)
}

// Tx runs fn in a write transaction and returns once the transaction has
// committed (nil) or fn's changes were undone (an error).
//
// Transactions are group-committed: while one batch of transactions is
// being written, the next callers queue, and their functions then run one
// after another inside a single SQLite transaction, each within its own
// savepoint. A function that fails (or panics) has its savepoint rolled back
// and gets its own error; the others are unaffected. The batch commits once,
// so under load many callers share one commit's cost, while each caller
// sees exactly the behaviour of its own serial transaction: fn observes the
// effects of the transactions before it and none after it. If the commit
// itself fails, every caller of the batch gets that error.
//
// fn runs on the caller's goroutine, so its panics reach the caller. It must
// use the ctx it is given: that carries the caller's values but not its
// cancellation, because cancelling a statement inside a shared transaction
// would abort the whole batch. A caller whose ctx ends before its turn gets
// ctx.Err() and fn does not run. fn must not call Tx itself.
//
// When ctx comes from an event handler wrapped by package inbox, the
// transaction first records the event as handled (inbox.Mark); if it was
// handled before, fn does not run and Tx returns inbox.ErrHandled.
func (db *DB) Tx(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, span := tracing.Child(ctx, "sqlite tx", trace.SpanKindInternal,
		attribute.String("db.system.name", "sqlite"), attribute.String("db.namespace", db.name))
	defer func() { tracing.End(span, err) }()
	req := &txRequest{ctx: ctx, turn: make(chan *Tx, 1), finished: make(chan error, 1), done: make(chan error, 1)}
	select {
	case db.queue <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closing:
		return errClosed
	}
	select {
	case tx := <-req.turn:
		reported := false
		defer func() {
			if !reported { // fn panicked or called runtime.Goexit
				req.finished <- errAborted
			}
		}()
		fctx := context.WithoutCancel(ctx)
		// An event handler's first transaction records its event in the
		// inbox, so the effect and the record commit together.
		err := inbox.Mark(fctx, db.W, tx)
		if err == nil {
			err = fn(fctx, tx)
		}
		reported = true
		req.finished <- err
	case err := <-req.done: // skipped before its turn
		return err
	}
	return <-req.done
}

// MaxBatch is the most transactions one group commit holds.
const MaxBatch = 128

var (
	errClosed  = errors.New("sqlitedb: database is closed")
	errAborted = errors.New("sqlitedb: transaction function did not return")
	// errBatchBroken: a savepoint could not be set or undone, so the shared
	// transaction can no longer be trusted.
	errBatchBroken = errors.New("sqlitedb: savepoint failed")
)

// txRequest is one caller's transaction. The writer gives the caller its
// turn (the shared *sql.Tx), the caller runs its function and reports how
// it finished, and the writer sends the final outcome once the batch is
// committed or undone.
type txRequest struct {
	ctx      context.Context
	turn     chan *Tx
	finished chan error
	done     chan error
}

// writer runs queued transactions in batches until the database closes.
func (db *DB) writer() {
	defer close(db.writerDone)
	batch := make([]*txRequest, 0, MaxBatch)
	for {
		select {
		case req := <-db.queue:
			batch = append(batch[:0], req)
		case <-db.closing:
			return
		}
	fill:
		for len(batch) < MaxBatch {
			select {
			case req := <-db.queue:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		db.runBatch(batch)
		clear(batch)
		// Prepare new statements before answering, while the connection is
		// free, so the next transactions find them.
		db.prepareSeen()
		for _, r := range db.replies {
			r.req.done <- r.err
		}
		clear(db.replies)
		db.replies = db.replies[:0]
	}
}

func (db *DB) runBatch(batch []*txRequest) {
	run := make([]*txRequest, 0, len(batch))
	for _, req := range batch {
		if err := req.ctx.Err(); err != nil {
			db.reply(req, err)
			continue
		}
		run = append(run, req)
	}
	if len(run) == 0 {
		return
	}
	ctx := context.Background()
	sqlTx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		for _, req := range run {
			db.reply(req, fmt.Errorf("begin: %w", err))
		}
		return
	}
	tx := &Tx{tx: sqlTx, db: db}
	single := len(run) == 1
	results := make([]error, len(run))
	for i, req := range run {
		if !single {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT tx"); err != nil {
				db.abort(tx, run, results, i, err)
				return
			}
		}
		req.turn <- tx
		results[i] = <-req.finished
		if single {
			break
		}
		if results[i] != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO tx"); err != nil {
				db.abort(tx, run, results, i, err)
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE tx"); err != nil {
			db.abort(tx, run, results, i, err)
			return
		}
	}
	if single && results[0] != nil {
		sqlTx.Rollback()
		db.reply(run[0], results[0])
		return
	}
	db.txs.Add(uint64(len(run)))
	db.commits.Add(1)
	if err := sqlTx.Commit(); err != nil {
		sqlTx.Rollback()
		for i, req := range run {
			if results[i] == nil {
				results[i] = fmt.Errorf("commit: %w", err)
			}
			db.reply(req, results[i])
		}
		return
	}
	for i, req := range run {
		db.reply(req, results[i])
	}
}

// reply records a caller's outcome; the writer sends it once the batch is
// over.
func (db *DB) reply(req *txRequest, err error) {
	db.replies = append(db.replies, txReply{req, err})
}

type txReply struct {
	req *txRequest
	err error
}

// abort undoes a batch whose savepoint handling failed at request i: every
// caller gets an error (its own if it already failed on its own).
func (db *DB) abort(tx *Tx, run []*txRequest, results []error, i int, cause error) {
	tx.tx.Rollback()
	for j, req := range run {
		if j >= i || results[j] == nil {
			results[j] = fmt.Errorf("%w: %v", errBatchBroken, cause)
		}
		db.reply(req, results[j]) // callers after i never had their turn; they read only done
	}
}

// IsUniqueViolation reports whether err is SQLite refusing a row that breaks a
// UNIQUE or PRIMARY KEY constraint.
func IsUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func migrate(ctx context.Context, db *sql.DB, migrations fs.FS) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))`); err != nil {
		return err
	}
	type step struct {
		version int
		name    string
	}
	var steps []step
	entries, err := fs.ReadDir(migrations, ".")
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return fmt.Errorf("migration %q: name must start with a positive version number and an underscore", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return fmt.Errorf("migrations %q and %q share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		steps = append(steps, step{v, e.Name()})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].version < steps[j].version })
	var current int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	for _, s := range steps {
		if s.version <= current {
			continue
		}
		body, err := fs.ReadFile(migrations, s.name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		// Another process opening the same file may have applied it since
		// current was read; the transaction holds the write lock, so this
		// check and the migration cannot interleave with that.
		var applied int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version >= ?`, s.version).Scan(&applied); err != nil {
			tx.Rollback()
			return err
		}
		if applied > 0 {
			tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, name) VALUES (?, ?)`, s.version, s.name); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}
