// Package inventorysvc runs the inventory service as one process: the whole of the inventorysvc
// command (examples/inventorysvc, whose documentation lists its settings), in a
// package so that examples/shop can run it as a child process of the split
// topology.
package inventorysvc

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

// Run reads its settings from args, the SHOP_* environment and ./.env, and
// serves until ctx is done, then deregisters and shuts down gracefully.
// ready, if not nil, is called with the listening address.
func Run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error {
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
	lag, err := inbox.NewLagHistogram(svc.Registry, inventory.Consumer)
	if err != nil {
		return err
	}
	inboxOpts := []inbox.Option{inbox.Logger(svc.Logger), inbox.Lag(lag)}
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
	ops, err := app.NewOpsMetrics(svc.Registry, svc.Logger)
	if err != nil {
		return err
	}
	ops.Outbox(inventory.EventSource, store)
	ops.Parked(inventory.Consumer, ib.Parked) // with RabbitMQ, dead letters live in its dead-letter queue instead
	ops.Reservations(store)
	wg.Go(func() { ops.Run(bg) })
	return svc.Serve(ctx, mux, ready)
}
