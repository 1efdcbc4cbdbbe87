package inventory

import (
	"fmt"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/prometheus/client_golang/prometheus"
)

// New is the service with instrumenting and logging around it: every call
// is counted and logged once, and the service's own lines reach the same
// logger.
func TestNew(t *testing.T) {
	st := newTestStore(t)
	reg := prometheus.NewRegistry()
	m, err := shop.NewServiceMetrics(reg, "inventory")
	if err != nil {
		t.Fatal(err)
	}
	var logs logRecorder
	clock := newTestClock()
	svc := New(st, &logs, m, WithClock(clock.Now))

	if _, err := svc.AddStock(adminCtx, "p1", 1); err != nil {
		t.Fatal(err)
	}
	r, created, err := svc.Reserve(serviceCtx, "o1", []Line{{"p1", 1}}, clock.Now().Add(time.Minute))
	if err != nil || !created || !r.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("Reserve = %+v, %v, %v; want it created at the clock's time (the options reach NewService)", r, created, err)
	}
	if _, err := svc.Release(serviceCtx, "o1"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RemoveStock(adminCtx, "p1", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Commit(serviceCtx, "o1"); shop.CodeOf(err) != CodeReservationReleased {
		t.Fatalf("Commit = %v, want reservation_released", err)
	}

	var methods []string
	serviceLines := 0
	for _, r := range logs.lines() {
		if r["method"] != "" {
			methods = append(methods, r["method"])
		} else if r["order_id"] == "o1" && r["level"] == "error" {
			serviceLines++
		}
	}
	if fmt.Sprint(methods) != "[AddStock Reserve Release RemoveStock Commit]" || serviceLines != 1 {
		t.Fatalf("log lines = %v; want one per call and the service's own line", logs.lines())
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]float64{}
	for _, mf := range families {
		if mf.GetName() != "kitshop_inventory_requests_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			count[labels["method"]+"/"+labels["code"]] += mt.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"AddStock/": 1, "Reserve/": 1, "Release/": 1, "RemoveStock/": 1, "Commit/" + CodeReservationReleased: 1}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Fatalf("requests_total = %v, want %v", count, want)
	}
}
