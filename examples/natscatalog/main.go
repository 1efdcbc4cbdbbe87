// Command natscatalog serves the kitshop catalog over NATS instead of HTTP,
// using go-kit's transport/nats and nothing of kitshop but its exported API:
// the catalog's Endpoints and request/response types, shop.ErrorDetail for
// errors, and user.Tokens to verify bearer tokens.
//
//	go run ./examples/natscatalog -nats nats://127.0.0.1:4222 -secret-key "$(cat data/secret.key)"
//
// Clients call the subjects kitshop.catalog.{create,get,update,delete,list}
// with the JSON request types of package catalog and an Authorization header
// ("Bearer <token>"); NewClient in this package is such a client, and it
// implements catalog.Service.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-kit/log"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/user"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "natscatalog:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("natscatalog", flag.ContinueOnError)
	url := fs.String("nats", nats.DefaultURL, "NATS server URL")
	db := fs.String("db", "catalog.db", "SQLite file of the catalogue")
	key := fs.String("secret-key", os.Getenv("SHOP_SECRET_KEY"), "token signing key, at least 32 characters (SHOP_SECRET_KEY)")
	prefix := fs.String("prefix", "kitshop.catalog", "subject prefix")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tokens, err := user.NewTokens([]byte(*key))
	if err != nil {
		return err
	}
	store, err := catalog.OpenSQLiteStore(context.Background(), *db)
	if err != nil {
		return err
	}
	defer store.Close()
	logger := log.NewLogfmtLogger(log.NewSyncWriter(os.Stderr))
	metrics, err := shop.NewServiceMetrics(prometheus.NewRegistry(), "catalog")
	if err != nil {
		return err
	}
	nc, err := nats.Connect(*url, nats.Name("kitshop catalog"))
	if err != nil {
		return err
	}
	defer nc.Drain()
	stop, err := Serve(nc, *prefix, catalog.MakeServerEndpoints(catalog.New(store, logger, metrics)), tokens, logger)
	if err != nil {
		return err
	}
	defer stop()
	logger.Log("msg", "serving the catalog over NATS", "url", *url, "prefix", *prefix)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	<-ctx.Done()
	return nil
}
