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

	"github.com/go-kit/log/level"

	"github.com/kitshop/shop"
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
	start := time.Now()
	s, err := parseSettings(args, stderr)
	if err != nil {
		return err
	}
	logger, flushLog := app.Logger(stderr, s.Quiet)
	defer flushLog()
	tokens, err := s.Tokens()
	if err != nil {
		return err
	}
	reg := app.Registry()
	peers, err := app.NewPeers(s.ServiceSettings, logger, reg)
	if err != nil {
		return err
	}
	defer peers.Close()
	verifier, err := peers.AccountVerifier(s.ServiceSettings, tokens, "inventory")
	if err != nil {
		return err
	}
	catalogSvc, err := peers.Catalog(s.catalogURL, app.ServiceToken(tokens, "inventory"))
	if err != nil {
		return err
	}
	store, err := inventory.OpenSQLiteStore(ctx, filepath.Join(s.DataDir, "inventory.db"))
	if err != nil {
		return config.DataDirError(err)
	}
	defer store.Close()

	metrics, err := shop.NewServiceMetrics(reg, "inventory")
	if err != nil {
		return err
	}
	// Stock only for products the catalog knows; an unreachable catalog is
	// a 503 naming it.
	productCheck := inventory.WithProductCheck(func(ctx context.Context, id string) error {
		_, err := catalogSvc.GetProduct(ctx, id)
		return app.DependencyError("catalog", err)
	})
	svc := inventory.New(store, logger, metrics, productCheck)
	endpoints := inventory.MakeServerEndpoints(svc)
	mux := http.NewServeMux()
	mux.Handle("/inventory/", inventory.NewHTTPHandler(endpoints, verifier, logger))
	mux.Handle("/internal/", inventory.NewInternalHTTPHandler(endpoints, verifier, logger))
	shophttp.Mount(mux, reg, shophttp.Check{Name: "inventory-db", Func: store.Ping})
	mux.Handle("/", shophttp.NotFound())

	bg, stopBackground := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { inventory.NewExpirer(store, inventory.WithLogger(logger)).RunExpiry(bg, 10*time.Second) })
	defer func() { stopBackground(); wg.Wait() }()

	return app.ServeRegistered(ctx, s.Addr, mux, logger, func(addr net.Addr) (func(), error) {
		deregister, err := peers.Register(ctx, "inventory", addr)
		if err != nil {
			return nil, err
		}
		level.Info(logger).Log("msg", "inventory service ready", "addr", addr, "startup", time.Since(start))
		if ready != nil {
			ready(addr)
		}
		return deregister, nil
	})
}
