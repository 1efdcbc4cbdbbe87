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
//
// Example:
//
//	SHOP_ADMIN_PASSWORD=change-me-now go run ./examples/usersvc -admin-email admin@example.com
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop/internal/config"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "usersvc:", err)
		os.Exit(1)
	}
}

// shutdownTimeout is how long in-flight requests get to finish once a stop
// signal arrives.
const shutdownTimeout = 10 * time.Second

// settings are the parsed configuration.
type settings struct {
	addr          string
	dataDir       string
	secretKey     config.Secret
	adminEmail    string
	adminPassword config.Secret
	tokenTTL      time.Duration
	bcryptCost    int
}

// parseSettings reads the settings from args, the environment and ./.env,
// and checks them.
func parseSettings(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("usersvc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.addr, "addr", "127.0.0.1:5001", "listen address (SHOP_ADDR)")
	fs.StringVar(&s.dataDir, "data-dir", "./data", "directory of user.db and the generated secret.key (SHOP_DATA_DIR)")
	fs.Var(&s.secretKey, "secret-key", "token signing key, at least 32 characters; generated and kept in the data dir when unset (SHOP_SECRET_KEY)")
	fs.StringVar(&s.adminEmail, "admin-email", "", "email of an admin account to make sure of at start; needs -admin-password (SHOP_ADMIN_EMAIL)")
	fs.Var(&s.adminPassword, "admin-password", "password of that account, used only when it is created (SHOP_ADMIN_PASSWORD)")
	fs.DurationVar(&s.tokenTTL, "token-ttl", user.DefaultTokenTTL, "how long login tokens stay valid (SHOP_TOKEN_TTL)")
	fs.IntVar(&s.bcryptCost, "bcrypt-cost", bcrypt.DefaultCost, "bcrypt work factor of new password hashes, 4 to 31 (SHOP_BCRYPT_COST)")
	if err := config.Parse(fs, args, ".env"); err != nil {
		return s, err
	}
	switch {
	case fs.NArg() > 0:
		return s, fmt.Errorf("configuration: unexpected argument %q; every setting is a flag such as -addr", fs.Arg(0))
	case s.addr == "":
		return s, errors.New("configuration: addr (SHOP_ADDR) must not be empty")
	case s.dataDir == "":
		return s, errors.New("configuration: data-dir (SHOP_DATA_DIR) must not be empty")
	case s.tokenTTL <= 0:
		return s, fmt.Errorf("configuration: token-ttl (SHOP_TOKEN_TTL) must be positive, got %s", s.tokenTTL)
	case s.bcryptCost < bcrypt.MinCost || s.bcryptCost > bcrypt.MaxCost:
		return s, fmt.Errorf("configuration: bcrypt-cost (SHOP_BCRYPT_COST) must be between %d and %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, s.bcryptCost)
	case s.adminEmail != "" && s.adminPassword.Value() == "":
		return s, errors.New("configuration: admin-email (SHOP_ADMIN_EMAIL) is set but admin-password (SHOP_ADMIN_PASSWORD) is not; set both or neither")
	case s.adminEmail == "" && s.adminPassword.Value() != "":
		return s, errors.New("configuration: admin-password (SHOP_ADMIN_PASSWORD) is set but admin-email (SHOP_ADMIN_EMAIL) is not; set both or neither")
	}
	return s, nil
}

// run starts the service and serves until ctx is cancelled, then shuts down
// gracefully. Logs go to stderr. Once the listener accepts connections, each
// ready function is called with its address (tests listen on port 0 and learn
// the port this way). It returns nil after a clean shutdown.
func run(ctx context.Context, args []string, stderr io.Writer, ready ...func(net.Addr)) error {
	start := time.Now()
	s, err := parseSettings(args, stderr)
	if err != nil {
		return err
	}
	logger := log.NewLogfmtLogger(log.NewSyncWriter(stderr))
	logger = log.With(logger, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller)

	key, err := config.SecretKey(&s.secretKey, s.dataDir)
	if err != nil {
		return err
	}
	tokens, err := shophttp.NewTokens(key)
	if err != nil {
		return fmt.Errorf("configuration: secret-key (SHOP_SECRET_KEY): %w", err)
	}
	store, err := user.NewStore(ctx, filepath.Join(s.dataDir, "user.db"))
	if err != nil {
		return err
	}
	if err := serve(ctx, s, logger, tokens, store, start, ready); err != nil {
		store.Close()
		return err
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	logger.Log("msg", "stopped")
	return nil
}

// serve runs the HTTP server on store until ctx is cancelled.
func serve(ctx context.Context, s settings, logger log.Logger, tokens *shophttp.Tokens, store *user.Store, start time.Time, ready []func(net.Addr)) error {
	if s.adminEmail != "" {
		admin, err := user.EnsureAdmin(ctx, store, s.adminEmail, s.adminPassword.Value(), s.bcryptCost)
		if err != nil {
			return fmt.Errorf("admin-email (SHOP_ADMIN_EMAIL) / admin-password (SHOP_ADMIN_PASSWORD): %w", err)
		}
		logger.Log("msg", "admin account ready", "email", admin.Email, "user_id", admin.ID)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := shophttp.NewServiceMetrics(reg, "user")
	if err != nil {
		return err
	}

	svc := user.NewService(store, tokens, user.WithTokenTTL(s.tokenTTL), user.WithBcryptCost(s.bcryptCost))
	svc = user.LoggingMiddleware(log.With(logger, "component", "user"))(svc)
	svc = user.InstrumentingMiddleware(metrics.Requests, metrics.Latency)(svc)

	mux := http.NewServeMux()
	mux.Handle("/", user.NewHTTPHandler(user.MakeServerEndpoints(svc), tokens, log.With(logger, "component", "http")))
	shophttp.Mount(mux, reg, shophttp.Check{Name: "store", Func: store.Ping})

	srv := &http.Server{
		Handler:           shophttp.WithRequestID(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlibLogger(log.With(logger, "component", "http")),
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("addr (SHOP_ADDR): %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Log("msg", "listening", "addr", ln.Addr(), "data_dir", s.dataDir, "start_took", time.Since(start))
	for _, f := range ready {
		f(ln.Addr())
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Log("msg", "shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// stdlibLogger adapts logger for net/http's own messages (such as TLS
// handshake errors), so they come out as logfmt like everything else.
func stdlibLogger(logger log.Logger) *stdlog.Logger {
	return stdlog.New(log.NewStdlibAdapter(logger), "", 0)
}
