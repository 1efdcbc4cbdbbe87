// Command catalogsvc runs the catalog (products) on its own, on the
// article's port 5002: the product routes over HTTP, with /healthz, /readyz
// and /metrics. Tokens are verified with the key every service shares, and
// their accounts are checked with the user service.
//
// Every setting is a flag, a SHOP_* environment variable or a line of a .env
// file in the working directory (in that order of precedence):
//
//	-addr        SHOP_ADDR         listen address (default 127.0.0.1:5002)
//	-data-dir    SHOP_DATA_DIR     holds catalog.db and, unless a key is given, secret.key (default ./data)
//	-secret-key  SHOP_SECRET_KEY   token signing key shared by every service
//	-consul      SHOP_CONSUL_ADDR  Consul agent: register there and find the user service through it
//	-users-url   SHOP_USERS_URL    user service instances without Consul (default 127.0.0.1:5001)
//	-quiet       SHOP_QUIET        log only warnings and errors
package main

import (
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/go-kit/log/level"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/internal/config"
	shophttp "github.com/kitshop/shop/transport/http"
)

func main() {
	app.Main("catalogsvc", func(ctx context.Context, args []string, stderr io.Writer) error {
		return run(ctx, args, stderr, nil)
	})
}

func parseSettings(args []string, stderr io.Writer) (app.ServiceSettings, error) {
	var s app.ServiceSettings
	fs := flag.NewFlagSet("catalogsvc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s.Register(fs, app.ProductsAddr)
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
	peers, err := app.NewPeers(s, logger, reg)
	if err != nil {
		return err
	}
	defer peers.Close()
	verifier, err := peers.AccountVerifier(s, tokens, "catalog")
	if err != nil {
		return err
	}
	store, err := catalog.OpenSQLiteStore(ctx, filepath.Join(s.DataDir, "catalog.db"))
	if err != nil {
		return config.DataDirError(err)
	}
	defer store.Close()

	metrics, err := shop.NewServiceMetrics(reg, "catalog")
	if err != nil {
		return err
	}
	svc := catalog.New(store, logger, metrics)
	mux := http.NewServeMux()
	mux.Handle("/", catalog.NewHTTPHandler(catalog.MakeServerEndpoints(svc), verifier, logger))
	shophttp.Mount(mux, reg, shophttp.Check{Name: "catalog-db", Func: store.Ping})
	return app.ServeRegistered(ctx, s.Addr, mux, logger, func(addr net.Addr) (func(), error) {
		deregister, err := peers.Register(ctx, "catalog", addr)
		if err != nil {
			return nil, err
		}
		level.Info(logger).Log("msg", "catalog service ready", "addr", addr, "startup", time.Since(start))
		if ready != nil {
			ready(addr)
		}
		return deregister, nil
	})
}
