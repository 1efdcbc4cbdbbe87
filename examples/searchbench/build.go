package main

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing/fstest"
	"time"

	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/internal/sqlitedb"
)

// The catalogue is built the way a shop that ran an older release has it:
// the schema of the migrations before the search index (read from
// catalog/migrations, so run the harness from the repository root), filled
// with bulk inserts in large transactions; then catalog.Migrate applies the
// search migration, which builds the index for the products already there.
// That times the catalogue and the index apart, and the index's build is
// the very upgrade an existing shop goes through.

// searchMigration is the version of the migration that adds the search
// index.
const searchMigration = 3

// buildStats is what building the catalogue measured.
type buildStats struct {
	products            int
	catalogue, index    time.Duration
	vacuum              time.Duration
	sizeOld, sizeNew    int64            // the file before the search migration and after it, both vacuumed
	objects             map[string]int64 // bytes per table and index, after
	searchBytes         int64            // of which the search's tables and index
	commonDF, catDF     int              // products holding the common word, and of those in the category
	rareWord, rareCount string
}

// openBulk opens the database file for loading: one connection, WAL, no
// fsync (a crash while building just means building again).
func openBulk(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// olderMigrations returns the catalogue's migrations before the search index.
func olderMigrations() (fs.FS, error) {
	dir := filepath.Join("catalog", "migrations")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s (run from the repository root): %w", dir, err)
	}
	old := fstest.MapFS{}
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		if v, err := strconv.Atoi(num); err == nil && v < searchMigration && strings.HasSuffix(e.Name(), ".sql") {
			body, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			old[e.Name()] = &fstest.MapFile{Data: body}
		}
	}
	if len(old) != searchMigration-1 {
		return nil, fmt.Errorf("%s: found %d migrations before %04d, want %d", dir, len(old), searchMigration, searchMigration-1)
	}
	return old, nil
}

// buildCatalogue writes n generated products to a new catalogue database at
// path, then migrates it to the current schema, and measures both.
func buildCatalogue(ctx context.Context, path string, n int, seed uint64, common, category string, progress func(string)) (buildStats, error) {
	st := buildStats{products: n}
	old, err := olderMigrations()
	if err != nil {
		return st, err
	}
	db, err := openBulk(path)
	if err != nil {
		return st, err
	}
	defer db.Close()
	if err := sqlitedb.Migrate(ctx, db, old); err != nil {
		return st, fmt.Errorf("older schema: %w", err)
	}

	g := newGenerator(seed)
	collections := map[string]int{}
	began := time.Now()
	const batch = 50_000
	for done := 0; done < n; {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return st, err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO products
			(id, sku, name, name_fold, description, price, currency, category, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			tx.Rollback()
			return st, err
		}
		for i := 0; i < batch && done < n; i++ {
			p := g.next()
			done++
			created := p.created.UnixNano()
			if _, err := ins.ExecContext(ctx, p.id, p.sku, p.name, strings.ToLower(p.name), p.description,
				p.price, p.currency, p.category, created, created); err != nil {
				tx.Rollback()
				return st, fmt.Errorf("insert product %d: %w", done, err)
			}
			if c := p.collection; c != "" {
				collections[c]++
			}
			if words := strings.ToLower(p.name + " " + p.description); containsWord(words, common) {
				st.commonDF++
				if p.category == category {
					st.catDF++
				}
			}
		}
		ins.Close()
		if err := tx.Commit(); err != nil {
			return st, err
		}
		if done%200_000 == 0 || done == n {
			progress(fmt.Sprintf("  %d products, %s", done, time.Since(began).Round(100*time.Millisecond)))
		}
	}
	st.catalogue = time.Since(began)

	// The rare word: a collection name found in a handful of products.
	best := 1 << 30
	for c, k := range collections {
		if k >= 5 && k <= 20 && (abs(k-10) < abs(best-10) || abs(k-10) == abs(best-10) && c < st.rareWord) {
			st.rareWord, best = c, k
		}
	}
	st.rareCount = strconv.Itoa(best)

	t0 := time.Now()
	if _, err := db.ExecContext(ctx, `VACUUM`); err != nil {
		return st, err
	}
	st.vacuum = time.Since(t0)
	if st.sizeOld, err = dbSize(ctx, db); err != nil {
		return st, err
	}

	progress("applying the search migration (builds the index for the products there)...")
	t0 = time.Now()
	if err := catalog.Migrate(ctx, db); err != nil {
		return st, fmt.Errorf("search migration: %w", err)
	}
	st.index = time.Since(t0)
	if _, err := db.ExecContext(ctx, `VACUUM`); err != nil {
		return st, err
	}
	if st.sizeNew, err = dbSize(ctx, db); err != nil {
		return st, err
	}
	st.objects = map[string]int64{}
	rows, err := db.QueryContext(ctx, `SELECT name, SUM(pgsize) FROM dbstat GROUP BY name`)
	if err != nil {
		return st, fmt.Errorf("table sizes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			return st, err
		}
		st.objects[name] = size
		if strings.HasPrefix(name, "product_search") || strings.HasPrefix(name, "product_name_search") || name == "products_search_key" {
			st.searchBytes += size
		}
	}
	return st, rows.Err()
}

// containsWord reports whether the lower-case text holds word as a whole
// word or the start of one, as a search for it finds.
func containsWord(text, word string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		at := i + j
		if at == 0 || !isWordByte(text[at-1]) {
			return true
		}
		i = at + 1
	}
}

func isWordByte(b byte) bool {
	return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b >= 0x80
}

func abs(x int) int { return max(x, -x) }

// dbSize is the size of the database, in pages of the main file (as a
// checkpoint would leave it, whatever the write-ahead log holds).
func dbSize(ctx context.Context, db *sql.DB) (int64, error) {
	var pages, size int64
	if err := db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return 0, err
	}
	if err := db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
		return 0, err
	}
	return pages * size, nil
}
