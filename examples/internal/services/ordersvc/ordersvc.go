// Package ordersvc runs the order service as one process: the whole of the ordersvc
// command (examples/ordersvc, whose documentation lists its settings), in a
// package so that examples/shop can run it as a child process of the split
// topology.
package ordersvc

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/internal/config"
	"github.com/kitshop/shop/order"
	shophttp "github.com/kitshop/shop/transport/http"
)

type settings struct {
	app.ServiceSettings
	catalogURL, inventoryURL string
	orderTTL                 time.Duration
}

func parseSettings(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("ordersvc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s.Register(fs, app.OrdersAddr)
	fs.StringVar(&s.catalogURL, "catalog-url", app.ProductsAddr, "catalog service instances, comma-separated; ignored with -consul (SHOP_CATALOG_URL)")
	fs.StringVar(&s.inventoryURL, "inventory-url", app.InventoryAddr, "inventory service instances, comma-separated; ignored with -consul (SHOP_INVENTORY_URL)")
	fs.DurationVar(&s.orderTTL, "order-ttl", order.DefaultTTL, "how long an unpaid order holds its stock (SHOP_ORDER_TTL)")
	if err := config.Parse(fs, args, ".env"); err != nil {
		return s, err
	}
	if err := s.Check(fs); err != nil {
		return s, err
	}
	if s.orderTTL < 100*time.Millisecond {
		return s, fmt.Errorf("configuration: order-ttl (SHOP_ORDER_TTL) must be at least 100ms, got %s", s.orderTTL)
	}
	return s, nil
}

// Run reads its settings from args, the SHOP_* environment and ./.env, and
// serves until ctx is done, then deregisters and shuts down gracefully.
// ready, if not nil, is called with the listening address.
func Run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error {
	s, err := parseSettings(args, stderr)
	if err != nil {
		return err
	}
	svc, err := app.StartService("order", s.ServiceSettings, stderr)
	if err != nil {
		return err
	}
	defer svc.Close()
	catalogSvc, err := svc.Peers.Catalog(s.catalogURL, svc.Token())
	if err != nil {
		return err
	}
	inventorySvc, err := svc.Peers.Inventory(s.inventoryURL, svc.Token())
	if err != nil {
		return err
	}
	store, err := order.OpenSQLiteStore(ctx, filepath.Join(s.DataDir, "order.db"))
	if err != nil {
		return config.DataDirError(err)
	}
	defer store.Close()
	payments, err := order.OpenDevPayments(ctx, filepath.Join(s.DataDir, "payments.db"))
	if err != nil {
		return config.DataDirError(err)
	}
	defer payments.Close()

	desk, orders := order.New(store, catalogSvc, inventorySvc, payments, svc.Logger, svc.Metrics, order.WithTTL(s.orderTTL))
	handler := order.NewHTTPHandler(order.MakeServerEndpoints(desk), svc.Verifier, svc.Logger)
	mux := http.NewServeMux()
	mux.Handle("/orders", handler)
	mux.Handle("/orders/", handler)
	shophttp.Mount(mux, svc.Registry, shophttp.Check{Name: "order-db", Func: store.Ping})
	mux.Handle("/", shophttp.NotFound())

	events, err := svc.EventPublisher(map[string][2]string{"inventory": {s.inventoryURL, "inventory-url (SHOP_INVENTORY_URL)"}})
	if err != nil {
		return err
	}
	ops, err := app.NewOpsMetrics(svc.Registry, svc.Logger)
	if err != nil {
		return err
	}
	ops.Outbox(order.EventSource, store)
	ops.Orders(store)
	bg, stopBackground := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { store.RunOutbox(bg, events, svc.Logger) })
	wg.Go(func() { orders.RunExpiry(bg, min(max(s.orderTTL/10, 100*time.Millisecond), 5*time.Second)) })
	wg.Go(func() { orders.RunRecovery(bg, time.Minute) })
	wg.Go(func() { ops.Run(bg) })
	defer func() { stopBackground(); wg.Wait() }()

	level.Warn(svc.Logger).Log("msg", "payments use the development provider order.DevPayments: no money moves, test cards only")
	return svc.Serve(ctx, mux, ready)
}
