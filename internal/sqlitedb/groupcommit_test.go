package sqlitedb_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kitshop/shop/internal/sqlitedb"
)

// holdWriter starts a transaction that keeps the writer busy until the
// returned release function is called, so the transactions started meanwhile
// queue up and run as one batch.
func holdWriter(t *testing.T, db *sqlitedb.DB) (release func()) {
	t.Helper()
	started, gate, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error {
			close(started)
			<-gate
			_, err := tx.ExecContext(ctx, `INSERT INTO items(name) VALUES ('holder')`)
			return err
		})
	}()
	<-started
	return func() {
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("holding transaction: %v", err)
		}
	}
}

// waitQueued gives n goroutines time to block on the writer's queue.
func waitQueued() { time.Sleep(200 * time.Millisecond) }

func TestGroupCommitIsolatesFailures(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "g.db"), migrations(map[string]string{
		"0001_items.sql": `CREATE TABLE items (name TEXT PRIMARY KEY)`,
	}))
	release := holdWriter(t, db)

	const n = 12
	errs := make([]error, n)
	panics := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = db.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO items(name) VALUES (?)`, fmt.Sprint("item-", i)); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return errors.New("refused")
				case 2:
					// A duplicate key fails one statement; the caller gives up.
					_, err := tx.ExecContext(ctx, `INSERT INTO items(name) VALUES ('holder')`)
					return err
				case 3:
					if i == 3 {
						panic("boom")
					}
				}
				return nil
			})
		}()
	}
	waitQueued()
	release()
	wg.Wait()

	for i := range n {
		var present int
		if err := db.R.QueryRow(`SELECT COUNT(*) FROM items WHERE name = ?`, fmt.Sprint("item-", i)).Scan(&present); err != nil {
			t.Fatal(err)
		}
		wantPresent := i%4 == 0 || (i%4 == 3 && i != 3)
		switch {
		case i == 3:
			if panics[i] != "boom" {
				t.Errorf("caller %d: panic %v did not reach the caller", i, panics[i])
			}
		case wantPresent && errs[i] != nil:
			t.Errorf("caller %d: %v", i, errs[i])
		case !wantPresent && errs[i] == nil:
			t.Errorf("caller %d: failed function reported success", i)
		}
		if (present == 1) != wantPresent {
			t.Errorf("item-%d present = %d, want %v", i, present, wantPresent)
		}
	}
	if got := count(t, db.R, `SELECT COUNT(*) FROM items WHERE name = 'holder'`); got != 1 {
		t.Fatalf("holder rows = %d", got)
	}
	if st := db.Stats(); st.Commits >= st.Transactions {
		t.Fatalf("stats %+v: the queued transactions were not committed together", st)
	}
}

func TestGroupCommitRunsInOrderAndSeesEarlierWrites(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "g.db"), migrations(map[string]string{
		"0001_counter.sql": `CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0); CREATE TABLE items (name TEXT PRIMARY KEY)`,
	}))
	release := holdWriter(t, db)
	const n = 20
	seen := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error {
				if err := tx.QueryRowContext(ctx, `UPDATE counter SET n = n + 1 RETURNING n`).Scan(&seen[i]); err != nil {
					return err
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	waitQueued()
	release()
	wg.Wait()
	got := map[int]bool{}
	for _, v := range seen {
		got[v] = true
	}
	if len(got) != n || !got[1] || !got[n] {
		t.Fatalf("counter values seen = %v, want each of 1..%d once", seen, n)
	}
}

func TestTxCancelledBeforeItsTurnDoesNotRun(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "g.db"), migrations(map[string]string{
		"0001_items.sql": `CREATE TABLE items (name TEXT PRIMARY KEY)`,
	}))
	release := holdWriter(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ran := false
	go func() {
		done <- db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error { ran = true; return nil })
	}()
	waitQueued()
	cancel()
	release()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Tx = %v, want context.Canceled", err)
	}
	if ran {
		t.Fatal("the function of a cancelled transaction ran")
	}
}

func TestTxAfterClose(t *testing.T) {
	db, err := sqlitedb.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), migrations(nil))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	err = db.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error { return nil })
	if err == nil {
		t.Fatal("Tx on a closed database succeeded")
	}
}

func TestTxStatementsArePreparedOnce(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "s.db"), migrations(map[string]string{
		"0001_items.sql": `CREATE TABLE items (name TEXT PRIMARY KEY)`,
	}))
	insert := func(name string) {
		t.Helper()
		err := db.Tx(context.Background(), func(ctx context.Context, tx *sqlitedb.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO items(name) VALUES (?)`, name)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	insert("a")
	before := db.Stats().Statements
	insert("b")
	insert("c")
	after := db.Stats().Statements
	if before != 1 || after != 1 {
		t.Fatalf("prepared statements: %d after the first use, %d after reuse; want 1 and 1", before, after)
	}
	if got := count(t, db.R, `SELECT COUNT(*) FROM items`); got != 3 {
		t.Fatalf("items = %d, want 3 (the prepared statement must bind new arguments)", got)
	}
}
