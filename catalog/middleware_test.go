package catalog

import (
	"context"
	"strings"
	"testing"

	"github.com/kitshop/shop/internal/testkit"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/prometheus/client_golang/prometheus"
)

func TestLoggingMiddleware(t *testing.T) {
	inner, _ := newTestService(t)
	var buf testkit.SyncBuffer
	s := LoggingMiddleware(log.NewLogfmtLogger(&buf))(inner)
	ctx := shop.WithRequestID(adminCtx, "req-42")

	p, err := s.CreateProduct(ctx, validProduct("LOG-1"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.GetProduct(shop.WithRequestID(anonCtx, "req-43"), "missing-id")
	wantErr(t, err, shop.ErrNotFound, "product_not_found")
	if _, err := s.UpdateProduct(ctx, p.ID, ProductPatch{Price: ptr(int64(1))}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListProducts(ctx, ListQuery{Q: "mug"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProduct(ctx, p.ID); err != nil {
		t.Fatal(err)
	}

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d log lines, want one per call:\n%s", len(lines), buf.String())
	}
	want := [][]string{
		{"method=CreateProduct", "request_id=req-42", "sku=LOG-1", "id=" + p.ID, "took=", "err=null"},
		{"method=GetProduct", "request_id=req-43", "id=missing-id", "took=", `err="product \"missing-id\" not found"`},
		{"method=UpdateProduct", "request_id=req-42", "id=" + p.ID, "err=null"},
		{"method=ListProducts", "request_id=req-42", "q=mug", "items=1", "err=null"},
		{"method=DeleteProduct", "request_id=req-42", "id=" + p.ID, "err=null"},
	}
	for i, line := range lines {
		for _, w := range want[i] {
			if !strings.Contains(line, w) {
				t.Errorf("log line %q lacks %q", line, w)
			}
		}
	}
}

func TestInstrumentingMiddleware(t *testing.T) {
	inner, _ := newTestService(t)
	reg := prometheus.NewRegistry()
	m, err := shop.NewServiceMetrics(reg, "catalog")
	if err != nil {
		t.Fatal(err)
	}
	s := InstrumentingMiddleware(m)(inner)

	p, err := s.CreateProduct(adminCtx, validProduct("MET-1"))
	if err != nil {
		t.Fatal(err)
	}
	s.GetProduct(anonCtx, p.ID)
	s.GetProduct(anonCtx, p.ID)
	s.GetProduct(anonCtx, "missing")
	s.CreateProduct(customerCtx, validProduct("MET-2"))
	s.UpdateProduct(adminCtx, p.ID, ProductPatch{})
	s.ListProducts(anonCtx, ListQuery{})
	s.DeleteProduct(adminCtx, p.ID)

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{} // "method/code" -> count
	observed := map[string]uint64{}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			var method, code string
			for _, l := range metric.GetLabel() {
				switch l.GetName() {
				case "method":
					method = l.GetValue()
				case "code":
					code = l.GetValue()
				}
			}
			switch f.GetName() {
			case "kitshop_catalog_requests_total":
				counts[method+"/"+code] = metric.GetCounter().GetValue()
			case "kitshop_catalog_request_duration_seconds":
				observed[method+"/"+code] = metric.GetHistogram().GetSampleCount()
			}
		}
	}
	want := map[string]float64{
		"CreateProduct/":               1,
		"CreateProduct/forbidden":      1,
		"GetProduct/":                  2,
		"GetProduct/product_not_found": 1,
		"UpdateProduct/empty_patch":    1,
		"ListProducts/":                1,
		"DeleteProduct/":               1,
	}
	for k, n := range want {
		if counts[k] != n || observed[k] != uint64(n) {
			t.Errorf("%s: counted %v, observed %v, want %v", k, counts[k], observed[k], n)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("series %v, want %v", counts, want)
	}
}

// Middleware keeps the Service contract: wrapped services still work over HTTP.
func TestMiddlewareOverHTTP(t *testing.T) {
	f := newHTTPFixture(t)
	s := LoggingMiddleware(log.NewNopLogger())(f.admin)
	p, err := s.CreateProduct(context.Background(), validProduct("MW-1"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateProduct(context.Background(), validProduct("MW-1"))
	wantErr(t, err, shop.ErrConflict, "sku_taken")
	if got, err := s.GetProduct(context.Background(), p.ID); err != nil || got.ID != p.ID {
		t.Fatalf("%+v %v", got, err)
	}
}
