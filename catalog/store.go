package catalog

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// productColumns is the column list every query reading products selects,
// in the order scanProduct expects.
const productColumns = `id, sku, name, description, price, currency, category, created_at, updated_at`

// Store keeps products in a SQLite database file. Hand it to NewService.
type Store struct {
	db      *sqlitedb.DB
	getStmt *sql.Stmt // point read by id, prepared on the reader pool
}

// NewStore opens (creating if needed) the catalogue database at path and
// brings its schema up to date.
func NewStore(ctx context.Context, path string) (*Store, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(ctx, path, migrations)
	if err != nil {
		return nil, err
	}
	get, err := db.R.PrepareContext(ctx, `SELECT `+productColumns+` FROM products WHERE id = ?`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("prepare product read: %w", err)
	}
	return &Store{db: db, getStmt: get}, nil
}

// Close releases the database. Calls after Close fail.
func (s *Store) Close() error {
	return errors.Join(s.getStmt.Close(), s.db.Close())
}

// Ping reports whether the database answers; use it as a readiness check.
func (s *Store) Ping(ctx context.Context) error {
	return s.db.Ping(ctx)
}

func errProductNotFound(id string) error {
	return shop.E(shop.ErrNotFound, CodeProductNotFound, "product %q not found", id)
}

func errSKUTaken(sku string) error {
	return shop.E(shop.ErrConflict, CodeSKUTaken, "sku %q is already used by another product", sku)
}

// isSKUViolation reports whether err is the UNIQUE index on sku refusing a row.
func isSKUViolation(err error) bool {
	return sqlitedb.IsUniqueViolation(err) && strings.Contains(err.Error(), "products.sku")
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

// insert stores a new, validated product.
func (s *Store) insert(ctx context.Context, p Product) error {
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO products
		(id, sku, name, name_fold, description, price, currency, category, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.SKU, p.Name, foldName(p.Name), p.Description, p.Price, p.Currency, p.Category,
		p.CreatedAt.UnixNano(), p.UpdatedAt.UnixNano())
	switch {
	case isSKUViolation(err):
		return errSKUTaken(p.SKU)
	case err != nil:
		return fmt.Errorf("insert product: %w", err)
	}
	return nil
}

// get reads one product from the reader pool with the prepared statement.
//
// The read ignores the context's cancellation: a point read by primary key on
// a WAL reader never waits for writers and takes microseconds, while a
// cancellable context costs two goroutines per call (one in database/sql,
// one in the driver) and halves the throughput of this, the shop's hottest
// query.
func (s *Store) get(ctx context.Context, id string) (Product, error) {
	p, err := scanProduct(s.getStmt.QueryRowContext(context.WithoutCancel(ctx), id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Product{}, errProductNotFound(id)
	case err != nil:
		return Product{}, fmt.Errorf("read product: %w", err)
	}
	return p, nil
}

// update applies the validated non-nil fields of patch in one statement and
// returns the product as it now is. updated_at always moves forward, even if
// the clock did not.
func (s *Store) update(ctx context.Context, id string, patch ProductPatch, now int64) (Product, error) {
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
		nullInt64(patch.Price), nullString(patch.Currency), nullString(patch.Category), now, id)
	p, err := scanProduct(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Product{}, errProductNotFound(id)
	case isSKUViolation(err):
		return Product{}, errSKUTaken(*patch.SKU)
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

// delete removes a product for good.
func (s *Store) delete(ctx context.Context, id string) error {
	res, err := s.db.W.ExecContext(ctx, `DELETE FROM products WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete product: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete product: %w", err)
	}
	if n == 0 {
		return errProductNotFound(id)
	}
	return nil
}

// likeEscaper makes a search text match itself literally in a LIKE pattern
// with ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// list returns up to limit products with an id after the given one, in id
// order, with the category (when not empty) and whose name contains q (when
// not empty, ignoring case). The slice is never nil.
func (s *Store) list(ctx context.Context, after string, limit int, category, q string) ([]Product, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + productColumns + ` FROM products WHERE id > ?`)
	args := []any{after}
	if category != "" {
		b.WriteString(` AND category = ?`)
		args = append(args, category)
	}
	if q != "" {
		b.WriteString(` AND name_fold LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscaper.Replace(foldName(q))+"%")
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
