// Command gateway is the shop's one public door in front of the four
// services (usersvc, catalogsvc, inventorysvc, ordersvc): a reverse proxy
// with the public API's route table (transport/gateway), each route sent to
// its service's instances, found through static lists or Consul, balanced,
// with a breaker per instance, a timeout per route class, retries for reads
// only, the bearer token checked at the door, rate limits per client IP and
// per user, CORS, request IDs and an access log line per request. Internal
// routes (/internal/..., /admin/dead-letters) answer 404 here. It serves
// /healthz, /readyz (ready once every service has an instance) and /metrics.
//
// Every setting is a flag, a SHOP_* environment variable or a line of a .env
// file in the working directory (in that order of precedence):
//
//	-addr           SHOP_ADDR            listen address (default 127.0.0.1:8080)
//	-user-url       SHOP_USER_URL        user service instances, comma-separated (default 127.0.0.1:5001)
//	-catalog-url    SHOP_CATALOG_URL     catalog service instances (default 127.0.0.1:5002)
//	-inventory-url  SHOP_INVENTORY_URL   inventory service instances (default 127.0.0.1:5004)
//	-order-url      SHOP_ORDER_URL       order service instances (default 127.0.0.1:5003)
//	-consul         SHOP_CONSUL_ADDR     find the services through this Consul agent instead
//	-secret-key     SHOP_SECRET_KEY      the key the services verify tokens with
//	-data-dir       SHOP_DATA_DIR        holds secret.key when no key is given (default ./data)
//	-cors-origins   SHOP_CORS_ORIGINS    origins browsers may call from, comma-separated
//	-ip-rate, -ip-burst       per client IP: requests a second and burst on reads and writes (100, 200)
//	-user-rate, -user-burst   per signed-in user: the same (50, 100)
//	-auth-rate, -auth-burst   per client IP on /login and /register (2, 10)
//	-quiet          SHOP_QUIET           log only warnings and errors, not every request
//	-debug-addr     SHOP_DEBUG_ADDR      serve Go's profiler (/debug/pprof/) on this private address
package main

import (
	"context"
	"io"

	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/examples/internal/services/gatewaysvc"
)

func main() {
	app.Main("gateway", func(ctx context.Context, args []string, stderr io.Writer) error {
		return gatewaysvc.Run(ctx, args, stderr, nil)
	})
}
