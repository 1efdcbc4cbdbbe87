package catalog_test

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
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/catalog/catalogtest"
	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/user"
)

// catalogInstances serves svc on n HTTP servers, counting the requests
// each one gets.
func catalogInstances(t *testing.T, svc catalog.Service, tokens *user.Tokens, n int) ([]string, []*atomic.Int64) {
	t.Helper()
	handler := catalog.NewHTTPHandler(catalog.MakeServerEndpoints(svc), tokens, log.NewNopLogger())
	var urls []string
	var hits []*atomic.Int64
	for range n {
		count := &atomic.Int64{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			count.Add(1)
			handler.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
		hits = append(hits, count)
	}
	return urls, hits
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

func newTokens(t *testing.T) *user.Tokens {
	t.Helper()
	tokens, err := user.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func newHTTPClient(t *testing.T, instances []string, token func() (string, error), opts ...discovery.ClientOption) *catalog.HTTPClient {
	t.Helper()
	// A copy: go-kit's endpointer sorts the slice it is sent.
	c, err := catalog.NewHTTPClient(sd.FixedInstancer(slices.Clone(instances)), token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The conformance suite through NewHTTPClient, balanced over two instances
// of one service.
func TestConformanceHTTPClient(t *testing.T) {
	tokens := newTokens(t)
	catalogtest.Run(t, catalogtest.Harness{
		New: func(t *testing.T) catalog.Service {
			urls, _ := catalogInstances(t, catalog.NewService(openStore(t)), tokens, 2)
			return newHTTPClient(t, urls, nil)
		},
		As: testkit.BearerAs(tokens),
	})
}

// Both instances serve; a create (not idempotent) goes to the live
// instance when the other's port is closed; a burst of 404s leaves the
// breakers closed; with no live instance the answer is 503
// catalog_unavailable.
func TestHTTPClientAcrossInstances(t *testing.T) {
	tokens := newTokens(t)
	svc := catalog.NewService(openStore(t))
	urls, hits := catalogInstances(t, svc, tokens, 2)
	admin := tokens.TokenSource(shop.Identity{UserID: "admin", Role: shop.RoleAdmin}, time.Hour)
	reg := prometheus.NewRegistry()
	ctx := context.Background()

	c := newHTTPClient(t, urls, admin, discovery.ClientMetrics(reg))
	p, err := c.CreateProduct(ctx, catalog.NewProduct{SKU: "RR-1", Name: "Mug", Price: 100, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := c.GetProduct(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	if hits[0].Load() == 0 || hits[1].Load() == 0 || hits[0].Load()+hits[1].Load() != 11 {
		t.Fatalf("hits %d and %d; want both instances used, 11 in all", hits[0].Load(), hits[1].Load())
	}

	for range 40 {
		if _, err := c.GetProduct(ctx, shop.NewID()); !errors.Is(err, shop.ErrNotFound) || shop.CodeOf(err) != catalog.CodeProductNotFound {
			t.Fatalf("missing product: %v", err)
		}
	}
	if total := hits[0].Load() + hits[1].Load(); total != 51 {
		t.Fatalf("40 not-found reads made %d requests; want 40 (no retries)", total-11)
	}
	if _, err := c.GetProduct(ctx, p.ID); err != nil {
		t.Fatalf("after 40 not-founds: %v", err)
	}
	families, _ := reg.Gather()
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if f.GetName() == "kitshop_client_breaker_state" && m.GetGauge().GetValue() != 0 {
				t.Fatalf("a breaker is not closed after not-founds: %v", m)
			}
		}
	}

	down := closedPort(t)
	c = newHTTPClient(t, []string{down, urls[0]}, admin)
	before := hits[0].Load()
	for i := range 4 {
		if _, err := c.CreateProduct(ctx, catalog.NewProduct{SKU: "DOWN-" + string(rune('A'+i)), Name: "Mug", Price: 100, Currency: "EUR"}); err != nil {
			t.Fatalf("create with one instance down: %v", err)
		}
	}
	if n := hits[0].Load() - before; n != 4 {
		t.Fatalf("4 creates reached the live instance %d times; want 4", n)
	}

	c = newHTTPClient(t, []string{down}, admin)
	_, err = c.GetProduct(ctx, p.ID)
	if !errors.Is(err, shop.ErrUnavailable) || shop.CodeOf(err) != "catalog_unavailable" {
		t.Fatalf("no live instance: %v (code %s); want 503 catalog_unavailable", err, shop.CodeOf(err))
	}
}
