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
//	-amqp        SHOP_AMQP_URL     RabbitMQ URL for its product events; unset: CloudEvents over HTTP
//	-amqp-prefix SHOP_AMQP_PREFIX  prefix of the exchange and queue names (default kitshop)
//	-quiet       SHOP_QUIET        log only warnings and errors
package main

import (
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"

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
	s, err := parseSettings(args, stderr)
	if err != nil {
		return err
	}
	svc, err := app.StartService("catalog", s, stderr)
	if err != nil {
		return err
	}
	defer svc.Close()
	store, err := catalog.OpenSQLiteStore(ctx, filepath.Join(s.DataDir, "catalog.db"))
	if err != nil {
		return config.DataDirError(err)
	}
	defer store.Close()

	products := catalog.New(store, svc.Logger, svc.Metrics)
	mux := http.NewServeMux()
	mux.Handle("/", catalog.NewHTTPHandler(catalog.MakeServerEndpoints(products), svc.Verifier, svc.Logger))
	shophttp.Mount(mux, svc.Registry, shophttp.Check{Name: "catalog-db", Func: store.Ping})

	// product.created, .updated and .deleted go out through the outbox.
	events, err := svc.EventPublisher(nil)
	if err != nil {
		return err
	}
	bg, stopBackground := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { store.RunOutbox(bg, events, svc.Logger) })
	defer func() { stopBackground(); wg.Wait() }()
	return svc.Serve(ctx, mux, ready)
}
