package catalog

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/sqlitedb"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store keeps the products of the catalogue. NewService takes any Store:
// SQLiteStore is the shop's, and one over another database (or in memory)
// can be written outside this package; catalogtest.Run checks a service on
// it. The service validates and trims every product and patch before it
// reaches the store, makes the IDs and sets the times (in UTC); a store
// keeps them as given, times to the nanosecond, and hands them back so.
//
// Errors: a store returns the errors its methods document, made with
// ProductNotFoundError and SKUTakenError so they carry the right kind and
// code, and a plain error for anything else (callers then see an internal
// error). Every method must be safe for concurrent use.
type Store interface {
	// Insert stores a new product. If another product has p.SKU it stores
	// nothing and returns SKUTakenError(p.SKU); concurrent inserts of one
	// SKU must leave one product with it.
	Insert(ctx context.Context, p Product) error

	// Get returns the product with id, or ProductNotFoundError(id).
	Get(ctx context.Context, id string) (Product, error)

	// Update sets, in one atomic step, the fields of the product with id
	// for which patch is not nil, and its UpdatedAt to now, or to one
	// nanosecond after the old UpdatedAt if now is not later (so UpdatedAt
	// always moves forward). It returns the product as it now is, and List
	// sees the change at once. Errors: ProductNotFoundError(id) when no
	// product has id; SKUTakenError(*patch.SKU) when another product has
	// that SKU, and then nothing changes.
	Update(ctx context.Context, id string, patch ProductPatch, now time.Time) (Product, error)

	// Delete removes the product with id, freeing its SKU, or returns
	// ProductNotFoundError(id).
	Delete(ctx context.Context, id string) error

	// List returns the products q selects, in ascending ID order (byte-wise
	// string order), never a nil slice. Paging (calls each After the last
	// ID of the previous) lists every product that exists throughout
	// exactly once, whatever is written meanwhile.
	List(ctx context.Context, q StoreQuery) ([]Product, error)
}

// StoreQuery selects products for Store.List: at most Limit of them
// (at least 1) whose ID sorts after After ("" for the start), with Category
// exactly when Category is not empty, and, when Q is not empty, whose name
// contains Q ignoring case: strings.Contains(strings.ToLower(name),
// strings.ToLower(Q)), every character of Q taken literally.
type StoreQuery struct {
	After    string
	Limit    int
	Category string
	Q        string
}

// ProductNotFoundError is the error of an operation on a product ID that no
// product has: shop.ErrNotFound with CodeProductNotFound. Stores return it.
func ProductNotFoundError(id string) error {
	return shop.E(shop.ErrNotFound, CodeProductNotFound, "product %q not found", id)
}

// SKUTakenError is the error of a create or update that would give a second
// product the SKU sku: shop.ErrConflict with CodeSKUTaken. Stores return it.
func SKUTakenError(sku string) error {
	return shop.E(shop.ErrConflict, CodeSKUTaken, "sku %q is already used by another product", sku)
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// productColumns is the column list every query reading products selects,
// in the order scanProduct expects.
const productColumns = `id, sku, name, description, price, currency, category, created_at, updated_at`

// getQuery is the point read by id, the shop's hottest query.
const getQuery = `SELECT ` + productColumns + ` FROM products WHERE id = ?`

// SQLiteStore is the Store on a SQLite database. Open one with
// OpenSQLiteStore, or run one on a database of your own with NewSQLiteStore.
type SQLiteStore struct {
	db *sqlitedb.DB

	// getStmt is the prepared point read on the reader pool, prepared by
	// OpenSQLiteStore or else on the first Get (see prepareGet).
	getStmt atomic.Pointer[sql.Stmt]
	prepMu  sync.Mutex // serialises preparing getStmt and closing it
	closed  bool       // guarded by prepMu
}

var _ Store = (*SQLiteStore)(nil)

// OpenSQLiteStore opens (creating if needed) the catalogue database file at
// path the shop's way (WAL, busy timeout, foreign keys, one writer
// connection with group commit), brings its schema up to date and prepares
// the product read.
func OpenSQLiteStore(ctx context.Context, path string) (*SQLiteStore, error) {
	db, err := sqlitedb.OpenDir(ctx, path, migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	s := &SQLiteStore{db: db}
	if _, err := s.prepareGet(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// NewSQLiteStore runs the store on db, a database the caller opened with the
// modernc.org/sqlite driver (registered as "sqlite"; the store tells a SKU
// conflict by that driver's error codes) and migrated with Migrate. db
// serves reads and writes. Nothing is checked or prepared here: the product
// read is prepared on the first Get (a failure is that call's error,
// and the next call tries again). Closing the store leaves db open.
func NewSQLiteStore(db *sql.DB) *SQLiteStore {
	return &SQLiteStore{db: sqlitedb.FromDB(db)}
}

// Migrate brings the catalogue's schema in db up to date: the tables
// NewSQLiteStore needs, created or changed by the versioned migrations
// embedded in this package. It is safe to run on every start.
func Migrate(ctx context.Context, db *sql.DB) error {
	return sqlitedb.MigrateDir(ctx, db, migrationFiles, "migrations")
}

// Close releases the database (for a store from NewSQLiteStore, only what the
// store itself holds). Calls after Close fail.
func (s *SQLiteStore) Close() error {
	s.prepMu.Lock()
	s.closed = true
	var err error
	if st := s.getStmt.Swap(nil); st != nil {
		err = st.Close()
	}
	s.prepMu.Unlock()
	return errors.Join(err, s.db.Close())
}

// Ping reports whether the database answers; use it as a readiness check.
func (s *SQLiteStore) Ping(ctx context.Context) error {
	return s.db.Ping(ctx)
}

// errStoreClosed is the error of a read on a closed store.
var errStoreClosed = errors.New("catalog: the store is closed")

// prepareGet returns the prepared point read, preparing it first if needed.
func (s *SQLiteStore) prepareGet(ctx context.Context) (*sql.Stmt, error) {
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	if s.closed {
		return nil, errStoreClosed
	}
	if st := s.getStmt.Load(); st != nil {
		return st, nil
	}
	st, err := s.db.R.PrepareContext(ctx, getQuery)
	if err != nil {
		return nil, fmt.Errorf("prepare product read: %w", err)
	}
	s.getStmt.Store(st)
	return st, nil
}

// isSKUViolation reports whether err is the unique index on products.sku
// refusing a row. It goes by the driver's extended result code alone:
// SQLITE_CONSTRAINT_UNIQUE comes only from a UNIQUE constraint or index
// other than the primary key (a duplicate id is
// SQLITE_CONSTRAINT_PRIMARYKEY), and products_sku is the only one on the
// products table, as TestProductsUniqueIndexes checks. A migration adding
// another must make this check tell them apart.
func isSKUViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// fromNanos turns a stored time back into a UTC time.Time.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// foldName is the form of a name that the name search compares.
func foldName(name string) string { return strings.ToLower(name) }

type scanner interface {
	Scan(dest ...any) error
}

func scanProduct(row scanner) (Product, error) {
	var (
		p                Product
		created, updated int64
	)
	err := row.Scan(&p.ID, &p.SKU, &p.Name, &p.Description, &p.Price, &p.Currency, &p.Category, &created, &updated)
	if err != nil {
		return Product{}, err
	}
	p.CreatedAt, p.UpdatedAt = fromNanos(created), fromNanos(updated)
	return p, nil
}

// Insert stores a new product (see Store).
func (s *SQLiteStore) Insert(ctx context.Context, p Product) error {
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO products
		(id, sku, name, name_fold, description, price, currency, category, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.SKU, p.Name, foldName(p.Name), p.Description, p.Price, p.Currency, p.Category,
		p.CreatedAt.UnixNano(), p.UpdatedAt.UnixNano())
	switch {
	case isSKUViolation(err):
		return SKUTakenError(p.SKU)
	case err != nil:
		return fmt.Errorf("insert product: %w", err)
	}
	return nil
}

// Get reads one product from the reader pool with the prepared
// statement (see Store).
//
// The read ignores the context's cancellation: a point read by primary key on
// a WAL reader never waits for writers and takes microseconds, while a
// cancellable context costs two goroutines per call (one in database/sql,
// one in the driver) and halves the throughput of this, the shop's hottest
// query.
func (s *SQLiteStore) Get(ctx context.Context, id string) (Product, error) {
	st := s.getStmt.Load()
	if st == nil {
		var err error
		if st, err = s.prepareGet(ctx); err != nil {
			return Product{}, err
		}
	}
	p, err := scanProduct(st.QueryRowContext(context.WithoutCancel(ctx), id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Product{}, ProductNotFoundError(id)
	case err != nil:
		return Product{}, fmt.Errorf("read product: %w", err)
	}
	return p, nil
}

// Update applies the non-nil fields of patch in one statement and
// returns the product as it now is (see Store).
func (s *SQLiteStore) Update(ctx context.Context, id string, patch ProductPatch, now time.Time) (Product, error) {
	var fold *string
	if patch.Name != nil {
		f := foldName(*patch.Name)
		fold = &f
	}
	row := s.db.W.QueryRowContext(ctx, `UPDATE products SET
			sku         = COALESCE(?, sku),
			name        = COALESCE(?, name),
			name_fold   = COALESCE(?, name_fold),
			description = COALESCE(?, description),
			price       = COALESCE(?, price),
			currency    = COALESCE(?, currency),
			category    = COALESCE(?, category),
			updated_at  = MAX(?, updated_at + 1)
		WHERE id = ?
		RETURNING `+productColumns,
		nullString(patch.SKU), nullString(patch.Name), nullString(fold), nullString(patch.Description),
		nullInt64(patch.Price), nullString(patch.Currency), nullString(patch.Category), now.UnixNano(), id)
	p, err := scanProduct(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Product{}, ProductNotFoundError(id)
	case isSKUViolation(err) && patch.SKU != nil:
		return Product{}, SKUTakenError(*patch.SKU)
	case err != nil:
		return Product{}, fmt.Errorf("update product: %w", err)
	}
	return p, nil
}

func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

func nullInt64(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

// Delete removes a product for good (see Store).
func (s *SQLiteStore) Delete(ctx context.Context, id string) error {
	res, err := s.db.W.ExecContext(ctx, `DELETE FROM products WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete product: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete product: %w", err)
	}
	if n == 0 {
		return ProductNotFoundError(id)
	}
	return nil
}

// likeEscaper makes a search text match itself literally in a LIKE pattern
// with ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// List returns the products q selects (see Store). Keyset paging on
// the primary key gives the promise about concurrent writes.
func (s *SQLiteStore) List(ctx context.Context, q StoreQuery) ([]Product, error) {
	after, limit, category := q.After, q.Limit, q.Category
	var b strings.Builder
	b.WriteString(`SELECT ` + productColumns + ` FROM products WHERE id > ?`)
	args := []any{after}
	if category != "" {
		b.WriteString(` AND category = ?`)
		args = append(args, category)
	}
	if q.Q != "" {
		b.WriteString(` AND name_fold LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscaper.Replace(foldName(q.Q))+"%")
	}
	b.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, limit)

	rows, err := s.db.R.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	defer rows.Close()
	items := make([]Product, 0, min(limit, shop.MaxLimit+1))
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, fmt.Errorf("list products: %w", err)
		}
		items = append(items, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	return items, nil
}
