package inventory

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kitshop/shop"
	"github.com/prometheus/client_golang/prometheus"
)

// logRecorder is a log.Logger that keeps every line as key/value maps.
type logRecorder struct {
	mu   sync.Mutex
	recs []map[string]string
}

func (l *logRecorder) Log(kv ...any) error {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = fmt.Sprint(kv[i+1])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, m)
	return nil
}

func (l *logRecorder) lines() []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]map[string]string(nil), l.recs...)
}

// contains reports whether some line has key set to value.
func (l *logRecorder) contains(key string, value any) bool {
	for _, r := range l.lines() {
		if v, ok := r[key]; ok && v == fmt.Sprint(value) {
			return true
		}
	}
	return false
}

func TestLoggingMiddleware(t *testing.T) {
	f := newFixture(t)
	var logs logRecorder
	svc := LoggingMiddleware(&logs)(f.svc)
	ctx := shop.WithRequestID(adminCtx, "req-42")
	if _, err := svc.AddStock(ctx, "p1", 5); err != nil {
		t.Fatal(err)
	}
	svc.Reserve(shop.WithRequestID(serviceCtx, "req-43"), "o1", []Line{{"p1", 9}}, f.expires())
	svc.Reserve(serviceCtx, "o2", []Line{{"p1", 1}, {"p1", 1}}, f.expires())

	recs := logs.lines()
	if len(recs) != 3 {
		t.Fatalf("got %d log lines, want one per call: %v", len(recs), recs)
	}
	add, res, ok := recs[0], recs[1], recs[2]
	if add["method"] != "AddStock" || add["product_id"] != "p1" || add["quantity"] != "5" ||
		add["request_id"] != "req-42" || add["err"] != "<nil>" || add["took"] == "" {
		t.Errorf("AddStock line = %v", add)
	}
	if res["method"] != "Reserve" || res["order_id"] != "o1" || res["lines"] != "1" ||
		res["request_id"] != "req-43" || !strings.Contains(res["err"], "not enough stock") || res["created"] != "false" {
		t.Errorf("Reserve line = %v", res)
	}
	if ok["method"] != "Reserve" || ok["order_id"] != "o2" || ok["lines"] != "2" || ok["created"] != "true" || ok["err"] != "<nil>" {
		t.Errorf("Reserve line of a created reservation = %v", ok)
	}
}

func TestInstrumentingMiddleware(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	m, err := shop.NewServiceMetrics(reg, "inventory")
	if err != nil {
		t.Fatal(err)
	}
	svc := InstrumentingMiddleware(m)(f.svc)
	svc.AddStock(adminCtx, "p1", 5)
	svc.GetStock(context.Background(), "p1")
	svc.GetStock(context.Background(), "nope")
	svc.Reserve(customerCtx, "o1", []Line{{"p1", 1}}, f.expires())

	counts := map[string]float64{}
	latencySeries := 0
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			key := labels["method"] + "/" + labels["code"]
			switch mf.GetName() {
			case "kitshop_inventory_requests_total":
				counts[key] = m.GetCounter().GetValue()
			case "kitshop_inventory_request_duration_seconds":
				latencySeries++
				if m.GetHistogram().GetSampleCount() != 1 {
					t.Errorf("latency %s has %d samples, want 1", key, m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	want := map[string]float64{"AddStock/": 1, "GetStock/": 1, "GetStock/stock_not_found": 1, "Reserve/forbidden": 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("requests_total = %v, want %v", counts, want)
	}
	if latencySeries != 4 {
		t.Fatalf("latency series = %d, want 4", latencySeries)
	}
}
