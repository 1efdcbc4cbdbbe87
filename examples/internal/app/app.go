// Package app is the plumbing every example binary shares: the settings all
// of them take (address, data dir, token key, first admin), the logger, the
// metrics registry, and an HTTP server that shuts down gracefully.
package app

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
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/config"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

// ShutdownTimeout is how long in-flight requests get to finish once a stop
// signal arrives, unless -shutdown-timeout says otherwise.
const ShutdownTimeout = 10 * time.Second

// StopSettings say how a binary stops on SIGINT or SIGTERM: /readyz answers
// 503 at once, the service leaves discovery, keeps serving for Delay (so
// load balancers that poll readiness stop sending first), then stops
// accepting and gives in-flight requests Timeout to finish.
type StopSettings struct {
	Timeout time.Duration
	Delay   time.Duration
}

// RegisterStop defines -shutdown-timeout and -shutdown-delay on fs.
func (s *StopSettings) RegisterStop(fs *flag.FlagSet) {
	fs.DurationVar(&s.Timeout, "shutdown-timeout", ShutdownTimeout, "how long in-flight requests get to finish on SIGTERM (SHOP_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&s.Delay, "shutdown-delay", 0, "how long to keep serving on SIGTERM after /readyz turned 503, so load balancers stop sending first; 5s suits Kubernetes (SHOP_SHUTDOWN_DELAY)")
}

// CheckStop validates the stop settings.
func (s *StopSettings) CheckStop() error {
	switch {
	case s.Timeout <= 0:
		return fmt.Errorf("configuration: shutdown-timeout (SHOP_SHUTDOWN_TIMEOUT) must be positive, got %s", s.Timeout)
	case s.Delay < 0:
		return fmt.Errorf("configuration: shutdown-delay (SHOP_SHUTDOWN_DELAY) must not be negative, got %s", s.Delay)
	}
	return nil
}

// Settings are the settings every example binary takes. Register them on a
// flag set, parse it with config.Parse, then call Check.
type Settings struct {
	Addr          string
	DataDir       string
	SecretKey     config.Secret
	AdminEmail    string
	AdminPassword config.Secret
	TokenTTL      time.Duration
	BcryptCost    int
	RunSettings
}

// RunSettings are how every binary runs, whatever it serves: its logs,
// its stop on SIGTERM and its traces.
type RunSettings struct {
	LogSettings
	StopSettings
	TraceSettings
}

// RegisterRun defines the flags of all three on fs.
func (r *RunSettings) RegisterRun(fs *flag.FlagSet) {
	r.RegisterLog(fs)
	r.RegisterStop(fs)
	r.RegisterTrace(fs)
}

// CheckRun validates all three, naming the setting at fault.
func (r *RunSettings) CheckRun() error {
	if err := r.CheckLog(); err != nil {
		return err
	}
	if err := r.CheckStop(); err != nil {
		return err
	}
	return r.CheckTrace()
}

// Register defines the shared flags on fs, with defaultAddr as -addr's default.
func (s *Settings) Register(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&s.Addr, "addr", defaultAddr, "listen address (SHOP_ADDR)")
	fs.StringVar(&s.DataDir, "data-dir", "./data", "directory of the SQLite files and, unless a key is given, secret.key (SHOP_DATA_DIR)")
	fs.Var(&s.SecretKey, "secret-key", "token signing key, at least 32 characters; generated once and kept in the data dir when unset (SHOP_SECRET_KEY)")
	fs.StringVar(&s.AdminEmail, "admin-email", "", "email of the first admin account, created at start if missing; needs -admin-password (SHOP_ADMIN_EMAIL)")
	fs.Var(&s.AdminPassword, "admin-password", "password of that account, used only when it is created (SHOP_ADMIN_PASSWORD)")
	fs.DurationVar(&s.TokenTTL, "token-ttl", user.DefaultTokenTTL, "how long login tokens stay valid (SHOP_TOKEN_TTL)")
	fs.IntVar(&s.BcryptCost, "bcrypt-cost", bcrypt.DefaultCost, "bcrypt work factor of new password hashes, 4 to 31 (SHOP_BCRYPT_COST)")
	s.RegisterRun(fs)
}

// Check validates the parsed settings, naming the setting at fault.
func (s *Settings) Check(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("configuration: unexpected argument %q; every setting is a flag such as -addr", fs.Arg(0))
	case s.Addr == "":
		return errors.New("configuration: addr (SHOP_ADDR) must not be empty")
	case s.DataDir == "":
		return errors.New("configuration: data-dir (SHOP_DATA_DIR) must not be empty")
	case s.TokenTTL <= 0:
		return fmt.Errorf("configuration: token-ttl (SHOP_TOKEN_TTL) must be positive, got %s", s.TokenTTL)
	case s.BcryptCost < bcrypt.MinCost || s.BcryptCost > bcrypt.MaxCost:
		return fmt.Errorf("configuration: bcrypt-cost (SHOP_BCRYPT_COST) must be between %d and %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, s.BcryptCost)
	case s.AdminEmail != "" && s.AdminPassword.Value() == "":
		return errors.New("configuration: admin-email (SHOP_ADMIN_EMAIL) is set but admin-password (SHOP_ADMIN_PASSWORD) is not; set both or neither")
	case s.AdminEmail == "" && s.AdminPassword.Value() != "":
		return errors.New("configuration: admin-password (SHOP_ADMIN_PASSWORD) is set but admin-email (SHOP_ADMIN_EMAIL) is not; set both or neither")
	}
	return s.CheckRun()
}

// EnsureAdmin makes sure the account of -admin-email exists in store and is
// an admin, creating it with -admin-password if it is missing (see
// user.EnsureAdmin). Without -admin-email it does nothing and returns the
// zero User. Its error names the setting at fault and never holds the
// password.
func (s *Settings) EnsureAdmin(ctx context.Context, store user.Store) (user.User, error) {
	if s.AdminEmail == "" {
		return user.User{}, nil
	}
	u, err := user.EnsureAdmin(ctx, store, s.AdminEmail, s.AdminPassword.Value(), s.BcryptCost)
	if err == nil {
		return u, nil
	}
	var invalid *shop.Error
	if errors.As(err, &invalid) && invalid.Kind == shop.ErrInvalid {
		switch invalid.Code {
		case "invalid_password":
			return user.User{}, fmt.Errorf("configuration: admin-password (SHOP_ADMIN_PASSWORD): %s", invalid.Message)
		case "invalid_email":
			return user.User{}, fmt.Errorf("configuration: admin-email (SHOP_ADMIN_EMAIL): %s", invalid.Message)
		}
	}
	return user.User{}, fmt.Errorf("admin-email (SHOP_ADMIN_EMAIL): %w", err)
}

// Tokens returns the token signer and verifier for the configured key, or
// the key kept in the data dir (generated on first use).
func (s *Settings) Tokens() (*user.Tokens, error) {
	key, err := config.SecretKey(&s.SecretKey, s.DataDir)
	if err != nil {
		return nil, err
	}
	tokens, err := user.NewTokens(key)
	if err != nil {
		return nil, fmt.Errorf("configuration: secret-key (SHOP_SECRET_KEY): %w", err)
	}
	return tokens, nil
}

// The log formats of -log-format.
const (
	LogfmtFormat = "logfmt"
	JSONFormat   = "json"
)

// LogSettings say how a binary logs: -quiet and -log-format.
type LogSettings struct {
	Quiet  bool
	Format string
}

// RegisterLog defines -quiet and -log-format on fs.
func (l *LogSettings) RegisterLog(fs *flag.FlagSet) {
	fs.BoolVar(&l.Quiet, "quiet", false, "log only warnings and errors, not every request (SHOP_QUIET)")
	fs.StringVar(&l.Format, "log-format", LogfmtFormat, "logfmt, or json (one object a line) for log shippers (SHOP_LOG_FORMAT)")
}

// CheckLog validates the log settings.
func (l *LogSettings) CheckLog() error {
	if l.Format != LogfmtFormat && l.Format != JSONFormat {
		return fmt.Errorf("configuration: log-format (SHOP_LOG_FORMAT) must be %s or %s, got %q", LogfmtFormat, JSONFormat, l.Format)
	}
	return nil
}

// NewLogger is Logger in the configured format.
func (l LogSettings) NewLogger(w io.Writer) (log.Logger, func() error) {
	return newLogger(w, l.Format, l.Quiet)
}

// Logger returns a logfmt logger writing to w with a UTC timestamp; quiet
// keeps only warnings and errors. Lines are buffered for at most 100 ms
// (warnings and errors go out at once); call the returned function before
// exiting to write out the rest.
func Logger(w io.Writer, quiet bool) (log.Logger, func() error) {
	return newLogger(w, LogfmtFormat, quiet)
}

func newLogger(w io.Writer, format string, quiet bool) (log.Logger, func() error) {
	lw := newLogWriter(w)
	logger := log.NewLogfmtLogger(lw)
	if format == JSONFormat {
		logger = log.NewJSONLogger(lw)
	}
	logger = log.With(logger, "ts", log.DefaultTimestampUTC)
	if quiet {
		logger = level.NewFilter(logger, level.AllowWarn())
	}
	return logger, lw.Close
}

// Registry returns a fresh Prometheus registry (never the global one) with
// the Go runtime and process collectors, so /metrics shows memory and CPU.
func Registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Serve listens on addr and serves handler (wrapped with request IDs) until
// ctx is done, then shuts down gracefully as stop says. ready, if not nil,
// is called with the listening address once connections are accepted. A
// clean shutdown returns nil.
func Serve(ctx context.Context, addr string, handler http.Handler, logger log.Logger, stop StopSettings, ready func(net.Addr)) error {
	return ServeRegistered(ctx, addr, handler, logger, stop, func(a net.Addr) (func(), error) {
		if ready != nil {
			ready(a)
		}
		return func() {}, nil
	})
}

// ServeRegistered is Serve for a service that makes itself found: once
// connections are accepted, register is called with the listening address
// (a failure stops the server and is returned), and the function it returns
// runs when ctx is done, before the server stops answering, so no caller is
// sent to an instance that is going away.
//
// Stopping goes in this order: /readyz answers 503 "shutting_down", the
// instance deregisters, it keeps serving for stop.Delay, then it stops
// accepting connections and waits up to stop.Timeout for the requests in
// flight, which all get their answers.
func ServeRegistered(ctx context.Context, addr string, handler http.Handler, logger log.Logger, stop StopSettings, register func(net.Addr) (deregister func(), err error)) error {
	if stop.Timeout <= 0 {
		stop.Timeout = ShutdownTimeout
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("addr (SHOP_ADDR): %w", err)
	}
	var draining atomic.Bool
	srv := &http.Server{
		Handler:           shophttp.WithRequestID(notReadyWhen(&draining, handler)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(log.NewStdlibAdapter(log.With(logger, "component", "http")), "", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	level.Info(logger).Log("msg", "listening", "addr", ln.Addr())
	deregister, err := register(ln.Addr())
	if err != nil {
		srv.Close()
		return err
	}
	select {
	case err := <-errc:
		deregister()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	draining.Store(true)
	level.Info(logger).Log("msg", "shutting down", "step", "readiness off")
	deregister()
	if stop.Delay > 0 {
		level.Info(logger).Log("msg", "shutting down", "step", "serving while callers notice", "for", stop.Delay)
		time.Sleep(stop.Delay)
	}
	level.Info(logger).Log("msg", "shutting down", "step", "draining requests in flight", "within", stop.Timeout)
	sctx, cancel := context.WithTimeout(context.Background(), stop.Timeout)
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

// notReadyWhen answers GET /readyz with 503 "shutting_down" once draining
// is set, and passes everything else to next.
func notReadyWhen(draining *atomic.Bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && draining.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"shutting_down"}` + "\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// DebugServer serves Go's profiler on addr (never the public address) until
// ctx is done. An empty addr serves nothing.
func DebugServer(ctx context.Context, addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("debug-addr (SHOP_DEBUG_ADDR): %w", err)
	}
	srv := &http.Server{Handler: debugHandler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	go func() { <-ctx.Done(); srv.Close() }()
	return nil
}

// Main runs a binary's run function with a context that ends on SIGINT or
// SIGTERM, then exits: 0 after a clean stop, 2 after -h, and 1 after anything
// else, with the error printed to stderr as one line "name: error".
func Main(name string, run func(ctx context.Context, args []string, stderr io.Writer) error) {
	MainArgs(name, os.Args[1:], run)
}

// MainArgs is Main with the arguments given rather than taken from os.Args,
// for a binary whose first arguments pick what it runs (shop serve user).
//
// "NAME healthcheck URL" instead asks URL (a /healthz or /readyz) and exits 0
// when it answers 200, else 1: a container's health check that needs no
// shell or curl in the image.
func MainArgs(name string, args []string, run func(ctx context.Context, args []string, stderr io.Writer) error) {
	if len(args) > 0 && args[0] == HealthcheckCommand {
		if err := Healthcheck(args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, name+" healthcheck:", oneLine(err))
			os.Exit(1)
		}
		os.Exit(0)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, args, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", oneLine(err))
		os.Exit(1)
	}
}

// HealthcheckCommand is the first argument that makes a binary check a
// running one instead of starting: "catalogsvc healthcheck URL".
const HealthcheckCommand = "healthcheck"

// Healthcheck asks the URL in args once, within 3 seconds, and returns nil
// when it answers 200. Without a URL it asks /healthz on the address of
// SHOP_ADDR (a wildcard host meaning loopback), as a container's check does.
func Healthcheck(args []string) error {
	var url string
	switch len(args) {
	case 0:
		addr := os.Getenv(config.EnvPrefix + "_ADDR")
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("no URL given, and %s_ADDR (%q) is not host:port", config.EnvPrefix, addr)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		url = "http://" + net.JoinHostPort(host, port) + "/healthz"
	case 1:
		url = args[0]
	default:
		return errors.New("want at most one argument, the URL to ask, such as http://127.0.0.1:8080/readyz")
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s answered %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// oneLine returns err's message on one line: line breaks (an error from a
// lower layer may hold some) become "; ".
func oneLine(err error) string {
	lines := strings.FieldsFunc(err.Error(), func(r rune) bool { return r == '\n' || r == '\r' })
	return strings.Join(lines, "; ")
}
