package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/kitshop/shop"
)

// isSKUViolation trusts that products_sku is the only UNIQUE index of the
// products table besides the primary key. This test fails when a migration
// adds another, so that the check is revisited with it.
func TestProductsUniqueIndexes(t *testing.T) {
	st := newTestStore(t)
	rows, err := st.db.R.Query(`SELECT name, origin FROM pragma_index_list('products') WHERE "unique" = 1 ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name, origin string
		if err := rows.Scan(&name, &origin); err != nil {
			t.Fatal(err)
		}
		if origin == "pk" {
			continue
		}
		var cols []string
		info, err := st.db.R.Query(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, name)
		if err != nil {
			t.Fatal(err)
		}
		for info.Next() {
			var c string
			if err := info.Scan(&c); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, c)
		}
		info.Close()
		got = append(got, fmt.Sprintf("%s%v", name, cols))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[products_sku[sku]]" {
		t.Fatalf("unique indexes of products besides the primary key: %v; want only products_sku on (sku). "+
			"isSKUViolation must tell the new one apart", got)
	}
}

// A SKU conflict is told by the driver's error code, not by its text: a
// duplicate ID (the primary key) is no SKU conflict, and an error that
// merely reads like one is none either.
func TestSKUViolationIsStructured(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Round(0)
	p := Product{ID: shop.NewID(), SKU: "UQ-1", Name: "n", Price: 1, Currency: "EUR", CreatedAt: now, UpdatedAt: now}
	if err := st.Insert(ctx, p); err != nil {
		t.Fatal(err)
	}
	other := p
	other.ID, other.SKU = shop.NewID(), "UQ-2"
	if err := st.Insert(ctx, other); err != nil {
		t.Fatal(err)
	}

	// Same SKU, new ID: the SKU index refuses it.
	dupSKU := p
	dupSKU.ID = shop.NewID()
	err := st.Insert(ctx, dupSKU)
	if !errors.Is(err, shop.ErrConflict) || shop.CodeOf(err) != CodeSKUTaken {
		t.Fatalf("insert of a taken SKU: %v, want conflict %s", err, CodeSKUTaken)
	}
	// Same ID, new SKU: the primary key refuses it, which is no SKU conflict.
	dupID := p
	dupID.SKU = "UQ-3"
	err = st.Insert(ctx, dupID)
	if err == nil || shop.KindOf(err) != nil || isSKUViolation(err) {
		t.Fatalf("insert of a taken ID: %v (kind %v), want a plain error", err, shop.KindOf(err))
	}
	// An update to a taken SKU.
	_, err = st.Update(ctx, other.ID, ProductPatch{SKU: ptr("UQ-1")}, now)
	if !errors.Is(err, shop.ErrConflict) || shop.CodeOf(err) != CodeSKUTaken {
		t.Fatalf("update to a taken SKU: %v, want conflict %s", err, CodeSKUTaken)
	}
	// Text alone is not enough.
	if isSKUViolation(errors.New("constraint failed: UNIQUE constraint failed: products.sku (2067)")) || isSKUViolation(nil) {
		t.Fatal("isSKUViolation matched an error by its text")
	}
	// A wrapped driver error still counts.
	_, raw := st.db.W.ExecContext(ctx, `INSERT INTO products (id, sku, name, price, currency, created_at, updated_at)
		VALUES (?, 'UQ-1', 'n', 1, 'EUR', 0, 0)`, shop.NewID())
	if raw == nil || !isSKUViolation(fmt.Errorf("insert: %w", raw)) {
		t.Fatalf("wrapped driver error %v not seen as a SKU violation", raw)
	}
}

// NewSQLiteStore runs on a database the caller opened and migrated, and
// closing the store leaves that database open.
func TestNewSQLiteStore(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "own.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Before Migrate there is no table: the read fails (the statement
	// cannot be prepared), and succeeds once the schema is there.
	st := NewSQLiteStore(db)
	if _, err := st.Get(ctx, "x"); err == nil || shop.KindOf(err) != nil {
		t.Fatalf("read before Migrate: %v, want a plain error", err)
	}
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, db); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	_, err = st.Get(ctx, "x")
	if !errors.Is(err, shop.ErrNotFound) {
		t.Fatalf("read after Migrate: %v, want not found", err)
	}

	svc := NewService(st)
	p := mustCreate(t, svc, validProduct("OWN-1"))
	_, err = svc.CreateProduct(adminCtx, validProduct("OWN-1"))
	wantErr(t, err, shop.ErrConflict, CodeSKUTaken)
	if got, err := svc.GetProduct(anonCtx, p.ID); err != nil || got != p {
		t.Fatalf("GetProduct = %+v, %v; want %+v", got, err, p)
	}
	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, p.ID); err == nil {
		t.Fatal("read after Close succeeded")
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM products`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the caller's database after Close: %d products, %v", n, err)
	}
	// A new store on the same database sees the data.
	st2 := NewSQLiteStore(db)
	defer st2.Close()
	if got, err := NewService(st2).GetProduct(anonCtx, p.ID); err != nil || got != p {
		t.Fatalf("second store: %+v %v", got, err)
	}
}

func TestOpenSQLiteStoreBadPath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	st, err := OpenSQLiteStore(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := OpenSQLiteStore(context.Background(), filepath.Join(file, "catalog.db")); err == nil {
		t.Fatal("a database below a file opened")
	}
}
