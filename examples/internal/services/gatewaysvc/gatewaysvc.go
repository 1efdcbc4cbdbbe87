// Package gatewaysvc runs the API gateway as one process: the whole of the gateway
// command (examples/gateway, whose documentation lists its settings), in a
// package so that examples/shop can run it as a child process of the split
// topology.
package gatewaysvc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log/level"
	"golang.org/x/time/rate"

	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/internal/config"
	"github.com/kitshop/shop/transport/gateway"
	"github.com/kitshop/shop/user"
)

type settings struct {
	addr, dataDir, consul, cors   string
	debugAddr, consulTag          string
	secretKey                     config.Secret
	urls                          map[string]*string
	ipRate, userRate, authRate    float64
	ipBurst, userBurst, authBurst int
	run                           app.RunSettings
}

// services are the upstreams, with the flag of their instances and its
// default, the article's ports.
var services = []struct{ name, flag, def string }{
	{"user", "user-url", app.UsersAddr},
	{"catalog", "catalog-url", app.ProductsAddr},
	{"inventory", "inventory-url", app.InventoryAddr},
	{"order", "order-url", app.OrdersAddr},
}

// envName is the environment variable of flag ("user-url": SHOP_USER_URL).
func envName(flag string) string {
	return config.EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func parseSettings(args []string, stderr io.Writer) (settings, error) {
	s := settings{urls: map[string]*string{}}
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.addr, "addr", "127.0.0.1:8080", "listen address (SHOP_ADDR)")
	for _, svc := range services {
		s.urls[svc.name] = fs.String(svc.flag, svc.def, svc.name+" service instances, comma-separated; ignored with -consul ("+envName(svc.flag)+")")
	}
	fs.StringVar(&s.consul, "consul", "", "Consul agent address: find the services through it (SHOP_CONSUL_ADDR)")
	fs.StringVar(&s.consul, "consul-addr", "", "the same as -consul; its environment variable is SHOP_CONSUL_ADDR")
	fs.StringVar(&s.consulTag, "consul-tag", "", "with -consul: find only the instances registered with this tag (SHOP_CONSUL_TAG)")
	fs.Var(&s.secretKey, "secret-key", "the key the services verify tokens with, at least 32 characters; unset: secret.key in the data dir (SHOP_SECRET_KEY)")
	fs.StringVar(&s.dataDir, "data-dir", "./data", "directory holding secret.key when no key is given (SHOP_DATA_DIR)")
	fs.StringVar(&s.cors, "cors-origins", "", "origins browsers may call the gateway from, comma-separated; * for any (SHOP_CORS_ORIGINS)")
	fs.Float64Var(&s.ipRate, "ip-rate", 100, "requests a second per client IP on reads and writes; 0 for no limit (SHOP_IP_RATE)")
	fs.IntVar(&s.ipBurst, "ip-burst", 200, "burst per client IP on reads and writes (SHOP_IP_BURST)")
	fs.Float64Var(&s.userRate, "user-rate", 50, "requests a second per signed-in user; 0 for no limit (SHOP_USER_RATE)")
	fs.IntVar(&s.userBurst, "user-burst", 100, "burst per signed-in user (SHOP_USER_BURST)")
	fs.Float64Var(&s.authRate, "auth-rate", 2, "requests a second per client IP on /login and /register; 0 for no limit (SHOP_AUTH_RATE)")
	fs.IntVar(&s.authBurst, "auth-burst", 10, "burst per client IP on /login and /register (SHOP_AUTH_BURST)")
	fs.StringVar(&s.debugAddr, "debug-addr", "", "if set, serve Go's profiler (/debug/pprof/) on this separate, private address (SHOP_DEBUG_ADDR)")
	s.run.RegisterRun(fs)
	if err := config.Parse(fs, args, ".env"); err != nil {
		return s, err
	}
	switch {
	case fs.NArg() > 0:
		return s, fmt.Errorf("configuration: unexpected argument %q; every setting is a flag such as -addr", fs.Arg(0))
	case s.addr == "":
		return s, errors.New("configuration: addr (SHOP_ADDR) must not be empty")
	}
	if err := s.run.CheckRun(); err != nil {
		return s, err
	}
	for _, l := range []struct {
		name  string
		rate  float64
		burst int
	}{{"ip", s.ipRate, s.ipBurst}, {"user", s.userRate, s.userBurst}, {"auth", s.authRate, s.authBurst}} {
		if l.rate < 0 || l.burst < 0 || (l.rate > 0 && l.burst < 1) {
			return s, fmt.Errorf("configuration: %s-rate and %s-burst must not be negative, and a rate needs a burst of at least 1 (got %g and %d)", l.name, l.name, l.rate, l.burst)
		}
	}
	return s, nil
}

// limit is a bucket of the flags; a zero rate limits nothing.
func limit(r float64, burst int) gateway.Limit {
	if r == 0 {
		return gateway.Limit{}
	}
	return gateway.Limit{Rate: rate.Limit(r), Burst: burst}
}

// Run reads its settings from args, the SHOP_* environment and ./.env, and
// serves until ctx is done, then shuts down gracefully. ready, if not
// nil, is called with the listening address.
func Run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error {
	start := time.Now()
	s, err := parseSettings(args, stderr)
	if err != nil {
		return err
	}
	logger, flushLog := s.run.NewLogger(stderr)
	defer flushLog()
	key, err := config.SecretKey(&s.secretKey, s.dataDir)
	if err != nil {
		return err
	}
	tokens, err := user.NewTokens(key)
	if err != nil {
		return fmt.Errorf("configuration: secret-key (SHOP_SECRET_KEY): %w", err)
	}
	if err := app.DebugServer(ctx, s.debugAddr); err != nil {
		return err
	}
	tel, err := app.StartTracing(ctx, s.run.TraceSettings, "gateway", os.Stdout)
	if err != nil {
		return err
	}
	defer tel.Shutdown()
	reg := app.Registry()
	peers, err := app.NewPeers(app.ServiceSettings{Consul: s.consul, ConsulTag: s.consulTag}, logger, reg)
	if err != nil {
		return err
	}
	defer peers.Close()
	upstreams := map[string]sd.Instancer{}
	for _, svc := range services {
		if upstreams[svc.name], err = peers.Instancer(svc.name, *s.urls[svc.name], svc.flag+" ("+envName(svc.flag)+")"); err != nil {
			return err
		}
	}
	var origins []string
	for _, o := range strings.Split(s.cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	perIP, perUser := limit(s.ipRate, s.ipBurst), limit(s.userRate, s.userBurst)
	g, err := gateway.New(gateway.Config{
		Upstreams: upstreams,
		Verifier:  tokens,
		Limits: map[string]gateway.ClassLimits{
			gateway.ClassAuth:  {PerIP: limit(s.authRate, s.authBurst)},
			gateway.ClassRead:  {PerIP: perIP, PerUser: perUser},
			gateway.ClassWrite: {PerIP: perIP, PerUser: perUser},
		},
		CORSOrigins: origins,
		Local:       app.Pages(),
		Transport:   tel.Transport(gateway.NewTransport()),
		Logger:      logger,
		Registry:    reg,
	})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	defer g.Close()
	return app.Serve(ctx, s.addr, tel.Handler(g), logger, s.run.StopSettings, func(addr net.Addr) {
		level.Info(logger).Log("msg", "gateway ready", "addr", addr, "startup", time.Since(start))
		if ready != nil {
			ready(addr)
		}
	})
}
