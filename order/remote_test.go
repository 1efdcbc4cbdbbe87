package order_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/order"
	"github.com/kitshop/shop/user"
)

// TestRemoteCatalogAndInventory runs the order service against catalog and
// inventory reached over HTTP, as in a split deployment: the order service
// presents a service credential on inventory's internal routes.
func TestRemoteCatalogAndInventory(t *testing.T) {
	f := newFixture(t) // local services, used here as the remote side
	tokens, err := user.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	nop := log.NewNopLogger()
	catSrv := httptest.NewServer(catalog.NewHTTPHandler(catalog.MakeServerEndpoints(f.catalog), tokens, nop))
	defer catSrv.Close()
	invSrv := httptest.NewServer(inventory.NewInternalHTTPHandler(inventory.MakeServerEndpoints(f.inventory), tokens, nop))
	defer invSrv.Close()

	cat, err := catalog.MakeClientEndpoints(catSrv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	serviceToken := tokens.TokenSource(shop.Identity{UserID: "order", Role: shop.RoleService}, time.Hour)
	inv, err := inventory.MakeClientEndpoints(invSrv.URL, serviceToken)
	if err != nil {
		t.Fatal(err)
	}
	store, err := order.OpenSQLiteStore(context.Background(), filepath.Join(t.TempDir(), "order.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	orders := order.NewService(store, cat, inv, order.NewDevPayments())

	p := f.product("REMOTE", 450, "USD", 3)
	o, err := orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if o.Total != 900 || o.Lines[0].Name != "Product REMOTE" {
		t.Fatalf("order priced over HTTP = %+v", o)
	}
	wantStock(t, f.stock(p), 3, 2)

	_, err = orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 2}}})
	wantErr(t, err, shop.ErrConflict, "insufficient_stock")
	_, err = orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{ProductID: "nope", Quantity: 1}}})
	wantErr(t, err, shop.ErrInvalid, "unknown_product")

	// A customer's token does not open inventory's internal routes.
	customerToken, _, _ := tokens.Issue(alice, time.Hour)
	asCustomer, _ := inventory.MakeClientEndpoints(invSrv.URL, func() (string, error) { return customerToken, nil })
	_, _, err = asCustomer.Reserve(context.Background(), "sneaky", []inventory.Line{{ProductID: p, Quantity: 1}}, time.Now().Add(time.Hour))
	wantErr(t, err, shop.ErrForbidden, "forbidden")

	// Recovery over HTTP: a reservation without an order is given back.
	if _, _, err := inv.Reserve(context.Background(), "01ORPHAN", []inventory.Line{{ProductID: p, Quantity: 1}}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantStock(t, f.stock(p), 3, 3)
	time.Sleep(2 * time.Millisecond) // the listing takes reservations made before now
	if r, err := orders.Recover(context.Background()); err != nil || r.ReservationsReleased != 1 {
		t.Fatalf("recover over HTTP = %+v, %v", r, err)
	}
	wantStock(t, f.stock(p), 3, 2)

	// Inventory unreachable: 503, and no order is stored.
	invSrv.Close()
	_, err = orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}})
	wantErr(t, err, shop.ErrUnavailable, "inventory_unavailable")
	page, err := orders.ListOrders(asAlice, shop.PageRequest{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("orders after the outage = %d (%v), want only the first", len(page.Items), err)
	}
	// Catalog unreachable: 503 too.
	catSrv.Close()
	_, err = orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}})
	wantErr(t, err, shop.ErrUnavailable, "catalog_unavailable")
}
