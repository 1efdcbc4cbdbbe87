package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/config"
	"github.com/kitshop/shop/user"
	"github.com/prometheus/client_golang/prometheus"
)

// The article's ports, on which the single-service binaries listen and find
// each other by default.
const (
	UsersAddr     = "127.0.0.1:5001"
	ProductsAddr  = "127.0.0.1:5002"
	OrdersAddr    = "127.0.0.1:5003"
	InventoryAddr = "127.0.0.1:5004"
)

// ServiceSettings are the settings of a binary that runs one service
// (catalogsvc, inventorysvc, ordersvc): where it listens, its data, the
// token key every service shares, and how it finds the others.
type ServiceSettings struct {
	Addr      string
	DataDir   string
	SecretKey config.Secret
	RunSettings
	// Consul, when set, is the Consul agent the service registers with and
	// finds the services it calls through; otherwise discovery is static.
	Consul string
	// ConsulTag, when set, is the Consul tag this service registers with
	// and the only one it finds others by, so several shops can share one
	// Consul agent.
	ConsulTag string
	// UsersURL lists the user service's instances (comma-separated), which
	// the door check asks whether an account may still use its token.
	UsersURL string
	// Events say how events travel: RabbitMQ or CloudEvents over HTTP.
	Events EventSettings
	// DebugAddr, when set, is a private address serving Go's profiler.
	DebugAddr string
	// AdvertiseAddr, when set, is the host:port registered with Consul for
	// others to call, for a service listening on a wildcard address (in a
	// container, 0.0.0.0:5002 with catalog:5002 advertised).
	AdvertiseAddr string
}

// Register defines the shared flags on fs, with defaultAddr as -addr's
// default.
func (s *ServiceSettings) Register(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&s.Addr, "addr", defaultAddr, "listen address (SHOP_ADDR)")
	fs.StringVar(&s.DataDir, "data-dir", "./data", "directory of the service's SQLite file and, unless a key is given, secret.key (SHOP_DATA_DIR)")
	fs.Var(&s.SecretKey, "secret-key", "token signing key shared by every service, at least 32 characters; generated once and kept in the data dir when unset (SHOP_SECRET_KEY)")
	s.RegisterRun(fs)
	fs.StringVar(&s.Consul, "consul", "", "Consul agent address (host:port): register there and find other services through it; unset: static discovery (SHOP_CONSUL_ADDR)")
	fs.StringVar(&s.Consul, "consul-addr", "", "the same as -consul; its environment variable is SHOP_CONSUL_ADDR")
	fs.StringVar(&s.ConsulTag, "consul-tag", "", "with -consul: the tag to register with and to find the other services by, so several shops share one agent (SHOP_CONSUL_TAG)")
	fs.StringVar(&s.UsersURL, "users-url", UsersAddr, "user service instances, comma-separated, for checking accounts; ignored with -consul (SHOP_USERS_URL)")
	s.Events.Register(fs)
	fs.StringVar(&s.AdvertiseAddr, "advertise-addr", "", "host:port to register with Consul for others to call; unset: the listen address (SHOP_ADVERTISE_ADDR)")
	fs.StringVar(&s.DebugAddr, "debug-addr", "", "if set, serve Go's profiler (/debug/pprof/) on this separate, private address (SHOP_DEBUG_ADDR)")
}

// Check validates the parsed settings, naming the setting at fault.
func (s *ServiceSettings) Check(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("configuration: unexpected argument %q; every setting is a flag such as -addr", fs.Arg(0))
	case s.Addr == "":
		return errors.New("configuration: addr (SHOP_ADDR) must not be empty")
	case s.DataDir == "":
		return errors.New("configuration: data-dir (SHOP_DATA_DIR) must not be empty")
	case s.Consul == "" && s.UsersURL == "":
		return errors.New("configuration: users-url (SHOP_USERS_URL) must not be empty without -consul")
	}
	if err := s.CheckRun(); err != nil {
		return err
	}
	return s.Events.Check()
}

// Tokens returns the token signer and verifier for the configured key, or
// the key kept in the data dir (generated on first use). Services sharing a
// data dir share the key; on separate machines, give each the same
// -secret-key.
func (s *ServiceSettings) Tokens() (*user.Tokens, error) {
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

// Service is what every single-service binary sets up before its own parts:
// the logger, the token key, the metrics registry with the service's call
// metrics, the Peers that find the others, and the verifier that checks
// accounts with the user service. Close releases it.
type Service struct {
	Name     string
	Settings ServiceSettings
	Logger   log.Logger
	Tokens   *user.Tokens
	Registry *prometheus.Registry
	Metrics  shop.ServiceMetrics
	Peers    *Peers
	Verifier shop.Verifier
	// Telemetry is the service's tracing; nil when -otel is unset.
	Telemetry *Telemetry

	start    time.Time
	flushLog func() error
	closers  []func() error
}

// StartService sets up the service name ("catalog") from its settings,
// logging to stderr.
func StartService(name string, s ServiceSettings, stderr io.Writer) (_ *Service, err error) {
	svc := &Service{Name: name, Settings: s, start: time.Now(), Registry: Registry()}
	svc.Logger, svc.flushLog = s.NewLogger(stderr)
	defer func() {
		if err != nil {
			svc.Close()
		}
	}()
	if svc.Tokens, err = s.Tokens(); err != nil {
		return nil, err
	}
	if svc.Telemetry, err = StartTracing(context.Background(), s.TraceSettings, name, os.Stdout); err != nil {
		return nil, err
	}
	if svc.Metrics, err = shop.NewServiceMetrics(svc.Registry, name); err != nil {
		return nil, err
	}
	if svc.Peers, err = NewPeers(s, svc.Logger, svc.Registry); err != nil {
		return nil, err
	}
	if svc.Verifier, err = svc.Peers.AccountVerifier(s, svc.Tokens, name); err != nil {
		return nil, err
	}
	return svc, nil
}

// EventPublisher returns the publisher of the service's outbox (see the
// package function EventPublisher); its closer is closed with the service.
func (svc *Service) EventPublisher(static map[string][2]string) (shop.Publisher, error) {
	p, c, err := EventPublisher(svc.Name, svc.Settings.Events, svc.Peers, static, svc.Token(), svc.Logger)
	if err != nil {
		return nil, err
	}
	svc.closers = append(svc.closers, c.Close)
	return p, nil
}

// Token is the service's credential for the others' internal routes.
func (svc *Service) Token() func() (string, error) { return ServiceToken(svc.Tokens, svc.Name) }

// Serve serves handler on the settings' address until ctx is done: it
// registers the service (with Consul) once it listens, calls ready with the
// address, and deregisters before it stops answering.
func (svc *Service) Serve(ctx context.Context, handler http.Handler, ready func(net.Addr)) error {
	if err := DebugServer(ctx, svc.Settings.DebugAddr); err != nil {
		return err
	}
	return ServeRegistered(ctx, svc.Settings.Addr, svc.Telemetry.Handler(handler), svc.Logger, svc.Settings.StopSettings, func(addr net.Addr) (func(), error) {
		deregister, err := svc.Peers.Register(ctx, svc.Name, Advertised(svc.Settings.AdvertiseAddr, addr))
		if err != nil {
			return nil, err
		}
		level.Info(svc.Logger).Log("msg", svc.Name+" service ready", "addr", addr, "startup", time.Since(svc.start))
		if ready != nil {
			ready(addr)
		}
		return deregister, nil
	})
}

// Advertised is the address a service registers: advertise when set, else
// the address it listens on.
func Advertised(advertise string, listening net.Addr) string {
	if advertise != "" {
		return advertise
	}
	return listening.String()
}

// Close closes the event publisher, stops the peers and writes out the log.
func (svc *Service) Close() {
	for i := len(svc.closers) - 1; i >= 0; i-- {
		svc.closers[i]()
	}
	if svc.Peers != nil {
		svc.Peers.Close()
	}
	if err := svc.Telemetry.Shutdown(); err != nil {
		level.Warn(svc.Logger).Log("msg", "could not send the last spans", "err", err)
	}
	if svc.flushLog != nil {
		svc.flushLog()
	}
}
