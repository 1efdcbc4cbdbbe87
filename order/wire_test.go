package order_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kitshop/shop/internal/testkit"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/order"
	"github.com/prometheus/client_golang/prometheus"
)

// New is NewService with its options, instrumented and logged; its own lines
// go to the same logger unless an option says otherwise.
func TestNew(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	m, err := shop.NewServiceMetrics(reg, "order")
	if err != nil {
		t.Fatal(err)
	}
	var buf testkit.SyncBuffer
	svc, core := order.New(f.store, f.catalog, f.inventory, f.payments, log.NewLogfmtLogger(&buf), m,
		order.WithClock(f.clock.Now), order.WithTTL(7*time.Minute))
	if core == nil {
		t.Fatal("New returned no *Orders")
	}
	if _, ok := svc.(*order.Orders); ok {
		t.Fatal("New returned the bare service, without middleware")
	}
	id := callEveryMethod(t, f, svc)
	checkCalls(t, reg)
	if lines := strings.Count(buf.String(), "method="); lines != len(wantCalls()) {
		t.Fatalf("%d call lines, want %d:\n%s", lines, len(wantCalls()), buf.String())
	}
	o, err := core.GetOrder(asAlice, id) // the core is neither logged nor counted
	if err != nil {
		t.Fatal(err)
	}
	if got := o.ExpiresAt.Sub(o.CreatedAt); got != 7*time.Minute {
		t.Fatalf("the order lives %v, want the 7m of WithTTL", got)
	}
	if lines := strings.Count(buf.String(), "method="); lines != len(wantCalls()) {
		t.Fatalf("a call on the core was logged:\n%s", buf.String())
	}

	// The service's own lines (a dependency that failed) go to the logger.
	p := f.product("WIRE", 100, "USD", 5)
	f.invStore.Close()
	_, err = svc.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}})
	wantErr(t, err, shop.ErrUnavailable, order.CodeInventoryUnavailable)
	if !strings.Contains(buf.String(), `msg="dependency failed"`) {
		t.Fatalf("the service's own line is missing:\n%s", buf.String())
	}

	// A WithLogger among the options wins.
	var mine, theirs testkit.SyncBuffer
	svc, _ = order.New(f.store, f.catalog, f.inventory, f.payments, log.NewLogfmtLogger(&theirs), m,
		order.WithLogger(log.NewLogfmtLogger(&mine)))
	_, err = svc.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}})
	wantErr(t, err, shop.ErrUnavailable, order.CodeInventoryUnavailable)
	if !strings.Contains(mine.String(), "dependency failed") || strings.Contains(theirs.String(), "dependency failed") {
		t.Fatalf("the service's own line went to %q, not to its WithLogger %q", theirs.String(), mine.String())
	}
}
