// Package usersvc runs the user service as one process: the whole of the usersvc
// command (examples/usersvc, whose documentation lists its settings), in a
// package so that examples/shop can run it as a child process of the split
// topology.
package usersvc

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/internal/config"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

// settings are the parsed configuration: the settings every example takes,
// and the Consul agent to register with.
type settings struct {
	app.Settings
	consul    string
	consulTag string
	events    app.EventSettings
	debugAddr string
	advertise string
}

// parseSettings reads the settings from args, the environment and ./.env,
// and checks them.
func parseSettings(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("usersvc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s.Register(fs, app.UsersAddr)
	fs.StringVar(&s.consul, "consul", "", "Consul agent address (host:port) to register with; unset: no registration (SHOP_CONSUL_ADDR)")
	fs.StringVar(&s.consul, "consul-addr", "", "the same as -consul; its environment variable is SHOP_CONSUL_ADDR")
	fs.StringVar(&s.consulTag, "consul-tag", "", "with -consul: the tag to register with, so several shops share one agent (SHOP_CONSUL_TAG)")
	s.events.Register(fs)
	fs.StringVar(&s.advertise, "advertise-addr", "", "host:port to register with Consul for others to call; unset: the listen address (SHOP_ADVERTISE_ADDR)")
	fs.StringVar(&s.debugAddr, "debug-addr", "", "if set, serve Go's profiler (/debug/pprof/) on this separate, private address (SHOP_DEBUG_ADDR)")
	if err := config.Parse(fs, args, ".env"); err != nil {
		return s, err
	}
	if err := s.Check(fs); err != nil {
		return s, err
	}
	return s, s.events.Check()
}

// Run reads its settings from args, the SHOP_* environment and ./.env,
// starts the service and serves until ctx is cancelled, then shuts down
// gracefully. Logs go to stderr. Once the listener accepts connections, ready
// (if not nil) is called with its address (tests listen on port 0 and learn
// the port this way). It returns nil after a clean shutdown.
func Run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error {
	start := time.Now()
	s, err := parseSettings(args, stderr)
	if err != nil {
		return err
	}
	logger, flushLog := s.NewLogger(stderr)
	defer flushLog()
	tokens, err := s.Tokens()
	if err != nil {
		return err
	}
	store, err := user.OpenSQLiteStore(ctx, filepath.Join(s.DataDir, "user.db"))
	if err != nil {
		return config.DataDirError(err)
	}
	if err := serve(ctx, s, logger, tokens, store, start, ready); err != nil {
		store.Close()
		return err
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	level.Info(logger).Log("msg", "stopped")
	return nil
}

// serve runs the HTTP server on store until ctx is cancelled.
func serve(ctx context.Context, s settings, logger log.Logger, tokens *user.Tokens, store *user.SQLiteStore, start time.Time, ready func(net.Addr)) error {
	if s.AdminEmail != "" {
		admin, err := s.EnsureAdmin(ctx, store)
		if err != nil {
			return err
		}
		level.Info(logger).Log("msg", "admin account ready", "email", admin.Email, "user_id", admin.ID)
	}

	if err := app.DebugServer(ctx, s.debugAddr); err != nil {
		return err
	}
	tel, err := app.StartTracing(ctx, s.TraceSettings, "user", os.Stdout)
	if err != nil {
		return err
	}
	defer tel.Shutdown()
	reg := app.Registry()
	metrics, err := shop.NewServiceMetrics(reg, "user")
	if err != nil {
		return err
	}
	svc := user.New(store, tokens, log.With(logger, "component", "user"), metrics,
		user.WithTokenTTL(s.TokenTTL), user.WithBcryptCost(s.BcryptCost))

	mux := http.NewServeMux()
	// Tokens of accounts that are gone or disabled stop working within
	// user.DefaultAccountCheckTTL.
	verifier := user.CheckAccounts(tokens, user.AccountCheck(store))
	mux.Handle("/", user.NewHTTPHandler(user.MakeServerEndpoints(svc), verifier, log.With(logger, "component", "http")))
	shophttp.Mount(mux, reg, shophttp.Check{Name: "store", Func: store.Ping})

	peers, err := app.NewPeers(app.ServiceSettings{Consul: s.consul, ConsulTag: s.consulTag}, logger, reg)
	if err != nil {
		return err
	}
	defer peers.Close()

	// user.registered goes out through the outbox.
	events, closeEvents, err := app.EventPublisher("user", s.events, peers, nil, app.ServiceToken(tokens, "user"), logger)
	if err != nil {
		return err
	}
	defer closeEvents.Close()
	ops, err := app.NewOpsMetrics(reg, logger)
	if err != nil {
		return err
	}
	ops.Outbox(user.EventSource, store)
	bg, stopBackground := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { store.RunOutbox(bg, events, logger) })
	wg.Go(func() { ops.Run(bg) })
	defer func() { stopBackground(); wg.Wait() }()
	return app.ServeRegistered(ctx, s.Addr, tel.Handler(mux), logger, s.StopSettings, func(addr net.Addr) (func(), error) {
		deregister, err := peers.Register(ctx, "user", app.Advertised(s.advertise, addr))
		if err != nil {
			return nil, err
		}
		level.Info(logger).Log("msg", "user service ready", "addr", addr, "data_dir", s.DataDir, "start_took", time.Since(start))
		if ready != nil {
			ready(addr)
		}
		return deregister, nil
	})
}
