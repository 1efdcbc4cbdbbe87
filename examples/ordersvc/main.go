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
//	-debug-addr     SHOP_DEBUG_ADDR      serve Go's profiler (/debug/pprof/) on this private address
package main

import (
	"context"
	"io"

	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/examples/internal/services/ordersvc"
)

func main() {
	app.Main("ordersvc", func(ctx context.Context, args []string, stderr io.Writer) error {
		return ordersvc.Run(ctx, args, stderr, nil)
	})
}
