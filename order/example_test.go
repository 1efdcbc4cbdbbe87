package order_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/order"
	"github.com/kitshop/shop/transport/inproc"
	"github.com/kitshop/shop/user"
	"github.com/prometheus/client_golang/prometheus"
)

// Open the order store, build the order desk with its middleware (New),
// serve it over HTTP (MakeServerEndpoints, NewHTTPHandler), and place and pay
// an order through the client. The order.paid event goes from the store's
// outbox to inventory, which sells the held units.
func Example() {
	dir, _ := os.MkdirTemp("", "order-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	logger := log.NewNopLogger()

	// The catalog and inventory the desk prices and reserves through.
	catStore, err := catalog.OpenSQLiteStore(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer catStore.Close()
	invStore, err := inventory.OpenSQLiteStore(ctx, filepath.Join(dir, "inventory.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer invStore.Close()
	cat, inv := catalog.NewService(catStore), inventory.NewService(invStore)

	// The order desk.
	store, err := order.OpenSQLiteStore(ctx, filepath.Join(dir, "order.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	m, _ := shop.NewServiceMetrics(prometheus.NewRegistry(), "order")
	svc, core := order.New(store, cat, inv, order.NewDevPayments(), logger, m, order.WithTTL(30*time.Minute))

	// Its background work: events to inventory, expiry, recovery.
	bus := inproc.NewBus()
	for typ, h := range inventory.EventHandlers(inv, logger) {
		bus.Subscribe(typ, h)
	}
	bg, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }() // before the stores close
	wg.Go(func() { store.RunOutbox(bg, bus, logger) })
	wg.Go(func() { core.RunExpiry(bg, time.Second) })
	wg.Go(func() { core.RunRecovery(bg, time.Minute) })

	// Served over HTTP, used through the client.
	tokens, _ := user.NewTokens([]byte("an example key of at least 32 bytes!"))
	srv := httptest.NewServer(order.NewHTTPHandler(order.MakeServerEndpoints(svc), tokens, logger))
	defer srv.Close()
	alice := shop.Identity{UserID: "alice", Role: shop.RoleCustomer}
	client, err := order.MakeClientEndpoints(srv.URL, tokens.TokenSource(alice, time.Hour))
	if err != nil {
		fmt.Println(err)
		return
	}

	admin := shop.WithIdentity(ctx, shop.Identity{UserID: "admin-1", Role: shop.RoleAdmin})
	mug, _ := cat.CreateProduct(admin, catalog.NewProduct{SKU: "MUG-1", Name: "Blue mug", Price: 1299, Currency: "EUR"})
	inv.AddStock(admin, mug.ID, 5)

	in := order.NewOrder{Items: []order.Item{{ProductID: mug.ID, Quantity: 2}}, IdempotencyKey: "checkout-1"}
	o, err := client.PlaceOrder(ctx, in)
	fmt.Println(o.Status, shop.Money{Amount: o.Total, Currency: o.Currency}, err)
	again, _ := client.PlaceOrder(ctx, in) // a retry: the same order
	fmt.Println("same order:", again.ID == o.ID)

	_, err = client.PayOrder(ctx, o.ID, order.TestCardDeclined)
	fmt.Println(shop.KindOf(err), shop.CodeOf(err))
	o, err = client.PayOrder(ctx, o.ID, "4242 4242 4242 4242")
	fmt.Println(o.Status, err)

	// The relay delivers order.paid to inventory.
	for n, _ := store.PendingEvents(ctx); n > 0; n, _ = store.PendingEvents(ctx) {
		time.Sleep(time.Millisecond)
	}
	st, _ := inv.GetStock(ctx, mug.ID)
	fmt.Println("on hand:", st.OnHand, "reserved:", st.Reserved)
	// Output:
	// pending 25.98 EUR <nil>
	// same order: true
	// payment_required card_declined
	// paid <nil>
	// on hand: 3 reserved: 0
}
