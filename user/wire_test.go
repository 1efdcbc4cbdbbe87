package user_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/user"
)

// testMetrics returns service metrics on a registry of their own.
func testMetrics(t *testing.T) shop.ServiceMetrics {
	t.Helper()
	m, _ := testMetricsOn(t)
	return m
}

func testMetricsOn(t *testing.T) (shop.ServiceMetrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := shop.NewServiceMetrics(reg, "user")
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// requestCounts returns the kitshop_user_requests_total counters by
// "method/code".
func requestCounts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "kitshop_user_requests_total" {
			continue
		}
		for _, metric := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			counts[labels["method"]+"/"+labels["code"]] = metric.GetCounter().GetValue()
		}
	}
	return counts
}

func TestNew(t *testing.T) {
	m, reg := testMetricsOn(t)
	var buf bytes.Buffer
	logger := log.NewLogfmtLogger(&buf)
	s := user.New(newStore(t), newTokens(t), logger, m,
		user.WithBcryptCost(bcrypt.MinCost), user.WithLoginThrottle(2, time.Hour))
	ctx := shop.WithRequestID(context.Background(), "req-7")
	if _, err := s.Register(ctx, user.Registration{Email: "ada@example.com", Password: "correct horse", Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s.Login(ctx, "ada@example.com", "wrong horse")
	}

	// Every call is counted...
	want := map[string]float64{"Register/": 1, "Login/invalid_credentials": 2, "Login/too_many_attempts": 1}
	got := requestCounts(t, reg)
	if len(got) != len(want) {
		t.Fatalf("counters %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("counter %s = %v, want %v", k, got[k], v)
		}
	}
	// ... and logged, and the service's own line (the lock) goes to the
	// same logger.
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var calls, locks int
	for _, l := range lines {
		switch {
		case strings.Contains(l, "method="):
			calls++
			if !strings.Contains(l, "request_id=req-7") {
				t.Errorf("call line without the request ID: %s", l)
			}
		case strings.Contains(l, "email locked"):
			locks++
			if !strings.Contains(l, "level=warn") || !strings.Contains(l, "email=ada@example.com") || !strings.Contains(l, "request_id=req-7") {
				t.Errorf("lock line %s", l)
			}
		}
	}
	if calls != 4 || locks != 1 {
		t.Fatalf("%d call lines and %d lock lines, want 4 and 1:\n%s", calls, locks, buf.String())
	}
}

// The service logs a lock once, when it starts, and never the password or
// a malformed email.
func TestWithLoggerLogsLocks(t *testing.T) {
	var buf bytes.Buffer
	s, _, _ := newService(t, user.WithLogger(log.NewLogfmtLogger(&buf)), user.WithLoginThrottle(2, time.Hour))
	ctx := context.Background()
	for range 4 {
		s.Login(ctx, "ghost@example.com", "secret-guess")
		s.Login(ctx, "secret-in-email", "x")
	}
	out := buf.String()
	if n := strings.Count(out, "email locked"); n != 2 {
		t.Fatalf("%d lock lines, want 2 (one per locked email):\n%s", n, out)
	}
	if !strings.Contains(out, "email=ghost@example.com") || !strings.Contains(out, "email=[malformed]") || !strings.Contains(out, "for=1h0m0s") {
		t.Fatalf("lock lines lack the email or the duration:\n%s", out)
	}
	if strings.Contains(out, "secret") {
		t.Fatalf("the log shows a secret:\n%s", out)
	}
	// Without WithLogger the service logs nothing (and does not fail).
	quiet, _, _ := newService(t, user.WithLoginThrottle(1, time.Hour))
	quiet.Login(ctx, "ghost@example.com", "secret-guess")
}
