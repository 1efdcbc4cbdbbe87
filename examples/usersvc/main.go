// Command usersvc runs the user service on its own: sign-up, login and
// accounts over HTTP, with /healthz, /readyz and /metrics.
//
// Every setting is a flag, a SHOP_* environment variable or a line of a .env
// file in the working directory (in that order of precedence):
//
//	-addr            SHOP_ADDR            listen address (default 127.0.0.1:5001)
//	-data-dir        SHOP_DATA_DIR        holds user.db and, unless a key is given, secret.key (default ./data)
//	-secret-key      SHOP_SECRET_KEY      token signing key, at least 32 characters
//	-admin-email     SHOP_ADMIN_EMAIL     admin account to make sure of at start
//	-admin-password  SHOP_ADMIN_PASSWORD  its password, used only when the account is created
//	-token-ttl       SHOP_TOKEN_TTL       how long login tokens stay valid (default 24h)
//	-bcrypt-cost     SHOP_BCRYPT_COST     bcrypt work factor of new password hashes (default 10)
//	-consul          SHOP_CONSUL_ADDR     Consul agent to register with (a check on /healthz; deregistered on shutdown)
//	-amqp            SHOP_AMQP_URL        RabbitMQ URL for its user.registered events; unset: CloudEvents over HTTP
//	-amqp-prefix     SHOP_AMQP_PREFIX     prefix of the exchange and queue names (default kitshop)
//	-debug-addr      SHOP_DEBUG_ADDR      serve Go's profiler (/debug/pprof/) on this private address
//
// Example:
//
//	SHOP_ADMIN_PASSWORD=change-me-now go run ./examples/usersvc -admin-email admin@example.com
package main

import (
	"context"
	"io"

	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/examples/internal/services/usersvc"
)

func main() {
	app.Main("usersvc", func(ctx context.Context, args []string, stderr io.Writer) error {
		return usersvc.Run(ctx, args, stderr, nil)
	})
}
