package sqlitedb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kitshop/shop/internal/sqlitedb"
)

func migrations(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

func open(t *testing.T, path string, fsys fstest.MapFS) *sqlitedb.DB {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), path, fsys)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, q interface {
	QueryRow(string, ...any) *sql.Row
}, query string, args ...any) int {
	t.Helper()
	var n int
	if err := q.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func appliedVersions(t *testing.T, db *sqlitedb.DB) []string {
	t.Helper()
	rows, err := db.R.Query(`SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s", v, name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

var itemsV1 = map[string]string{
	"0001_items.sql": `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
		INSERT INTO items(name) VALUES ('seed');`,
}

func TestOpenCreatesFileAndDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "catalog", "catalog.db")
	db := open(t, path, migrations(itemsV1))

	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created: %v", err)
	}
	if got := count(t, db.R, `SELECT COUNT(*) FROM items WHERE name = 'seed'`); got != 1 {
		t.Errorf("seed rows = %d, want 1", got)
	}
	if got, want := strings.Join(appliedVersions(t, db), ","), "1:0001_items.sql"; got != want {
		t.Errorf("schema_migrations = %s, want %s", got, want)
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestOpenAppliesEachMigrationOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db")
	db, err := sqlitedb.Open(context.Background(), path, migrations(itemsV1))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Re-opening with the same migrations must not run them again: the
	// CREATE TABLE would fail and the seed row would be duplicated.
	db, err = sqlitedb.Open(context.Background(), path, migrations(itemsV1))
	if err != nil {
		t.Fatalf("re-open: %v", err)
	}
	if got := count(t, db.R, `SELECT COUNT(*) FROM items`); got != 1 {
		t.Errorf("after re-open: %d rows, want 1", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A migration added later is applied, and only it.
	v2 := map[string]string{
		"0001_items.sql": itemsV1["0001_items.sql"],
		"0002_price.sql": `ALTER TABLE items ADD COLUMN price INTEGER NOT NULL DEFAULT 0;
			INSERT INTO items(name, price) VALUES ('second', 5);`,
	}
	db = open(t, path, migrations(v2))
	if got := count(t, db.R, `SELECT COUNT(*) FROM items`); got != 2 {
		t.Errorf("after new migration: %d rows, want 2", got)
	}
	if got := count(t, db.R, `SELECT price FROM items WHERE name = 'second'`); got != 5 {
		t.Errorf("price = %d, want 5", got)
	}
	if got, want := strings.Join(appliedVersions(t, db), ","), "1:0001_items.sql,2:0002_price.sql"; got != want {
		t.Errorf("schema_migrations = %s, want %s", got, want)
	}
}

func TestOpenAppliesMigrationsInNumericOrder(t *testing.T) {
	// By name "10_" sorts before "2_"; by number it comes last.
	fsys := migrations(map[string]string{
		"2_create.sql": `CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);`,
		"9_nine.sql":   `INSERT INTO log(v) VALUES ('nine');`,
		"10_ten.sql":   `INSERT INTO log(v) VALUES ('ten');`,
		"README.md":    `not a migration`,
		"notes.txt":    `neither`,
		// A file in a sub-directory is not one of this directory's migrations.
		"sub/0001_elsewhere.sql": `THIS IS NOT SQL;`,
	})
	db := open(t, filepath.Join(t.TempDir(), "shop.db"), fsys)

	rows, err := db.R.Query(`SELECT v FROM log ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if strings.Join(got, ",") != "nine,ten" {
		t.Errorf("applied order = %v, want [nine ten]", got)
	}
	if got, want := strings.Join(appliedVersions(t, db), ","), "2:2_create.sql,9:9_nine.sql,10:10_ten.sql"; got != want {
		t.Errorf("schema_migrations = %s, want %s", got, want)
	}
}

func TestOpenWithoutMigrations(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "empty.db"), fstest.MapFS{})
	if got := appliedVersions(t, db); len(got) != 0 {
		t.Errorf("schema_migrations = %v, want none", got)
	}
}

func TestOpenRefusesBadMigrationNames(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // must appear in the error
	}{
		{"no version", map[string]string{"init.sql": "SELECT 1;"}, "init.sql"},
		{"no underscore", map[string]string{"0001.sql": "SELECT 1;"}, "0001.sql"},
		{"version not a number", map[string]string{"abc_init.sql": "SELECT 1;"}, "abc_init.sql"},
		{"version zero", map[string]string{"0_init.sql": "SELECT 1;"}, "0_init.sql"},
		{"negative version", map[string]string{"-1_init.sql": "SELECT 1;"}, "-1_init.sql"},
		{"shared version", map[string]string{"0001_a.sql": "SELECT 1;", "1_b.sql": "SELECT 1;"}, "share version 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlitedb.Open(context.Background(), filepath.Join(t.TempDir(), "shop.db"), migrations(tt.files))
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if db != nil {
				t.Error("Open returned a DB with its error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestFailedMigrationIsRolledBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db")
	bad := migrations(map[string]string{
		"0001_items.sql": itemsV1["0001_items.sql"],
		"0002_broken.sql": `CREATE TABLE half (x INTEGER);
			INSERT INTO no_such_table VALUES (1);`,
	})
	_, err := sqlitedb.Open(context.Background(), path, bad)
	if err == nil {
		t.Fatal("Open with a broken migration succeeded")
	}
	if !strings.Contains(err.Error(), "0002_broken.sql") {
		t.Errorf("error %q does not name the broken migration", err)
	}

	fixed := migrations(map[string]string{
		"0001_items.sql": itemsV1["0001_items.sql"],
		"0002_broken.sql": `CREATE TABLE half (x INTEGER);
			INSERT INTO half VALUES (1);`,
	})
	db := open(t, path, fixed)
	// 0001 was kept; the broken 0002 left nothing behind, so its fixed
	// version could create the same table.
	if got := count(t, db.R, `SELECT COUNT(*) FROM items`); got != 1 {
		t.Errorf("items rows = %d, want 1", got)
	}
	if got := count(t, db.R, `SELECT COUNT(*) FROM half`); got != 1 {
		t.Errorf("half rows = %d, want 1", got)
	}
	if got, want := strings.Join(appliedVersions(t, db), ","), "1:0001_items.sql,2:0002_broken.sql"; got != want {
		t.Errorf("schema_migrations = %s, want %s", got, want)
	}
}

func TestConcurrentOpenAppliesMigrationsOnce(t *testing.T) {
	// Several processes start on an existing database to which a new
	// release adds a migration. (The database is created first: SQLite's
	// one-time switch of a new file to WAL can itself fail with SQLITE_BUSY
	// when connections race to create the file.)
	path := filepath.Join(t.TempDir(), "shop.db")
	first, err := sqlitedb.Open(context.Background(), path, fstest.MapFS{})
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	dbs := make(chan *sqlitedb.DB, n)
	for range n {
		wg.Go(func() {
			db, err := sqlitedb.Open(context.Background(), path, migrations(itemsV1))
			if err != nil {
				errs <- err
				return
			}
			dbs <- db
		})
	}
	wg.Wait()
	close(errs)
	close(dbs)
	for err := range errs {
		t.Errorf("concurrent Open: %v", err)
	}
	var last *sqlitedb.DB
	for db := range dbs {
		if last != nil {
			last.Close()
		}
		last = db
	}
	if last == nil {
		t.Fatal("no Open succeeded")
	}
	defer last.Close()
	if got := count(t, last.R, `SELECT COUNT(*) FROM items`); got != 1 {
		t.Errorf("items rows = %d, want 1 (migration applied more than once?)", got)
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	// SQLite reads "file:" names as URIs, where '?', '#' and '%' mean
	// something; a directory holding them must still name the file.
	for _, dir := range []string{"a#b", "p%41q", "x?y", "with space", "semi;colon&amp=1"} {
		t.Run(dir, func(t *testing.T) {
			parent := t.TempDir()
			path := filepath.Join(parent, dir, "shop.db")
			db, err := sqlitedb.Open(context.Background(), path, migrations(itemsV1))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if _, err := db.W.Exec(`INSERT INTO items(name) VALUES ('kept')`); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("database is not at %q: %v", path, err)
			}
			entries, err := os.ReadDir(parent)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != dir {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("files beside the database directory: %v, want only %q", names, dir)
			}
			db = open(t, path, migrations(itemsV1))
			if got := count(t, db.R, `SELECT COUNT(*) FROM items WHERE name = 'kept'`); got != 1 {
				t.Errorf("re-opened database lost its row (count %d)", got)
			}
		})
	}
}

func TestPragmas(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "shop.db"), fstest.MapFS{})
	for _, pool := range []struct {
		name string
		db   *sql.DB
	}{{"writer", db.W}, {"reader", db.R}} {
		var mode string
		if err := pool.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" {
			t.Errorf("%s journal_mode = %q, want wal", pool.name, mode)
		}
		if got := count(t, pool.db, `PRAGMA foreign_keys`); got != 1 {
			t.Errorf("%s foreign_keys = %d, want 1", pool.name, got)
		}
		if got := count(t, pool.db, `PRAGMA busy_timeout`); got < 1000 {
			t.Errorf("%s busy_timeout = %d ms, want a generous wait", pool.name, got)
		}
	}
}

func TestForeignKeysEnforced(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "shop.db"), migrations(map[string]string{
		"0001_init.sql": `CREATE TABLE parents (id INTEGER PRIMARY KEY);
			CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents(id));`,
	}))
	ctx := context.Background()
	_, err := db.W.ExecContext(ctx, `INSERT INTO children(id, parent_id) VALUES (1, 42)`)
	if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
		t.Fatalf("insert of an orphan = %v, want a foreign key failure", err)
	}
	err = db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO parents(id) VALUES (42)`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO children(id, parent_id) VALUES (1, 42)`)
		return err
	})
	if err != nil {
		t.Fatalf("insert with parent: %v", err)
	}
	_, err = db.W.ExecContext(ctx, `DELETE FROM parents WHERE id = 42`)
	if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
		t.Fatalf("delete of a referenced parent = %v, want a foreign key failure", err)
	}
}

func TestReaderRefusesWrites(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "shop.db"), migrations(itemsV1))
	for _, stmt := range []string{
		`INSERT INTO items(name) VALUES ('sneaky')`,
		`UPDATE items SET name = 'changed'`,
		`DELETE FROM items`,
		`CREATE TABLE other (x)`,
	} {
		if _, err := db.R.Exec(stmt); err == nil {
			t.Errorf("reader pool ran %q", stmt)
		}
	}
	var name string
	if err := db.R.QueryRow(`SELECT name FROM items`).Scan(&name); err != nil || name != "seed" {
		t.Errorf("reader pool read %q, %v; want seed", name, err)
	}
	if got := count(t, db.W, `SELECT COUNT(*) FROM items`); got != 1 {
		t.Errorf("rows = %d after refused writes, want 1", got)
	}
}

func TestReaderSeesCommittedWrites(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "shop.db"), migrations(itemsV1))
	if _, err := db.W.Exec(`INSERT INTO items(name) VALUES ('new')`); err != nil {
		t.Fatal(err)
	}
	if got := count(t, db.R, `SELECT COUNT(*) FROM items WHERE name = 'new'`); got != 1 {
		t.Errorf("reader sees %d new rows, want 1", got)
	}
}

func TestConcurrentWriters(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "shop.db"), migrations(map[string]string{
		"0001_init.sql": `CREATE TABLE events (id INTEGER PRIMARY KEY, writer INTEGER NOT NULL, n INTEGER NOT NULL);
			CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
			INSERT INTO counter VALUES (1, 0);`,
	}))
	const writers, perWriter = 50, 20
	ctx := context.Background()

	stop := make(chan struct{})
	var readers sync.WaitGroup
	readErrs := make(chan error, 2)
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				if err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
					readErrs <- err
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				err := db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
					// Read, then write what was read: a lost update would
					// show as a counter below writers*perWriter.
					var n int
					if err := tx.QueryRowContext(ctx, `SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, `UPDATE counter SET n = ? WHERE id = 1`, n+1); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `INSERT INTO events(writer, n) VALUES (?, ?)`, w, i)
					return err
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	close(readErrs)
	for err := range errs {
		t.Errorf("writer: %v", err)
	}
	for err := range readErrs {
		t.Errorf("reader: %v", err)
	}
	if got := count(t, db.R, `SELECT COUNT(*) FROM events`); got != writers*perWriter {
		t.Errorf("events = %d, want %d", got, writers*perWriter)
	}
	if got := count(t, db.R, `SELECT n FROM counter`); got != writers*perWriter {
		t.Errorf("counter = %d, want %d (lost updates)", got, writers*perWriter)
	}
}

func TestTxRollsBackOnError(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "shop.db"), migrations(itemsV1))
	errStop := errors.New("stop here")
	err := db.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO items(name) VALUES ('doomed')`); err != nil {
			return err
		}
		return fmt.Errorf("validate: %w", errStop)
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Tx = %v, want fn's error", err)
	}
	if got := count(t, db.R, `SELECT COUNT(*) FROM items WHERE name = 'doomed'`); got != 0 {
		t.Errorf("rolled-back row is visible")
	}
	// The writer connection is free again.
	if err := db.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO items(name) VALUES ('next')`)
		return err
	}); err != nil {
		t.Fatalf("Tx after rollback: %v", err)
	}
	if got := count(t, db.R, `SELECT COUNT(*) FROM items`); got != 2 {
		t.Errorf("rows = %d, want 2", got)
	}
}

func TestTxRollsBackOnPanic(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "shop.db"), migrations(itemsV1))
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the panic to pass through", p)
			}
		}()
		db.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO items(name) VALUES ('doomed')`); err != nil {
				return err
			}
			panic("boom")
		})
	}()

	// A panic must not leave the one writer connection inside a
	// transaction, or every later write would wait forever.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO items(name) VALUES ('after')`)
		return err
	})
	if err != nil {
		t.Fatalf("Tx after a panicking Tx: %v", err)
	}
	if got := count(t, db.R, `SELECT COUNT(*) FROM items WHERE name = 'doomed'`); got != 0 {
		t.Errorf("the panicking transaction's row was committed")
	}
}

func TestTxRollsBackOnGoexit(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "shop.db"), migrations(itemsV1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error {
			tx.ExecContext(ctx, `INSERT INTO items(name) VALUES ('doomed')`)
			runtime.Goexit() // what t.FailNow does inside fn
			return nil
		})
	}()
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error { return nil }); err != nil {
		t.Fatalf("Tx after a Tx whose goroutine exited: %v", err)
	}
	if got := count(t, db.R, `SELECT COUNT(*) FROM items WHERE name = 'doomed'`); got != 0 {
		t.Errorf("the abandoned transaction's row was committed")
	}
}

func TestIsUniqueViolation(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "shop.db"), migrations(map[string]string{
		"0001_init.sql": `CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, age INTEGER CHECK (age >= 0));
			CREATE TABLE pets (id INTEGER PRIMARY KEY, owner TEXT NOT NULL REFERENCES users(id));
			INSERT INTO users VALUES ('u1', 'a@example.com', 30);`,
	}))
	exec := func(q string) error {
		_, err := db.W.Exec(q)
		return err
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"unique column", exec(`INSERT INTO users VALUES ('u2', 'a@example.com', 1)`), true},
		{"primary key", exec(`INSERT INTO users VALUES ('u1', 'b@example.com', 1)`), true},
		{"wrapped", fmt.Errorf("create user: %w", exec(`INSERT INTO users VALUES ('u1', 'c@example.com', 1)`)), true},
		{"not null", exec(`INSERT INTO users VALUES ('u3', NULL, 1)`), false},
		{"check", exec(`INSERT INTO users VALUES ('u4', 'd@example.com', -1)`), false},
		{"foreign key", exec(`INSERT INTO pets(owner) VALUES ('nobody')`), false},
		{"syntax", exec(`INSERT INTO`), false},
		{"plain error", errors.New("boom"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "nil" && tt.err == nil {
				t.Fatal("statement unexpectedly succeeded")
			}
			if got := sqlitedb.IsUniqueViolation(tt.err); got != tt.want {
				t.Errorf("IsUniqueViolation(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestClose(t *testing.T) {
	db, err := sqlitedb.Open(context.Background(), filepath.Join(t.TempDir(), "shop.db"), migrations(itemsV1))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Ping(context.Background()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if _, err := db.W.Exec(`INSERT INTO items(name) VALUES ('x')`); err == nil {
		t.Error("write after Close succeeded")
	}
}

// A database the caller opened works through FromDB after Migrate, and
// stays open when the DB is closed.
func TestFromDB(t *testing.T) {
	ctx := context.Background()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "own.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	migrations := fstest.MapFS{"0001_init.sql": {Data: []byte(`CREATE TABLE t (n INTEGER NOT NULL)`)}}
	if err := sqlitedb.Migrate(ctx, raw, migrations); err != nil {
		t.Fatal(err)
	}
	if err := sqlitedb.Migrate(ctx, raw, migrations); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	db := sqlitedb.FromDB(raw)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO t(n) VALUES (?)`, i)
				return err
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 20 {
		t.Fatalf("rows = %d, %v; want 20 and the caller's database still open", n, err)
	}
}
