//go:build unix

package order_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/order"
	"github.com/kitshop/shop/order/ordertest"
	"github.com/kitshop/shop/user"
)

func clientTokens(t *testing.T) *user.Tokens {
	t.Helper()
	tokens, err := user.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// serveCounting serves h on a new server, counting its requests.
func serveCounting(t *testing.T, h http.Handler) (string, *atomic.Int64) {
	t.Helper()
	count := &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, count
}

// The conformance suite through NewHTTPClient, balanced over two instances
// of one order service.
func TestConformanceHTTPClient(t *testing.T) {
	tokens := clientTokens(t)
	b := &backend{}
	ordertest.Run(t, ordertest.Harness{
		New: func(t *testing.T) order.Service {
			b.f = newFixture(t)
			h := order.NewHTTPHandler(order.MakeServerEndpoints(b.f.orders), tokens, log.NewNopLogger())
			one, _ := serveCounting(t, h)
			two, _ := serveCounting(t, h)
			c, err := order.NewHTTPClient(sd.FixedInstancer{one, two}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		},
		As:      testkit.BearerAs(tokens),
		Seed:    b.seed,
		Deliver: b.deliver,
	})
}

// Beside an instance answering 500, an order without an idempotency key
// that reached it is not placed again elsewhere (the caller gets 503
// order_unavailable), one with a key is; payments are never sent twice.
func TestHTTPClientRetriesOnlyKeyedOrders(t *testing.T) {
	tokens := clientTokens(t)
	f := newFixture(t)
	live, _ := serveCounting(t, order.NewHTTPHandler(order.MakeServerEndpoints(f.orders), tokens, log.NewNopLogger()))
	failing, failingHits := serveCounting(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	closed := discovery.ClientBreakers(discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: 1000}))
	c, err := order.NewHTTPClient(sd.FixedInstancer{failing, live}, nil, closed)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testkit.BearerAs(tokens)(context.Background(), alice)
	p := f.product("RETRY", 100, "USD", 100)
	items := []order.Item{{ProductID: p, Quantity: 1}}

	var placed, failed int
	for range 4 {
		_, err := c.PlaceOrder(ctx, order.NewOrder{Items: items})
		if err == nil {
			placed++
			continue
		}
		wantErr(t, err, shop.ErrUnavailable, "order_unavailable")
		failed++
	}
	if placed != 2 || failed != 2 || failingHits.Load() != 2 {
		t.Fatalf("4 orders without a key: %d placed, %d failed, %d reached the failing instance; want 2, 2, 2", placed, failed, failingHits.Load())
	}
	for i := range 4 {
		if _, err := c.PlaceOrder(ctx, order.NewOrder{Items: items, IdempotencyKey: fmt.Sprintf("key-%d", i)}); err != nil {
			t.Fatalf("keyed order beside a failing instance: %v", err)
		}
	}
	page, err := f.orders.ListOrders(asAlice, shop.PageRequest{Limit: 50})
	if err != nil || len(page.Items) != 6 {
		t.Fatalf("orders stored: %d (%v); want 6, each once", len(page.Items), err)
	}

	before := failingHits.Load()
	var paid int
	for _, o := range page.Items {
		if _, err := c.PayOrder(ctx, o.ID, "4242 4242 4242 4242"); err == nil {
			paid++
		} else {
			wantErr(t, err, shop.ErrUnavailable, "order_unavailable")
		}
	}
	if reached := failingHits.Load() - before; paid+int(reached) != 6 || paid == 0 {
		t.Fatalf("6 payments: %d paid, %d reached the failing instance; want every payment sent once", paid, reached)
	}
}

// The order service on catalog and inventory found through instancers, as
// in a split deployment: with inventory stopped, orders answer 503
// inventory_unavailable at once and store nothing; once it is back on its
// address, orders succeed again without rebuilding anything.
func TestOrdersSurviveInventoryOutage(t *testing.T) {
	tokens := clientTokens(t)
	f := newFixture(t)
	nop := log.NewNopLogger()
	catalogURL, _ := serveCounting(t, catalog.NewHTTPHandler(catalog.MakeServerEndpoints(f.catalog), tokens, nop))
	invHandler := inventory.NewInternalHTTPHandler(inventory.MakeServerEndpoints(f.inventory), tokens, nop)
	invSrv := httptest.NewServer(invHandler)
	invAddr := invSrv.Listener.Addr().String()

	serviceToken := tokens.TokenSource(shop.Identity{UserID: "order", Role: shop.RoleService}, time.Hour)
	breakers := discovery.ClientBreakers(discovery.HystrixBreakers(discovery.HystrixSettings{RequestVolumeThreshold: 5, SleepWindow: 200 * time.Millisecond}))
	cat, err := catalog.NewHTTPClient(sd.FixedInstancer{catalogURL}, nil, breakers)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	inv, err := inventory.NewHTTPClient(sd.FixedInstancer{"http://" + invAddr}, serviceToken, breakers)
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	store, err := order.OpenSQLiteStore(context.Background(), filepath.Join(t.TempDir(), "order.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	orders := order.NewService(store, cat, inv, order.NewDevPayments())

	p := f.product("OUTAGE", 250, "USD", 10)
	items := []order.Item{{ProductID: p, Quantity: 1}}
	if _, err := orders.PlaceOrder(asAlice, order.NewOrder{Items: items}); err != nil {
		t.Fatal(err)
	}

	invSrv.Close()
	release := holdClosed(t, invAddr) // nothing else takes the port meanwhile
	for range 10 {
		start := time.Now()
		_, err := orders.PlaceOrder(asAlice, order.NewOrder{Items: items})
		wantErr(t, err, shop.ErrUnavailable, "inventory_unavailable")
		if took := time.Since(start); took > time.Second {
			t.Fatalf("with inventory down an order took %v to fail; want well within a second", took)
		}
	}
	page, err := orders.ListOrders(asAlice, shop.PageRequest{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("orders after the outage: %d (%v); want only the first", len(page.Items), err)
	}
	wantStock(t, f.stock(p), 10, 1)

	// Inventory back on its address.
	release()
	l, err := net.Listen("tcp", invAddr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", invAddr, err)
	}
	restarted := httptest.NewUnstartedServer(invHandler)
	restarted.Listener.Close()
	restarted.Listener = l
	restarted.Start()
	defer restarted.Close()

	var placed bool
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := orders.PlaceOrder(asAlice, order.NewOrder{Items: items}); err == nil {
			placed = true
			break
		}
	}
	if !placed {
		t.Fatal("orders still fail after inventory came back")
	}
	wantStock(t, f.stock(p), 10, 2)
}

// holdClosed keeps the port of addr (127.0.0.1:port) bound without
// listening, so connecting to it is refused and no other test's server can
// take it, until release.
func holdClosed(t *testing.T, addr string) (release func()) {
	t.Helper()
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	// As net.Listen does, so the closed server's connections in TIME_WAIT
	// do not keep the port.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		t.Fatal(err)
	}
	sa := &syscall.SockaddrInet4{Port: tcp.Port}
	copy(sa.Addr[:], tcp.IP.To4())
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		t.Fatalf("hold %s closed: %v", addr, err)
	}
	var once bool
	release = func() {
		if !once {
			once = true
			syscall.Close(fd)
		}
	}
	t.Cleanup(release)
	return release
}
