package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
)

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHealthHandler(t *testing.T) {
	srv := httptest.NewServer(shophttp.HealthHandler())
	defer srv.Close()
	resp := get(t, srv.Client(), srv.URL)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	var got struct{ Status string }
	if err := json.Unmarshal([]byte(body(t, resp)), &got); err != nil || got.Status != "ok" {
		t.Errorf("body status = %q, %v; want ok", got.Status, err)
	}
}

func TestReadyHandler(t *testing.T) {
	ok := func(context.Context) error { return nil }
	fail := func(context.Context) error { return errors.New("dial 10.0.0.7: connection refused") }
	tests := []struct {
		name        string
		checks      []shophttp.Check
		wantStatus  int
		wantState   string
		wantFailing []string
	}{
		{"no checks", nil, http.StatusOK, "ready", []string{}},
		{"all pass", []shophttp.Check{{"db", ok}, {"catalog", ok}}, http.StatusOK, "ready", []string{}},
		{"one fails", []shophttp.Check{{"db", ok}, {"catalog", fail}}, http.StatusServiceUnavailable, "not ready", []string{"catalog"}},
		{"two fail", []shophttp.Check{{"db", fail}, {"catalog", ok}, {"payments", fail}}, http.StatusServiceUnavailable, "not ready", []string{"db", "payments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(shophttp.ReadyHandler(tt.checks...))
			defer srv.Close()
			resp := get(t, srv.Client(), srv.URL)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			raw := body(t, resp)
			var got struct {
				Status  string   `json:"status"`
				Failing []string `json:"failing"`
			}
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				t.Fatalf("body %q: %v", raw, err)
			}
			if got.Status != tt.wantState || !slices.Equal(got.Failing, tt.wantFailing) {
				t.Errorf("body = %+v, want status %q failing %v", got, tt.wantState, tt.wantFailing)
			}
			if got.Failing == nil {
				t.Errorf("failing is null in %q, want a list", raw)
			}
			if strings.Contains(raw, "10.0.0.7") {
				t.Errorf("body %q reveals a check's error", raw)
			}
		})
	}
}

func TestReadyHandlerGivesChecksADeadline(t *testing.T) {
	var hadDeadline bool
	h := shophttp.ReadyHandler(shophttp.Check{Name: "db", Func: func(ctx context.Context) error {
		_, hadDeadline = ctx.Deadline()
		return nil
	}})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if !hadDeadline {
		t.Error("check ran without a deadline")
	}
}

func TestMetricsHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := shop.NewServiceMetrics(reg, "catalog")
	if err != nil {
		t.Fatal(err)
	}
	m.Requests.With("method", "CreateProduct", "code", "").Add(1)
	m.Requests.With("method", "CreateProduct", "code", "sku_taken").Add(1)
	m.Requests.With("method", "CreateProduct", "code", "sku_taken").Add(1)
	m.Latency.With("method", "CreateProduct", "code", "").Observe(0.003)

	srv := httptest.NewServer(shophttp.MetricsHandler(reg))
	defer srv.Close()
	resp := get(t, srv.Client(), srv.URL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	out := body(t, resp)
	for _, want := range []string{
		`kitshop_catalog_requests_total{code="",method="CreateProduct"} 1`,
		`kitshop_catalog_requests_total{code="sku_taken",method="CreateProduct"} 2`,
		`kitshop_catalog_request_duration_seconds_count{code="",method="CreateProduct"} 1`,
		`kitshop_catalog_request_duration_seconds_bucket{code="",method="CreateProduct",le="0.005"} 1`,
		`kitshop_catalog_request_duration_seconds_bucket{code="",method="CreateProduct",le="0.0025"} 0`,
		`# HELP kitshop_catalog_requests_total`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, out)
		}
	}
}

func TestNewServiceMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := shop.NewServiceMetrics(reg, "order"); err != nil {
		t.Fatal(err)
	}
	if _, err := shop.NewServiceMetrics(reg, "user"); err != nil {
		t.Errorf("a second service on the same registry: %v", err)
	}
	_, err := shop.NewServiceMetrics(reg, "order")
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) {
		t.Errorf("registering order twice = %v, want AlreadyRegisteredError", err)
	}
	// Separate registries never collide.
	if _, err := shop.NewServiceMetrics(prometheus.NewRegistry(), "order"); err != nil {
		t.Errorf("the same service on a fresh registry: %v", err)
	}
}

func TestMount(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := shop.NewServiceMetrics(reg, "inventory")
	if err != nil {
		t.Fatal(err)
	}
	m.Requests.With("method", "Reserve", "code", "").Add(1)
	var dbUp atomic.Bool
	dbUp.Store(true)
	mux := http.NewServeMux()
	shophttp.Mount(mux, reg, shophttp.Check{Name: "db", Func: func(context.Context) error {
		if !dbUp.Load() {
			return errors.New("down")
		}
		return nil
	}})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := srv.Client()

	if resp := get(t, c, srv.URL+"/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d", resp.StatusCode)
	}
	if resp := get(t, c, srv.URL+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d", resp.StatusCode)
	}
	dbUp.Store(false)
	resp := get(t, c, srv.URL+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body(t, resp), `"db"`) {
		t.Errorf("/readyz with the db down = %d, want 503 naming db", resp.StatusCode)
	}
	if resp := get(t, c, srv.URL+"/metrics"); !strings.Contains(body(t, resp), `kitshop_inventory_requests_total{code="",method="Reserve"} 1`) {
		t.Error("/metrics lacks the counter")
	}
	post, err := c.Post(srv.URL+"/healthz", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", post.StatusCode)
	}
}
