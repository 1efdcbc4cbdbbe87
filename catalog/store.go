package catalog

import (
	"context"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
	// and Search see the change at once. Every update changes the product
	// (UpdatedAt at least), so each records a product.updated event with
	// the product as it now is. Errors: ProductNotFoundError(id) when no
	// product has id; SKUTakenError(*patch.SKU) when another product has
	// that SKU. On an error nothing changes and no event is recorded.
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

	// Search returns one page of the products that q.Words find, the most
	// relevant first. It is the catalogue's search (ListProducts with q),
	// so a store of its own can use its database's full-text search, as
	// SQLiteStore uses SQLite's FTS5.
	//
	// Matching: a product is found when each word is in its name, SKU or
	// description, every word but the last as a whole word and the last
	// as a whole word or the start of one ("hood" finds "Hoodie"), with
	// case and diacritics ignored ("cafe" finds "Café", "CAFÉ" finds
	// "cafe"). The product's text splits into words as SearchWords splits
	// a search. With q.Category set, only products of exactly that
	// category are found.
	//
	// Order: by relevance, measured as the store likes, within two rules.
	// A product whose name or SKU holds every word as a whole word comes
	// before any product that holds a word only in its description. And a
	// product's place depends only on the product and q, never on the
	// other products, so that paging is stable: calls each with After set
	// to the Next of the previous page list every product that matches
	// throughout exactly once, whatever is inserted or deleted meanwhile
	// (a product whose text changes may move).
	//
	// Paging: Items holds at most q.Limit products, never nil; Next is the
	// position after the last of them when at least one more product
	// matched, and empty otherwise. After is "" for the first page or a
	// Next this store returned; anything else is shop.ErrInvalid with code
	// "invalid_cursor", made with InvalidSearchCursorError.
	Search(ctx context.Context, q SearchQuery) (SearchPage, error)
}

// StoreQuery selects products for Store.List: at most Limit of them
// (at least 1) whose ID sorts after After ("" for the start), with Category
// exactly when Category is not empty.
type StoreQuery struct {
	After    string
	Limit    int
	Category string
}

// SearchQuery selects a page of products for Store.Search.
type SearchQuery struct {
	// Words are the words to find, as SearchWords split the search: at
	// least one, each a run of letters and digits.
	Words []string
	// Category, when not empty, keeps only the products of exactly this
	// category.
	Category string
	// After is "" for the first page, or the Next of the page before.
	After string
	// Limit is the most products the page holds, at least 1.
	Limit int
}

// SearchPage is one page of Store.Search: the products, and Next, the
// position to pass as SearchQuery.After for the next page ("" on the last
// page). Next is the store's own and opaque to everyone else.
type SearchPage struct {
	Items []Product
	Next  string
}

// InvalidSearchCursorError is the error of Store.Search given an After it
// did not make: shop.ErrInvalid with code "invalid_cursor", as for a
// malformed cursor anywhere else.
func InvalidSearchCursorError() error {
	return shop.E(shop.ErrInvalid, "invalid_cursor", "cursor is malformed; pass next_cursor from a previous page unchanged")
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
	// searchStmts are the prepared queries of Search's tiers, as
	// searchTierQueries, each prepared on first use: parsing them took a
	// third of a search's time.
	searchStmts [tierCount][2]atomic.Pointer[sql.Stmt]
	termsStmt   atomic.Pointer[sql.Stmt] // the vocabulary read of prefixMatch
	prepMu      sync.Mutex               // serialises preparing statements and closing them
	closed      bool                     // guarded by prepMu
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
// NewSQLiteStore needs (products, their full-text search indexes and the
// outbox of their events), created or changed by the versioned migrations
// embedded in this package. It is safe to run on every start. The migration
// that adds the search indexes builds them for the products already there,
// in its transaction: about a minute for a million products.
func Migrate(ctx context.Context, db *sql.DB) error {
	return sqlitedb.MigrateDir(ctx, db, migrationFiles, "migrations")
}

// Close releases the database (for a store from NewSQLiteStore, only what the
// store itself holds). Calls after Close fail.
func (s *SQLiteStore) Close() error {
	s.prepMu.Lock()
	s.closed = true
	var errs []error
	if st := s.getStmt.Swap(nil); st != nil {
		errs = append(errs, st.Close())
	}
	if st := s.termsStmt.Swap(nil); st != nil {
		errs = append(errs, st.Close())
	}
	for i := range s.searchStmts {
		for j := range s.searchStmts[i] {
			if st := s.searchStmts[i][j].Swap(nil); st != nil {
				errs = append(errs, st.Close())
			}
		}
	}
	s.prepMu.Unlock()
	return errors.Join(append(errs, s.db.Close())...)
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
	st, err := s.prepare(ctx, &s.getStmt, getQuery)
	if err != nil {
		return nil, fmt.Errorf("prepare product read: %w", err)
	}
	return st, nil
}

// prepare returns the statement in slot, preparing query on the reader pool
// into it first if it is empty.
func (s *SQLiteStore) prepare(ctx context.Context, slot *atomic.Pointer[sql.Stmt], query string) (*sql.Stmt, error) {
	if st := slot.Load(); st != nil {
		return st, nil
	}
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	if s.closed {
		return nil, errStoreClosed
	}
	if st := slot.Load(); st != nil {
		return st, nil
	}
	st, err := s.db.R.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	slot.Store(st)
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
		// The next search key; the search triggers index the product
		// under it in this transaction.
		_, err := tx.ExecContext(ctx, `INSERT INTO products
			(id, sku, name, description, price, currency, category, created_at, updated_at, search_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT IFNULL(MAX(search_key), 0) + 1 FROM products))`,
			p.ID, p.SKU, p.Name, p.Description, p.Price, p.Currency, p.Category,
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
	row := tx.QueryRowContext(ctx, `UPDATE products SET
			sku         = COALESCE(?, sku),
			name        = COALESCE(?, name),
			description = COALESCE(?, description),
			price       = COALESCE(?, price),
			currency    = COALESCE(?, currency),
			category    = COALESCE(?, category),
			updated_at  = MAX(?, updated_at + 1)
		WHERE id = ?
		RETURNING `+productColumns,
		nullString(patch.SKU), nullString(patch.Name), nullString(patch.Description),
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

// List returns the products q selects (see Store). Keyset paging on
// the primary key gives the promise about concurrent writes.
func (s *SQLiteStore) List(ctx context.Context, q StoreQuery) ([]Product, error) {
	after, limit, category := q.After, q.Limit, q.Category
	query := `SELECT ` + productColumns + ` FROM products WHERE id > ? ORDER BY id LIMIT ?`
	args := []any{after, limit}
	if category != "" {
		query = `SELECT ` + productColumns + ` FROM products WHERE id > ? AND category = ? ORDER BY id LIMIT ?`
		args = []any{after, category, limit}
	}
	rows, err := s.db.R.QueryContext(ctx, query, args...)
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

// The relevance tiers of SQLiteStore.Search, best first. Each is one FTS5
// query that reads its index in search_key order and stops once the page is
// full, so a page costs about the same however many products match; and each
// excludes the tiers before it with FTS5's NOT, so a product is in exactly
// one tier.
const (
	// tierName: every word, as a whole word, in the name or SKU; read from
	// product_name_search, which holds nothing else.
	tierName = iota
	// tierWhole: every word as a whole word, one at least only in the
	// description: product_search, less the products in tierName.
	tierWhole
	// tierPrefix: every word, the last only as the start of a longer word:
	// product_search, less the products with the last word whole.
	tierPrefix
	tierCount
)

// searchTierQueries are the statements of the tiers, by tier, without and
// with the category filter. The CROSS JOIN keeps the full-text index as the
// outer loop, and the category test on the product is exact where the
// category's index token narrowed the candidates.
var searchTierQueries = func() (q [tierCount][2]string) {
	for tier := range tierCount {
		table := "product_search"
		if tier == tierName {
			table = "product_name_search"
		}
		base := `SELECT s.rowid, ` + prefixed("p.", productColumns) + ` FROM ` + table + ` s CROSS JOIN products p ON p.search_key = s.rowid
			WHERE ` + table + ` MATCH ? AND s.rowid > ?`
		q[tier][0] = base + ` ORDER BY s.rowid LIMIT ?`
		q[tier][1] = base + ` AND p.category = ? ORDER BY s.rowid LIMIT ?`
	}
	return q
}()

// prefixed qualifies each column of a column list with prefix.
func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, ", ")
}

// Search finds products with the full-text indexes of migration 0003 (see
// Store). The order is by relevance tier, then by search key, the order in
// which the products were added:
//
//  1. every word, whole, in the name or SKU;
//  2. every word whole, some only in the description;
//  3. the last word only as the start of a longer word ("hood" for
//     "Hoodie"), in any of the three.
//
// Within the rules of Store, this ranks the name above the description and
// a whole word above part of one without scoring (BM25 or the like) every
// product that matches: a score would depend on the whole catalogue's word
// statistics, so every insert or delete would move every product and a
// cursor of (score, key) could skip or repeat products, and ranking by it
// would read all matches of a common word for each page. A product's tier
// and key depend on the product alone; the cursor is the (tier, key) of the
// page's last product, so paging never repeats or skips a product that
// matches throughout. Keys of deleted products may be given again to new
// products, which may then appear or not, as new products do.
//
// The words never reach FTS5's query syntax as typed: each becomes a quoted
// term (SearchWords leaves only letters and digits), so quotes, *, NEAR,
// AND, OR, NOT, -, parentheses and column filters in a search are
// separators.
func (s *SQLiteStore) Search(ctx context.Context, q SearchQuery) (SearchPage, error) {
	tier, key, err := parseSearchCursor(q.After)
	if err != nil {
		return SearchPage{}, err
	}
	page := SearchPage{Items: []Product{}}
	plan, ok := planSearch(q.Words, q.Category)
	if !ok {
		return page, nil
	}
	var found []searchHit
	for ; tier < tierCount && len(found) <= q.Limit; tier, key = tier+1, 0 {
		match := plan.exprs[tier]
		if tier == tierPrefix {
			if match, err = s.prefixMatch(ctx, plan); err != nil {
				return SearchPage{}, err
			}
			if match == "" {
				break // no longer word starts with the last one
			}
		}
		hits, err := s.searchTier(ctx, tier, match, key, q.Category, q.Limit+1-len(found))
		if err != nil {
			return SearchPage{}, err
		}
		found = append(found, hits...)
	}
	for i, h := range found {
		if i == q.Limit {
			last := found[i-1]
			page.Next = strconv.Itoa(last.tier) + ":" + strconv.FormatInt(last.key, 10)
			break
		}
		page.Items = append(page.Items, h.p)
	}
	return page, nil
}

// searchHit is a product a tier found, with its tier and search key.
type searchHit struct {
	tier int
	key  int64
	p    Product
}

// searchTier reads up to limit products of tier whose search key is above
// after.
func (s *SQLiteStore) searchTier(ctx context.Context, tier int, match string, after int64, category string, limit int) ([]searchHit, error) {
	withCategory := 0
	args := []any{match, after, limit}
	if category != "" {
		withCategory = 1
		args = []any{match, after, category, limit}
	}
	st, err := s.prepare(ctx, &s.searchStmts[tier][withCategory], searchTierQueries[tier][withCategory])
	if err != nil {
		return nil, fmt.Errorf("prepare search: %w", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("search products: %w", err)
	}
	defer rows.Close()
	var hits []searchHit
	for rows.Next() {
		h := searchHit{tier: tier}
		var created, updated int64
		p := &h.p
		if err := rows.Scan(&h.key, &p.ID, &p.SKU, &p.Name, &p.Description, &p.Price, &p.Currency, &p.Category, &created, &updated); err != nil {
			return nil, fmt.Errorf("search products: %w", err)
		}
		p.CreatedAt, p.UpdatedAt = fromNanos(created), fromNanos(updated)
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search products: %w", err)
	}
	return hits, nil
}

// parseSearchCursor reads a Next of Search: "tier:key", or "" for the
// start.
func parseSearchCursor(after string) (tier int, key int64, err error) {
	if after == "" {
		return 0, 0, nil
	}
	t, k, ok := strings.Cut(after, ":")
	tier, errT := strconv.Atoi(t)
	key, errK := strconv.ParseInt(k, 10, 64)
	if !ok || errT != nil || errK != nil || tier < 0 || tier >= tierCount || key < 0 ||
		strconv.Itoa(tier) != t || strconv.FormatInt(key, 10) != k {
		return 0, 0, InvalidSearchCursorError()
	}
	return tier, key, nil
}

// searchPlan is a search in FTS5's query syntax: the query of each tier,
// and the parts that prefixMatch builds tierPrefix's query from anew.
type searchPlan struct {
	exprs [tierCount]string
	head  string // the terms before the last, quoted
	last  string // the last term
	cat   string // the category's token, quoted, or ""
	whole string // every term, quoted
}

// planSearch writes the FTS5 queries for words (and the category, when
// not empty), or returns false when the words hold nothing the index can
// find.
func planSearch(words []string, category string) (plan searchPlan, ok bool) {
	terms := ftsTerms(words)
	if len(terms) == 0 {
		return plan, false
	}
	quoted := make([]string, len(terms))
	for i, t := range terms {
		quoted[i] = `"` + t + `"`
	}
	plan.head = strings.Join(quoted[:len(quoted)-1], " ")
	plan.last = terms[len(terms)-1]
	plan.whole = strings.Join(quoted, " ")
	if category != "" {
		plan.cat = `"` + categoryToken(category) + `"`
	}
	all := join(plan.whole, plan.cat)
	plan.exprs[tierName] = all
	plan.exprs[tierWhole] = `(` + all + `) NOT {name sku} : (` + plan.whole + `)`
	plan.exprs[tierPrefix] = `(` + join(plan.head, quoted[len(quoted)-1]+`*`, plan.cat) + `) NOT (` + plan.whole + `)`
	return plan, true
}

// join joins the non-empty parts of an FTS5 query with AND (FTS5 takes two
// phrases side by side for AND, but not a phrase beside parentheses).
func join(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(p)
	}
	return b.String()
}

// maxCompletions is how many longer words prefixMatch names in a query
// before it leaves the prefix to FTS5.
const maxCompletions = 32

// prefixMatch returns tierPrefix's query, or "" when it can find nothing.
//
// FTS5 answers "last"* from a prefix index when one has the prefix's
// length (migration 0003 keeps them for one and two letters); for longer
// prefixes it first gathers every match of every word with that prefix,
// the word itself included, so a page that reaches this tier after a common
// word ("cotton" in a category that has none) would read all of its matches.
// So for a longer prefix in plain ASCII, whose folding is lower case alone,
// the index's own vocabulary (product_search_terms) names the longer words
// first: none means the tier is empty, a few become an OR of whole words,
// which FTS5 reads lazily like any other; only more than maxCompletions
// are left to the prefix.
func (s *SQLiteStore) prefixMatch(ctx context.Context, plan searchPlan) (string, error) {
	last := plan.last
	if len(last) <= 2 || !isASCII(last) {
		return plan.exprs[tierPrefix], nil
	}
	folded := strings.ToLower(last)
	upper := folded[:len(folded)-1] + string(rune(folded[len(folded)-1]+1))
	st, err := s.prepare(ctx, &s.termsStmt, `SELECT term FROM product_search_terms WHERE term > ? AND term < ? LIMIT ?`)
	if err != nil {
		return "", fmt.Errorf("prepare search: %w", err)
	}
	rows, err := st.QueryContext(ctx, folded, upper, maxCompletions+1)
	if err != nil {
		return "", fmt.Errorf("search products: %w", err)
	}
	defer rows.Close()
	var longer []string
	for rows.Next() {
		var term string
		if err := rows.Scan(&term); err != nil {
			return "", fmt.Errorf("search products: %w", err)
		}
		longer = append(longer, `"`+term+`"`)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("search products: %w", err)
	}
	switch {
	case len(longer) == 0:
		return "", nil
	case len(longer) > maxCompletions:
		return plan.exprs[tierPrefix], nil
	}
	return `(` + join(plan.head, `(`+strings.Join(longer, " OR ")+`)`, plan.cat) + `) NOT (` + plan.whole + `)`, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// categoryToken is how the search indexes hold a product's category (see
// migration 0003): U+E000 and the category's bytes in lower-case hex, one
// token no search word can be or begin.
func categoryToken(category string) string {
	return "\ue000" + hex.EncodeToString([]byte(category))
}

// ftsTerms turns search words into the terms of an FTS5 query, one token of
// the unicode61 tokenizer each. SearchWords's words are runs of letters and
// digits, which that tokenizer keeps whole, except for the few letters it
// takes for separators (unicode61Separator); a word is split at those, so
// that no quoted term is ever a phrase of two tokens, which the index
// (detail=column) cannot answer.
func ftsTerms(words []string) []string {
	var terms []string
	for _, w := range words {
		start := 0
		for i, r := range w {
			if unicode61Separator(r) {
				if i > start {
					terms = append(terms, w[start:i])
				}
				start = i + utf8.RuneLen(r)
			}
		}
		if start < len(w) {
			terms = append(terms, w[start:])
		}
	}
	return terms
}

// unicode61Separator reports whether r, a letter or digit for Go's unicode
// package, separates tokens for FTS5's unicode61 tokenizer, whose character
// tables count these few as marks. TestFTSTermsAreSingleTokens checks every
// letter and digit against the tokenizer itself.
func unicode61Separator(r rune) bool {
	return 0x19B0 <= r && r <= 0x19C0 || r == 0x19C8 || r == 0x19C9 || r == 0x1CF2 || r == 0x1CF3
}
