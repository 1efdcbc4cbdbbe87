package inventory_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/inventory/inventorytest"
	"github.com/kitshop/shop/user"
)

// inventoryHandler serves svc's public and internal routes on one handler.
func inventoryHandler(svc inventory.Service, tokens *user.Tokens) http.Handler {
	e := inventory.MakeServerEndpoints(svc)
	mux := http.NewServeMux()
	mux.Handle("/internal/", inventory.NewInternalHTTPHandler(e, tokens, log.NewNopLogger()))
	mux.Handle("/", inventory.NewHTTPHandler(e, tokens, log.NewNopLogger()))
	return mux
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

// closedPort is the URL of a port where nothing listens: 127.0.0.1:1, outside the
// range ports are handed out from, so no server of a test running at the
// same time can take it (a port freed by a listener of our own could be).
func closedPort(t *testing.T) string {
	t.Helper()
	if c, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second); err == nil {
		c.Close()
		t.Fatal("something listens on 127.0.0.1:1; these tests need nothing there")
	}
	return "http://127.0.0.1:1"
}

func newHTTPClient(t *testing.T, instances []string, token func() (string, error), opts ...discovery.ClientOption) *inventory.HTTPClient {
	t.Helper()
	// A copy: go-kit's endpointer sorts the slice it is sent.
	c, err := inventory.NewHTTPClient(sd.FixedInstancer(slices.Clone(instances)), token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testTokens(t *testing.T) *user.Tokens {
	t.Helper()
	tokens, err := user.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// The conformance suite through NewHTTPClient, balanced over two instances
// of one service.
func TestConformanceHTTPClient(t *testing.T) {
	tokens := testTokens(t)
	serve := func(t *testing.T, svc inventory.Service) inventory.Service {
		h := inventoryHandler(svc, tokens)
		a, _ := serveCounting(t, h)
		b, _ := serveCounting(t, h)
		return newHTTPClient(t, []string{a, b}, nil)
	}
	inventorytest.Run(t, inventorytest.Harness{
		New: func(t *testing.T) inventory.Service { return serve(t, inventory.NewService(openStore(t))) },
		As:  testkit.BearerAs(tokens),
		WithExpirer: func(t *testing.T) (inventory.Service, *inventory.Expirer) {
			st := openStore(t)
			return serve(t, inventory.NewService(st)), inventory.NewExpirer(st)
		},
		Buyers: 50,
	})
}

// Which calls are retried: beside an instance answering 500, reservations
// (idempotent by order ID) always succeed on the other instance, while an
// AddStock that reached the failing one is not sent again; beside a closed
// port, AddStock goes to the live instance. A burst of not-founds leaves
// the breakers closed; with no live instance the answer is 503
// inventory_unavailable.
func TestHTTPClientRetries(t *testing.T) {
	tokens := testTokens(t)
	svc := inventory.NewService(openStore(t))
	live, liveHits := serveCounting(t, inventoryHandler(svc, tokens))
	failing, failingHits := serveCounting(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	admin := tokens.TokenSource(shop.Identity{UserID: "admin", Role: shop.RoleAdmin}, time.Hour)
	service := tokens.TokenSource(shop.Identity{UserID: "order", Role: shop.RoleService}, time.Hour)
	ctx := context.Background()
	// A breaker that stays closed, so every call meets the failing instance
	// in turn.
	closed := discovery.ClientBreakers(discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: 1000}))

	stock := newHTTPClient(t, []string{failing, live}, admin, closed)
	var added, failed int
	for range 4 {
		_, err := stock.AddStock(ctx, "p1", 10)
		switch {
		case err == nil:
			added++
		case errors.Is(err, shop.ErrUnavailable) && shop.CodeOf(err) == "inventory_unavailable":
			failed++
		default:
			t.Fatalf("AddStock: %v", err)
		}
	}
	s, err := svc.GetStock(ctx, "p1")
	if added != 2 || failed != 2 || failingHits.Load() != 2 || err != nil || s.OnHand != 20 {
		t.Fatalf("4 AddStock beside a failing instance: %d added, %d failed, %d hits on it, on hand %d (%v); want 2, 2, 2, 20: never sent twice",
			added, failed, failingHits.Load(), s.OnHand, err)
	}

	reserve := newHTTPClient(t, []string{failing, live}, service, closed)
	for i := range 4 {
		order := "o" + string(rune('1'+i))
		if _, _, err := reserve.Reserve(ctx, order, []inventory.Line{{ProductID: "p1", Quantity: 1}}, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("Reserve beside a failing instance: %v", err)
		}
		if _, err := reserve.Commit(ctx, order); err != nil {
			t.Fatalf("Commit beside a failing instance: %v", err)
		}
	}
	if s, _ := svc.GetStock(ctx, "p1"); s.OnHand != 16 || s.Reserved != 0 {
		t.Fatalf("after 4 reserved and committed: %+v", s)
	}

	stock = newHTTPClient(t, []string{closedPort(t), live}, admin)
	before := liveHits.Load()
	for range 4 {
		if _, err := stock.AddStock(ctx, "p2", 1); err != nil {
			t.Fatalf("AddStock beside a closed port: %v", err)
		}
	}
	if s, _ := svc.GetStock(ctx, "p2"); s.OnHand != 4 || liveHits.Load()-before != 4 {
		t.Fatalf("4 AddStock beside a closed port: on hand %d, %d requests; want 4, 4", s.OnHand, liveHits.Load()-before)
	}

	reg := prometheus.NewRegistry()
	reads := newHTTPClient(t, []string{live}, nil, discovery.ClientMetrics(reg))
	before = liveHits.Load()
	for range 40 {
		if _, err := reads.GetStock(ctx, shop.NewID()); !errors.Is(err, shop.ErrNotFound) {
			t.Fatalf("missing stock: %v", err)
		}
	}
	if liveHits.Load()-before != 40 {
		t.Fatalf("40 not-found reads made %d requests; want 40", liveHits.Load()-before)
	}
	if _, err := reads.GetStock(ctx, "p1"); err != nil {
		t.Fatalf("after the not-founds: %v", err)
	}
	families, _ := reg.Gather()
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if f.GetName() == "kitshop_client_breaker_state" && m.GetGauge().GetValue() != 0 {
				t.Fatalf("a breaker is not closed after not-founds: %v", m)
			}
		}
	}

	down := newHTTPClient(t, []string{closedPort(t)}, nil)
	if _, err := down.GetStock(ctx, "p1"); !errors.Is(err, shop.ErrUnavailable) || shop.CodeOf(err) != "inventory_unavailable" {
		t.Fatalf("no live instance: %v; want 503 inventory_unavailable", err)
	}
}
