package inventory_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inventory"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
	"github.com/prometheus/client_golang/prometheus"
)

// The life of some stock: an admin adds units, the order service holds them
// for an order, a second order finds too few left, and the first order's
// payment turns its hold into a sale.
func Example() {
	dir, err := os.MkdirTemp("", "inventory-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := inventory.OpenSQLiteStore(ctx, filepath.Join(dir, "inventory.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	svc := inventory.NewService(store)

	admin := shop.WithIdentity(ctx, shop.Identity{UserID: "admin-1", Role: shop.RoleAdmin})
	orders := shop.WithIdentity(ctx, shop.Identity{UserID: "order", Role: shop.RoleService})

	if _, err := svc.AddStock(admin, "mug", 3); err != nil {
		panic(err)
	}
	expires := time.Now().Add(15 * time.Minute)
	r, created, err := svc.Reserve(orders, "order-1", []inventory.Line{{ProductID: "mug", Quantity: 2}}, expires)
	fmt.Println("order-1:", r.Status, created, err)

	// A retry of the same order finds its reservation.
	_, created, err = svc.Reserve(orders, "order-1", []inventory.Line{{ProductID: "mug", Quantity: 2}}, expires)
	fmt.Println("order-1 again:", created, err)

	_, _, err = svc.Reserve(orders, "order-2", []inventory.Line{{ProductID: "mug", Quantity: 2}}, expires)
	fmt.Println("order-2:", shop.CodeOf(err), "-", err)

	r, err = svc.Commit(orders, "order-1")
	fmt.Println("order-1:", r.Status, err)

	st, _ := svc.GetStock(ctx, "mug")
	fmt.Printf("mug: on hand %d, reserved %d, available %d\n", st.OnHand, st.Reserved, st.Available)
	// Output:
	// order-1: held true <nil>
	// order-1 again: false <nil>
	// order-2: insufficient_stock - not enough stock of product mug: 2 requested, 1 available
	// order-1: committed <nil>
	// mug: on hand 1, reserved 0, available 1
}

// Wiring the inventory as a service: the service with its default
// middleware (New), the public and internal HTTP routes on one listener, the
// expiry loop and the order event handlers; and, in another service, a
// client that uses the remote inventory through the same Service interface.
func Example_wiring() {
	dir, err := os.MkdirTemp("", "inventory-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	logger := log.NewNopLogger() // log.NewLogfmtLogger(os.Stderr) in a real binary

	store, err := inventory.OpenSQLiteStore(ctx, filepath.Join(dir, "inventory.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	metrics, err := shop.NewServiceMetrics(prometheus.NewRegistry(), "inventory")
	if err != nil {
		panic(err)
	}
	// Logging around instrumenting around the service.
	svc := inventory.New(store, logger, metrics)

	// Held reservations nobody paid for return to stock every minute, until
	// shutdown, which waits for the loop before the store closes.
	expiryCtx, stopExpiry := context.WithCancel(ctx)
	expiryDone := make(chan struct{})
	go func() {
		defer close(expiryDone)
		inventory.NewExpirer(store, inventory.WithLogger(logger)).RunExpiry(expiryCtx, time.Minute)
	}()
	defer func() { stopExpiry(); <-expiryDone }()

	// Subscribe these to the order events (shop.Subscriber).
	handlers := inventory.EventHandlers(svc, logger)
	fmt.Println("handles order.paid:", handlers[shop.EventOrderPaid] != nil)

	tokens, err := user.NewTokens([]byte("an example key of at least 32 bytes"))
	if err != nil {
		panic(err)
	}
	endpoints := inventory.MakeServerEndpoints(svc)
	mux := http.NewServeMux()
	mux.Handle("/internal/", inventory.NewInternalHTTPHandler(endpoints, tokens, logger)) // never behind the gateway
	mux.Handle("/", inventory.NewHTTPHandler(endpoints, tokens, logger))
	srv := httptest.NewServer(shophttp.WithRequestID(mux))
	defer srv.Close()

	// The order service's view: a remote inventory, called with a service credential.
	asAdmin := tokens.TokenSource(shop.Identity{UserID: "admin-1", Role: shop.RoleAdmin}, time.Hour)
	asOrders := tokens.TokenSource(shop.Identity{UserID: "order", Role: shop.RoleService}, time.Hour)
	adminClient, err := inventory.MakeClientEndpoints(srv.URL, asAdmin)
	if err != nil {
		panic(err)
	}
	var remote inventory.Service
	remote, err = inventory.MakeClientEndpoints(srv.URL, asOrders)
	if err != nil {
		panic(err)
	}

	st, err := adminClient.AddStock(ctx, "mug", 1)
	fmt.Println("available:", st.Available, err)
	r, created, err := remote.Reserve(ctx, "order-1", []inventory.Line{{ProductID: "mug", Quantity: 1}}, time.Now().Add(time.Hour))
	fmt.Println("order-1:", r.Status, created, err)
	_, _, err = remote.Reserve(ctx, "order-2", []inventory.Line{{ProductID: "mug", Quantity: 1}}, time.Now().Add(time.Hour))
	fmt.Println("order-2:", shop.KindOf(err), shop.CodeOf(err))
	// Output:
	// handles order.paid: true
	// available: 1 <nil>
	// order-1: held true <nil>
	// order-2: conflict insufficient_stock
}
