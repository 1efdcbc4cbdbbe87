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

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/outbox"
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
//
// Events: each change records its event atomically with the change, so the
// event exists if and only if the change does: Insert shop.EventProductCreated,
// Update shop.EventProductUpdated (the product as it now is) and Delete
// shop.EventProductDeleted (the product as it was), each with source
// EventSource, the product ID as subject and ProductEventData as data. A
// call that fails records nothing. Getting recorded events to the
// subscribers, at least once and in the order they were recorded, is the
// store's side of the bargain too: SQLiteStore keeps them in an outbox
// table that its RunOutbox relays to a shop.Publisher. A store of your own
// does the same its own way, for example with an outbox table of its own
// and a relay (or a change-data-capture feed) publishing each event until
// the publisher accepts it. Consumers treat a repeated event ID as handled,
// so delivering an event twice is harmless; losing one is not.
type Store interface {
	// Insert stores a new product, with its product.created event. If
	// another product has p.SKU it stores nothing and returns
	// SKUTakenError(p.SKU); concurrent inserts of one SKU must leave one
	// product with it.
	Insert(ctx context.Context, p Product) error

	// Get returns the product with id, or ProductNotFoundError(id).
	Get(ctx context.Context, id string) (Product, error)

	// Update sets, in one atomic step, the fields of the product with id
	// for which patch is not nil, and its UpdatedAt to now, or to one
	// nanosecond after the old UpdatedAt if now is not later (so UpdatedAt
	// always moves forward). It returns the product as it now is, and List
	// sees the change at once. Every update changes the product (UpdatedAt
	// at least), so each records a product.updated event with the product
	// as it now is. Errors: ProductNotFoundError(id) when no product has
	// id; SKUTakenError(*patch.SKU) when another product has that SKU. On
	// an error nothing changes and no event is recorded.
	Update(ctx context.Context, id string, patch ProductPatch, now time.Time) (Product, error)

	// Delete removes the product with id, freeing its SKU, and records a
	// product.deleted event with the product as it was; or it returns
	// ProductNotFoundError(id) and records nothing.
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

// EventSource is the CloudEvents source of the events the catalogue emits.
const EventSource = "catalog"

// productEvent is the event of type typ announcing p.
func productEvent(typ string, p Product) (shop.Event, error) {
	return shop.NewEvent(EventSource, typ, p.ID, shop.ProductEventData{
		ProductID: p.ID, SKU: p.SKU, Name: p.Name, Description: p.Description,
		Price: shop.Money{Amount: p.Price, Currency: p.Currency}, Category: p.Category, UpdatedAt: p.UpdatedAt})
}

// addProductEvent records the event of type typ announcing p within tx.
func addProductEvent(ctx context.Context, tx *sqlitedb.Tx, typ string, p Product) error {
	e, err := productEvent(typ, p)
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, e)
}

// SQLiteStore is the Store on a SQLite database. Its outbox table holds the
// product events until RunOutbox has published them. Open one with
// OpenSQLiteStore, or run one on a database of your own with NewSQLiteStore.
type SQLiteStore struct {
	db    *sqlitedb.DB
	relay outbox.Relays

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
// serves reads and writes; give it a busy timeout
// (_pragma=busy_timeout(5000)), as the outbox relay writes beside the
// store's own calls. Nothing is checked or prepared here: the product
// read is prepared on the first Get (a failure is that call's error,
// and the next call tries again). Closing the store leaves db open.
func NewSQLiteStore(db *sql.DB) *SQLiteStore {
	return &SQLiteStore{db: sqlitedb.FromDB(db)}
}

// Migrate brings the catalogue's schema in db up to date: the tables
// NewSQLiteStore needs (products and the outbox of their events), created
// or changed by the versioned migrations embedded in this package. It is
// safe to run on every start.
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

// RunOutbox publishes the store's product events to pub until ctx is done,
// in the order they were recorded, retrying each until pub accepts it, so
// every event arrives at least once. Run exactly one per database. An
// Insert, Update or Delete wakes it at once; it also looks every second.
func (s *SQLiteStore) RunOutbox(ctx context.Context, pub shop.Publisher, logger log.Logger) {
	s.relay.Run(ctx, s.db, pub, logger)
}

// PendingEvents returns how many events wait to be published.
func (s *SQLiteStore) PendingEvents(ctx context.Context) (int, error) {
	return outbox.Pending(ctx, s.db)
}

// OutboxBacklog returns how many events wait to be published and when the
// oldest of them happened (the zero time when none wait): what the
// kitshop_outbox_* gauges show.
func (s *SQLiteStore) OutboxBacklog(ctx context.Context) (pending int, oldest time.Time, err error) {
	return outbox.Backlog(ctx, s.db)
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

// Insert stores a new product and its product.created event in one
// transaction (see Store).
func (s *SQLiteStore) Insert(ctx context.Context, p Product) error {
	e, err := productEvent(shop.EventProductCreated, p)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO products
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
		return outbox.Add(ctx, tx, e)
	})
	if err != nil {
		return err
	}
	s.relay.Notify()
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
// returns the product as it now is, recording its product.updated event in
// the same transaction (see Store).
func (s *SQLiteStore) Update(ctx context.Context, id string, patch ProductPatch, now time.Time) (Product, error) {
	var p Product
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		var err error
		p, err = updateProduct(ctx, tx, id, patch, now)
		if err != nil {
			return err
		}
		return addProductEvent(ctx, tx, shop.EventProductUpdated, p)
	})
	if err != nil {
		return Product{}, err
	}
	s.relay.Notify()
	return p, nil
}

// updateProduct runs Update's statement within tx and returns the product
// as it now is.
func updateProduct(ctx context.Context, tx *sqlitedb.Tx, id string, patch ProductPatch, now time.Time) (Product, error) {
	var fold *string
	if patch.Name != nil {
		f := foldName(*patch.Name)
		fold = &f
	}
	row := tx.QueryRowContext(ctx, `UPDATE products SET
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

// Delete removes a product for good and records its product.deleted event,
// with the product as the DELETE returned it, in the same transaction (see
// Store).
func (s *SQLiteStore) Delete(ctx context.Context, id string) error {
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		p, err := scanProduct(tx.QueryRowContext(ctx, `DELETE FROM products WHERE id = ? RETURNING `+productColumns, id))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ProductNotFoundError(id)
		case err != nil:
			return fmt.Errorf("delete product: %w", err)
		}
		return addProductEvent(ctx, tx, shop.EventProductDeleted, p)
	})
	if err != nil {
		return err
	}
	s.relay.Notify()
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
