// Command ordersvc runs the order desk on its own, on the article's port
// 5003: placing, paying, cancelling and refunding orders over HTTP, with
// /healthz, /readyz and /metrics. It prices orders through the catalog
// service and holds stock through the inventory service, both found through
// static lists or Consul, each call balanced, retried only where safe, bounded
// in time and broken when the dependency keeps failing.
//
// The order events of the outbox go to the inventory service, which sells
// the units of a paid order and releases those of a cancelled or expired
// one: through RabbitMQ with -amqp, else pushed as CloudEvents to the
// inventory's internal events route. Paying and cancelling never wait for
// the inventory: an event waits in the outbox while the inventory or the
// broker is down and goes out when it is back.
//
// Every setting is a flag, a SHOP_* environment variable or a line of a .env
// file in the working directory (in that order of precedence):
//
//	-addr           SHOP_ADDR            listen address (default 127.0.0.1:5003)
//	-data-dir       SHOP_DATA_DIR        holds order.db, payments.db and, unless a key is given, secret.key (default ./data)
//	-secret-key     SHOP_SECRET_KEY      token signing key shared by every service
//	-consul         SHOP_CONSUL_ADDR     Consul agent: register there and find the others through it
//	-users-url      SHOP_USERS_URL       user service instances without Consul (default 127.0.0.1:5001)
//	-catalog-url    SHOP_CATALOG_URL     catalog service instances without Consul (default 127.0.0.1:5002)
//	-inventory-url  SHOP_INVENTORY_URL   inventory service instances without Consul (default 127.0.0.1:5004)
//	-order-ttl      SHOP_ORDER_TTL       how long an unpaid order holds its stock (default 15m)
//	-amqp           SHOP_AMQP_URL        RabbitMQ URL for events; unset: CloudEvents over HTTP
//	-amqp-prefix    SHOP_AMQP_PREFIX     prefix of the exchange and queue names (default kitshop)
//	-quiet          SHOP_QUIET           log only warnings and errors
package main

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

func main() {
	app.Main("ordersvc", func(ctx context.Context, args []string, stderr io.Writer) error {
		return run(ctx, args, stderr, nil)
	})
}

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

// run serves until ctx is done, then deregisters and shuts down gracefully.
// ready, if not nil, is called with the listening address.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error {
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
	bg, stopBackground := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { store.RunOutbox(bg, events, svc.Logger) })
	wg.Go(func() { orders.RunExpiry(bg, min(max(s.orderTTL/10, 100*time.Millisecond), 5*time.Second)) })
	wg.Go(func() { orders.RunRecovery(bg, time.Minute) })
	defer func() { stopBackground(); wg.Wait() }()

	level.Warn(svc.Logger).Log("msg", "payments use the development provider order.DevPayments: no money moves, test cards only")
	return svc.Serve(ctx, mux, ready)
}
