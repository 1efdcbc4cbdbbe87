package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/order"
)

func TestOpsMetricsSampleTheStores(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := catalog.OpenSQLiteStore(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	inv, err := inventory.OpenSQLiteStore(ctx, filepath.Join(dir, "inventory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	orders, err := order.OpenSQLiteStore(ctx, filepath.Join(dir, "order.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer orders.Close()
	admin := shop.WithIdentity(ctx, shop.Identity{UserID: "admin", Role: shop.RoleAdmin})
	p, err := catalog.NewService(cat).CreateProduct(admin, catalog.NewProduct{SKU: "MUG-1", Name: "Mug", Price: 100, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inventory.NewService(inv).AddStock(admin, p.ID, 4); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	m, err := NewOpsMetrics(reg, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	m.Outbox(catalog.EventSource, cat)
	m.Outbox(inventory.EventSource, inv)
	m.Reservations(inv)
	m.Orders(orders)
	m.Parked(inventory.Consumer, func(context.Context) (int, error) { return 3, nil })
	m.Sample(ctx)
	want := `
# HELP kitshop_outbox_pending_events Events written to a service's outbox and not yet confirmed by the transport.
# TYPE kitshop_outbox_pending_events gauge
kitshop_outbox_pending_events{source="catalog"} 1
kitshop_outbox_pending_events{source="inventory"} 1
# HELP kitshop_inbox_parked_events Events a consumer gave up on, parked for an operator to replay (GET /admin/dead-letters).
# TYPE kitshop_inbox_parked_events gauge
kitshop_inbox_parked_events{consumer="inventory"} 3
# HELP kitshop_inventory_reservations_held Reservations held for orders not yet paid, cancelled or expired.
# TYPE kitshop_inventory_reservations_held gauge
kitshop_inventory_reservations_held 0
# HELP kitshop_orders Orders by status.
# TYPE kitshop_orders gauge
kitshop_orders{status="cancelled"} 0
kitshop_orders{status="expired"} 0
kitshop_orders{status="paid"} 0
kitshop_orders{status="paying"} 0
kitshop_orders{status="pending"} 0
kitshop_orders{status="refunded"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"kitshop_outbox_pending_events", "kitshop_inbox_parked_events", "kitshop_inventory_reservations_held", "kitshop_orders"); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "kitshop_outbox_oldest_pending_age_seconds" {
			continue
		}
		for _, g := range f.GetMetric() {
			if age := g.GetGauge().GetValue(); age < 0 || age > 60 {
				t.Fatalf("oldest pending age %v s, want the seconds since this test wrote the events", age)
			}
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("the gauges break Prometheus conventions: %v %v", problems, err)
	}
	if _, err := NewOpsMetrics(reg, log.NewNopLogger()); err == nil {
		t.Fatal("registering the gauges twice on one registry: no error")
	}
}
