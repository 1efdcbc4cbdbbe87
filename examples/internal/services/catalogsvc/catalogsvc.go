// Package catalogsvc runs the catalog service as one process: the whole of the catalogsvc
// command (examples/catalogsvc, whose documentation lists its settings), in a
// package so that examples/shop can run it as a child process of the split
// topology.
package catalogsvc

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

// Run reads its settings from args, the SHOP_* environment and ./.env, and
// serves until ctx is done, then deregisters and shuts down gracefully.
// ready, if not nil, is called with the listening address.
func Run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error {
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
	ops, err := app.NewOpsMetrics(svc.Registry, svc.Logger)
	if err != nil {
		return err
	}
	ops.Outbox(catalog.EventSource, store)
	bg, stopBackground := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { store.RunOutbox(bg, events, svc.Logger) })
	wg.Go(func() { ops.Run(bg) })
	defer func() { stopBackground(); wg.Wait() }()
	return svc.Serve(ctx, mux, ready)
}
