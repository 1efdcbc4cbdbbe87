// Command inventorysvc runs the inventory (stock and reservations) on its
// own, on the article's port 5004: the public stock routes and the internal
// reservation routes (service tokens only) over HTTP, with /healthz,
// /readyz and /metrics. Stock can only be added for products the catalog
// service knows.
//
// It consumes the order events (paid: the held units are sold; cancelled
// or expired: they return to stock; refunded: the sold units go back on
// hand) through its inbox, so each applies once: from its RabbitMQ queue
// with -amqp, else pushed as CloudEvents by the order service to
// POST /internal/events. Events it gives up on are parked; admins list and
// replay them at /admin/dead-letters. Its own stock.changed events go out
// through its outbox the same way.
//
// Every setting is a flag, a SHOP_* environment variable or a line of a .env
// file in the working directory (in that order of precedence):
//
//	-addr         SHOP_ADDR          listen address (default 127.0.0.1:5004)
//	-data-dir     SHOP_DATA_DIR      holds inventory.db and, unless a key is given, secret.key (default ./data)
//	-secret-key   SHOP_SECRET_KEY    token signing key shared by every service
//	-consul       SHOP_CONSUL_ADDR   Consul agent: register there and find the others through it
//	-users-url    SHOP_USERS_URL     user service instances without Consul (default 127.0.0.1:5001)
//	-catalog-url  SHOP_CATALOG_URL   catalog service instances without Consul (default 127.0.0.1:5002)
//	-amqp         SHOP_AMQP_URL      RabbitMQ URL for events; unset: CloudEvents over HTTP
//	-amqp-prefix  SHOP_AMQP_PREFIX   prefix of the exchange and queue names (default kitshop)
//	-quiet        SHOP_QUIET         log only warnings and errors
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

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/inbox"
	"github.com/kitshop/shop/internal/config"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/transport/amqp"
	"github.com/kitshop/shop/transport/cehttp"
	shophttp "github.com/kitshop/shop/transport/http"
)

func main() {
	app.Main("inventorysvc", func(ctx context.Context, args []string, stderr io.Writer) error {
		return run(ctx, args, stderr, nil)
	})
}

type settings struct {
	app.ServiceSettings
	catalogURL string
}

func parseSettings(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("inventorysvc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s.Register(fs, app.InventoryAddr)
	fs.StringVar(&s.catalogURL, "catalog-url", app.ProductsAddr, "catalog service instances, comma-separated; ignored with -consul (SHOP_CATALOG_URL)")
	if err := config.Parse(fs, args, ".env"); err != nil {
		return s, err
	}
	return s, s.Check(fs)
}

// run serves until ctx is done, then deregisters and shuts down gracefully.
// ready, if not nil, is called with the listening address.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error {
	s, err := parseSettings(args, stderr)
	if err != nil {
		return err
	}
	svc, err := app.StartService("inventory", s.ServiceSettings, stderr)
	if err != nil {
		return err
	}
	defer svc.Close()
	catalogSvc, err := svc.Peers.Catalog(s.catalogURL, svc.Token())
	if err != nil {
		return err
	}
	store, err := inventory.OpenSQLiteStore(ctx, filepath.Join(s.DataDir, "inventory.db"))
	if err != nil {
		return config.DataDirError(err)
	}
	defer store.Close()

	// Stock only for products the catalog knows; the client answers 503
	// "catalog_unavailable" when no catalog instance can.
	productCheck := inventory.WithProductCheck(func(ctx context.Context, id string) error {
		_, err := catalogSvc.GetProduct(ctx, id)
		return err
	})
	stock := inventory.New(store, svc.Logger, svc.Metrics, productCheck)
	endpoints := inventory.MakeServerEndpoints(stock)
	mux := http.NewServeMux()
	mux.Handle("/inventory/", inventory.NewHTTPHandler(endpoints, svc.Verifier, svc.Logger))
	mux.Handle("/internal/", inventory.NewInternalHTTPHandler(endpoints, svc.Verifier, svc.Logger))
	shophttp.Mount(mux, svc.Registry, shophttp.Check{Name: "inventory-db", Func: store.Ping})
	mux.Handle("/", shophttp.NotFound())

	bg, stopBackground := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stopBackground(); wg.Wait() }()

	// The order events, applied through the inbox on the inventory's own
	// database. With RabbitMQ, given-up events go to the queue's dead-letter
	// queue; over HTTP, the inbox parks them.
	var consumer shop.Subscriber
	var sub *amqp.Subscriber
	inboxOpts := []inbox.Option{inbox.Logger(svc.Logger)}
	if url := s.Events.AMQP; url != "" {
		if sub, err = amqp.NewSubscriber(url, inventory.Consumer, s.Events.AMQPOptions(svc.Logger)...); err != nil {
			return fmt.Errorf("configuration: amqp (SHOP_AMQP_URL): %w", err)
		}
		consumer = sub
		inboxOpts = append(inboxOpts, inbox.DeadLetterToTransport())
	} else {
		receiver := cehttp.NewReceiver(svc.Verifier, svc.Logger)
		mux.Handle(cehttp.Path, receiver)
		consumer = receiver
	}
	ib := store.Inbox(inboxOpts...)
	if err := ib.Subscribe(consumer, inventory.EventHandlers(stock, svc.Logger)); err != nil {
		return err
	}
	wg.Go(func() { ib.Run(bg) })
	var deadLetters shop.DeadLetters = ib
	if sub != nil {
		wg.Go(func() { sub.Run(bg) })
		deadLetters = sub
	}
	dead := shophttp.DeadLetterHandler(deadLetters, svc.Verifier, svc.Logger)
	mux.Handle(shophttp.DeadLettersPath, dead)
	mux.Handle(shophttp.DeadLettersPath+"/", dead)

	events, err := svc.EventPublisher(nil)
	if err != nil {
		return err
	}
	wg.Go(func() { store.RunOutbox(bg, events, svc.Logger) })
	wg.Go(func() { inventory.NewExpirer(store, inventory.WithLogger(svc.Logger)).RunExpiry(bg, 10*time.Second) })
	return svc.Serve(ctx, mux, ready)
}
