package user_test

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
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
	"github.com/kitshop/shop/user/usertest"
)

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

func newHTTPClient(t *testing.T, instances []string, opts ...discovery.ClientOption) *user.HTTPClient {
	t.Helper()
	// A copy: go-kit's endpointer sorts the slice it is sent.
	c, err := user.NewHTTPClient(sd.FixedInstancer(slices.Clone(instances)), nil, opts...)
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
	usertest.Run(t, usertest.Harness{
		New: func(t *testing.T) user.Service {
			h := user.NewHTTPHandler(user.MakeServerEndpoints(conformanceService(t, tokens)), tokens, log.NewNopLogger())
			one, _ := serveCounting(t, h)
			two, _ := serveCounting(t, h)
			return newHTTPClient(t, []string{one, two})
		},
		As:               testkit.BearerAs(tokens),
		Bearer:           shophttp.WithToken,
		MaxLoginFailures: 3,
	})
}

// Register and Login are not idempotent: beside a closed port they go to
// the live instance, beside one answering 500 they are not sent again.
// Failed logins, up to the throttle's 429, leave the breakers closed.
func TestHTTPClientRetriesAndThrottle(t *testing.T) {
	tokens := newTokens(t)
	h := user.NewHTTPHandler(user.MakeServerEndpoints(conformanceService(t, tokens)), tokens, log.NewNopLogger())
	live, liveHits := serveCounting(t, h)
	failing, failingHits := serveCounting(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	down := "http://127.0.0.1:1" // nothing listens there, and no test's server can take it
	if c, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second); err == nil {
		c.Close()
		t.Fatal("something listens on 127.0.0.1:1; this test needs nothing there")
	}
	ctx := context.Background()

	c := newHTTPClient(t, []string{down, live})
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if _, err := c.Register(ctx, user.Registration{Email: email, Password: "correct horse", Name: "A"}); err != nil {
			t.Fatalf("register beside a closed port: %v", err)
		}
	}

	closed := discovery.ClientBreakers(discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: 1000}))
	c = newHTTPClient(t, []string{failing, live}, closed)
	var ok, failed int
	for range 4 {
		_, err := c.Login(ctx, "a@example.com", "correct horse")
		switch {
		case err == nil:
			ok++
		case errors.Is(err, shop.ErrUnavailable) && shop.CodeOf(err) == "user_unavailable":
			failed++
		default:
			t.Fatalf("login: %v", err)
		}
	}
	if ok != 2 || failed != 2 || failingHits.Load() != 2 {
		t.Fatalf("4 logins beside a failing instance: %d ok, %d failed, %d reached it; want 2, 2, 2", ok, failed, failingHits.Load())
	}

	reg := prometheus.NewRegistry()
	c = newHTTPClient(t, []string{live}, discovery.ClientMetrics(reg))
	before := liveHits.Load()
	var throttled bool
	for range 10 {
		_, err := c.Login(ctx, "b@example.com", "wrong password")
		if errors.Is(err, shop.ErrTooManyRequests) {
			throttled = true
			continue
		}
		if !errors.Is(err, shop.ErrUnauthenticated) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if !throttled || liveHits.Load()-before != 10 {
		t.Fatalf("10 failed logins: throttled %v, %d requests; want 429s and no retries", throttled, liveHits.Load()-before)
	}
	if _, err := c.Login(ctx, "c@example.com", "correct horse"); err != nil {
		t.Fatalf("after 401s and 429s: %v", err)
	}
	families, _ := reg.Gather()
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if f.GetName() == "kitshop_client_breaker_state" && m.GetGauge().GetValue() != 0 {
				t.Fatalf("a breaker is not closed after 401s and 429s: %v", m)
			}
		}
	}
}
