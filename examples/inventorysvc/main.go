// Command inventorysvc runs the inventory (stock and reservations) on its
// own, on the article's port 5004: the public stock routes and the internal
// reservation routes (service tokens only) over HTTP, with /healthz,
// /readyz and /metrics. Stock can only be added for products the catalog
// service knows.
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
//	-quiet        SHOP_QUIET         log only warnings and errors
package main

import (
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/internal/config"
	"github.com/kitshop/shop/inventory"
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
	wg.Go(func() { inventory.NewExpirer(store, inventory.WithLogger(svc.Logger)).RunExpiry(bg, 10*time.Second) })
	defer func() { stopBackground(); wg.Wait() }()
	return svc.Serve(ctx, mux, ready)
}
