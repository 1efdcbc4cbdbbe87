package user_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/user"
)

func TestLoggingMiddleware(t *testing.T) {
	base, _, _ := newService(t)
	var buf bytes.Buffer
	s := user.LoggingMiddleware(log.NewLogfmtLogger(&buf))(base)
	ctx := shop.WithRequestID(context.Background(), "req-42")

	u, err := s.Register(ctx, user.Registration{Email: "ada@example.com", Password: "pass-register-1", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.Login(ctx, "ada@example.com", "pass-register-1")
	if err != nil {
		t.Fatal(err)
	}
	s.Login(ctx, "pass-in-email-field", "x")
	s.GetUser(shop.WithIdentity(ctx, shop.Identity{UserID: u.ID, Role: shop.RoleCustomer}), "other-id")
	s.Me(ctx)
	s.ListUsers(ctx, shop.PageRequest{})

	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d log lines, want one per call:\n%s", len(lines), out)
	}
	for _, secret := range []string{"pass-register-1", "pass-in-email-field", sess.Token} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains a secret %q:\n%s", secret, out)
		}
	}
	for i, want := range [][]string{
		{"method=Register", "email=ada@example.com", "user_id=" + u.ID, "err=null"},
		{"method=Login", "email=ada@example.com", "user_id=" + u.ID},
		{"method=Login", "email=[malformed]", "err=\"the email or password is wrong\""},
		{"method=GetUser", "user_id=other-id", "caller_id=" + u.ID, "err=\"no such user\""},
		{"method=Me", "err="},
		{"method=ListUsers", "limit=0"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
		for _, w := range []string{"request_id=req-42", "took="} {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
}

func TestInstrumentingMiddleware(t *testing.T) {
	base, _, _ := newService(t)
	reg := prometheus.NewRegistry()
	m, err := shop.NewServiceMetrics(reg, "user")
	if err != nil {
		t.Fatal(err)
	}
	s := user.InstrumentingMiddleware(m)(base)
	ctx := context.Background()
	s.Register(ctx, user.Registration{Email: "ada@example.com", Password: "password1", Name: "Ada"})
	s.Register(ctx, user.Registration{Email: "ada@example.com", Password: "password1", Name: "Ada"})
	s.Login(ctx, "ada@example.com", "nope")
	s.Me(ctx)

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	histograms := 0
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			key := labels["method"] + "/" + labels["code"]
			switch f.GetName() {
			case "kitshop_user_requests_total":
				counts[key] = metric.GetCounter().GetValue()
			case "kitshop_user_request_duration_seconds":
				histograms += int(metric.GetHistogram().GetSampleCount())
			}
		}
	}
	want := map[string]float64{"Register/": 1, "Register/email_taken": 1, "Login/invalid_credentials": 1, "Me/missing_token": 1}
	if len(counts) != len(want) {
		t.Fatalf("counters %v, want %v", counts, want)
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("counter %s = %v, want %v (all: %v)", k, counts[k], v, counts)
		}
	}
	if histograms != 4 {
		t.Errorf("%d latency samples, want 4", histograms)
	}
}
