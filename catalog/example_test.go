package catalog_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/user"
	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // the "sqlite" driver for ExampleNewSQLiteStore
)

// Open a store, build the service, and create, read, change and list products
// in process. Changes need an admin in the context; reads need nobody.
func Example() {
	dir, _ := os.MkdirTemp("", "catalog-example")
	defer os.RemoveAll(dir)

	ctx := context.Background()
	store, err := catalog.OpenSQLiteStore(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	svc := catalog.NewService(store)

	admin := shop.WithIdentity(ctx, shop.Identity{UserID: "u1", Role: shop.RoleAdmin})
	mug, err := svc.CreateProduct(admin, catalog.NewProduct{
		SKU: "MUG-1", Name: "Blue mug", Price: 1299, Currency: "EUR", Category: "kitchen",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	svc.CreateProduct(admin, catalog.NewProduct{SKU: "TEA-1", Name: "Green tea", Price: 450, Currency: "EUR", Category: "kitchen"})

	got, _ := svc.GetProduct(ctx, mug.ID) // anyone may read
	fmt.Println(got.Name, shop.Money{Amount: got.Price, Currency: got.Currency})

	newPrice := int64(999)
	got, _ = svc.UpdateProduct(admin, mug.ID, catalog.ProductPatch{Price: &newPrice})
	fmt.Println(got.Name, shop.Money{Amount: got.Price, Currency: got.Currency})

	_, err = svc.CreateProduct(ctx, catalog.NewProduct{SKU: "X"}) // nobody logged in
	fmt.Println(shop.KindOf(err), shop.CodeOf(err))

	_, err = svc.CreateProduct(admin, catalog.NewProduct{SKU: "MUG-1", Name: "Red mug", Price: 1, Currency: "EUR"})
	fmt.Println(shop.KindOf(err), shop.CodeOf(err))

	page, _ := svc.ListProducts(ctx, catalog.ListQuery{Category: "kitchen", Q: "TEA"})
	for _, p := range page.Items {
		fmt.Println("found:", p.SKU)
	}
	// Output:
	// Blue mug 12.99 EUR
	// Blue mug 9.99 EUR
	// unauthenticated missing_token
	// conflict sku_taken
	// found: TEA-1
}

// Serve the catalogue over HTTP the way a program does (New adds metrics
// and logging to the service), and call it with the client, which
// implements the same Service: errors keep their kind and code.
func ExampleMakeClientEndpoints() {
	dir, _ := os.MkdirTemp("", "catalog-example")
	defer os.RemoveAll(dir)
	store, err := catalog.OpenSQLiteStore(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	metrics, err := shop.NewServiceMetrics(prometheus.NewRegistry(), "catalog")
	if err != nil {
		fmt.Println(err)
		return
	}
	logger := log.NewNopLogger()
	svc := catalog.New(store, logger, metrics)
	tokens, _ := user.NewTokens([]byte("an example key of at least 32 bytes!"))
	srv := httptest.NewServer(catalog.NewHTTPHandler(catalog.MakeServerEndpoints(svc), tokens, logger))
	defer srv.Close()

	// An admin client: every call carries an admin token.
	adminToken := tokens.TokenSource(shop.Identity{UserID: "u1", Role: shop.RoleAdmin}, time.Hour)
	client, err := catalog.MakeClientEndpoints(srv.URL, adminToken)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	p, err := client.CreateProduct(ctx, catalog.NewProduct{SKU: "MUG-1", Name: "Blue mug", Price: 1299, Currency: "EUR"})
	if err != nil {
		fmt.Println(err)
		return
	}
	got, _ := client.GetProduct(ctx, p.ID)
	fmt.Println(got.SKU, got.Name)

	err = client.DeleteProduct(ctx, p.ID)
	fmt.Println("deleted:", err == nil)

	_, err = client.GetProduct(ctx, p.ID)
	fmt.Println(errors.Is(err, shop.ErrNotFound), shop.CodeOf(err))
	// Output:
	// MUG-1 Blue mug
	// deleted: true
	// true product_not_found
}

// Run the catalogue on a database you opened yourself: Migrate it once, then
// hand it to NewSQLiteStore. Closing the store leaves the database open.
func ExampleNewSQLiteStore() {
	dir, _ := os.MkdirTemp("", "catalog-example")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "shop.db")) // the modernc.org/sqlite driver
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	ctx := context.Background()
	if err := catalog.Migrate(ctx, db); err != nil {
		fmt.Println(err)
		return
	}
	store := catalog.NewSQLiteStore(db)
	svc := catalog.NewService(store)

	admin := shop.WithIdentity(ctx, shop.Identity{UserID: "u1", Role: shop.RoleAdmin})
	if _, err := svc.CreateProduct(admin, catalog.NewProduct{SKU: "PEN-1", Name: "Gopher pen", Price: 299, Currency: "USD"}); err != nil {
		fmt.Println(err)
		return
	}
	store.Close()

	var n int
	db.QueryRowContext(ctx, `SELECT COUNT(*) FROM products`).Scan(&n)
	fmt.Println("products:", n)
	// Output:
	// products: 1
}
