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
//	-debug-addr  SHOP_DEBUG_ADDR   serve Go's profiler (/debug/pprof/) on this private address
package main

import (
	"context"
	"io"

	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/examples/internal/services/catalogsvc"
)

func main() {
	app.Main("catalogsvc", func(ctx context.Context, args []string, stderr io.Writer) error {
		return catalogsvc.Run(ctx, args, stderr, nil)
	})
}
