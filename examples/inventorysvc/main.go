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
//	-debug-addr   SHOP_DEBUG_ADDR    serve Go's profiler (/debug/pprof/) on this private address
package main

import (
	"context"
	"io"

	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/examples/internal/services/inventorysvc"
)

func main() {
	app.Main("inventorysvc", func(ctx context.Context, args []string, stderr io.Writer) error {
		return inventorysvc.Run(ctx, args, stderr, nil)
	})
}
