// Command shop runs the whole kitshop shop in one process: the user, catalog,
// inventory and order services, each on its own SQLite file under -data-dir,
// behind one public address. Events travel in process: each service's
// outbox publishes them on a bus, and the inventory consumes the order
// events through its inbox (EVENTS.md). With an empty catalogue it loads a
// few sample products with stock, so a first run shows a working shop.
//
//	go run ./examples/shop -admin-email admin@example.com -admin-password 'change me please'
//
// With -topology split it serves the same public API on the same address as
// five processes on loopback: it starts itself as "shop serve user",
// "serve catalog", "serve inventory", "serve order" and "serve gateway"
// (the bodies of examples/usersvc, ..., examples/gateway), talking over HTTP,
// with events as CloudEvents over HTTP or, with -amqp, through RabbitMQ, and
// found through static addresses or, with -consul, Consul. It stops them all
// on SIGINT or SIGTERM, the gateway first, and if one dies it says which,
// stops the others and exits 1.
//
//	go run ./examples/shop -topology split -amqp amqp://guest:guest@127.0.0.1:5672/
//
// Every flag can also be set as a SHOP_* environment variable (-order-ttl is
// SHOP_ORDER_TTL) or in a .env file in the working directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/inbox"
	"github.com/kitshop/shop/internal/config"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/order"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/transport/inproc"
	"github.com/kitshop/shop/user"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == serveCommand {
		serveOne(os.Args[2:])
		return
	}
	app.Main("shop", func(ctx context.Context, args []string, stderr io.Writer) error {
		return run(ctx, args, stderr, nil)
	})
}

// The topologies of -topology.
const (
	monolith = "monolith"
	split    = "split"
)

// settings are the shop's configuration: the settings every example takes,
// and the shop's own.
type settings struct {
	app.Settings
	orderTTL   time.Duration
	sampleData bool
	debugAddr  string

	// The split topology's own settings.
	topology      string
	consul        string
	consulTag     string
	events        app.EventSettings
	servicePort   int
	gatewayLimits bool
}

func parseSettings(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("shop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s.Register(fs, "127.0.0.1:8080")
	fs.DurationVar(&s.orderTTL, "order-ttl", order.DefaultTTL, "how long an unpaid order holds its stock (SHOP_ORDER_TTL)")
	fs.BoolVar(&s.sampleData, "sample-data", true, "load sample products with stock into an empty catalogue (SHOP_SAMPLE_DATA)")
	fs.StringVar(&s.debugAddr, "debug-addr", "", "if set, serve Go's profiler (/debug/pprof/) on this separate, private address; split: the user, catalog, order and inventory services and the gateway on its port and the four after it (SHOP_DEBUG_ADDR)")
	fs.StringVar(&s.topology, "topology", monolith, "monolith: every service in this one process; split: the four services and the gateway as child processes on loopback, talking over HTTP and events (SHOP_TOPOLOGY)")
	fs.StringVar(&s.consul, "consul", "", "split only: the Consul agent the services register with and find each other through; unset: static addresses (SHOP_CONSUL_ADDR)")
	fs.StringVar(&s.consul, "consul-addr", "", "the same as -consul; its environment variable is SHOP_CONSUL_ADDR")
	fs.StringVar(&s.consulTag, "consul-tag", "", "split only, with -consul: the tag the services register with and find each other by, so several shops share one agent (SHOP_CONSUL_TAG)")
	s.events.Register(fs)
	fs.IntVar(&s.servicePort, "service-port", 5001, "split only: the first of four loopback ports, for the user, catalog, order and inventory services in that order; 0 picks free ports (SHOP_SERVICE_PORT)")
	fs.BoolVar(&s.gatewayLimits, "gateway-limits", true, "split only: the gateway's rate limits per client IP and per user (examples/gateway's defaults); false for load tests (SHOP_GATEWAY_LIMITS)")
	if err := config.Parse(fs, args, ".env"); err != nil {
		return s, err
	}
	if err := s.Check(fs); err != nil {
		return s, err
	}
	if err := s.events.Check(); err != nil {
		return s, err
	}
	if s.orderTTL < 100*time.Millisecond {
		return s, fmt.Errorf("configuration: order-ttl (SHOP_ORDER_TTL) must be at least 100ms, got %s", s.orderTTL)
	}
	switch s.topology {
	case monolith:
		switch {
		case s.consul != "" || s.consulTag != "":
			return s, errors.New("configuration: consul (SHOP_CONSUL_ADDR) and consul-tag need -topology split: in one process the services call each other directly")
		case s.events.AMQP != "":
			return s, errors.New("configuration: amqp (SHOP_AMQP_URL) needs -topology split: in one process events travel in process")
		}
	case split:
		switch {
		case s.debugAddr != "" && !hasFixedPort(s.debugAddr):
			return s, fmt.Errorf("configuration: debug-addr (SHOP_DEBUG_ADDR) needs a port below 65531 with -topology split, for the five parts on it and the four after it; got %q", s.debugAddr)
		case s.servicePort < 0 || s.servicePort > 65535-3:
			return s, fmt.Errorf("configuration: service-port (SHOP_SERVICE_PORT) must be 0 or a port with three free ports after it, got %d", s.servicePort)
		}
	default:
		return s, fmt.Errorf("configuration: topology (SHOP_TOPOLOGY) must be %s or %s, got %q", monolith, split, s.topology)
	}
	return s, nil
}

// hasFixedPort says whether addr is host:port with a port that four more
// ports follow.
func hasFixedPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	return err == nil && perr == nil && n > 0 && n <= 65535-4
}

// run starts the shop and serves until ctx is done, then shuts down
// gracefully. ready, if not nil, is called with the listening address once
// requests are served.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error {
	start := time.Now()
	s, err := parseSettings(args, stderr)
	if err != nil {
		return err
	}
	logger, flushLog := s.NewLogger(stderr)
	defer flushLog()
	if s.topology == split {
		return runSplit(ctx, s, stderr, logger, start, ready)
	}
	tokens, err := s.Tokens()
	if err != nil {
		return err
	}
	tel, err := app.StartTracing(ctx, s.TraceSettings, "shop", os.Stdout)
	if err != nil {
		return err
	}
	defer tel.Shutdown()
	a, err := open(ctx, s, tokens, logger)
	if err != nil {
		return err
	}
	defer a.close()
	debugCtx, stopDebug := context.WithCancel(ctx)
	defer stopDebug()
	if err := app.DebugServer(debugCtx, s.debugAddr); err != nil {
		return err
	}

	bg, stopBackground := context.WithCancel(context.Background())
	waitBackground := a.background(bg)
	defer func() { stopBackground(); waitBackground() }()

	return app.Serve(ctx, s.Addr, tel.Handler(a.handler), logger, s.StopSettings, func(addr net.Addr) {
		// Logged once started, so that a start-up error is the only line.
		level.Warn(logger).Log("msg", "payments use the development provider order.DevPayments: no money moves, test cards only")
		level.Info(logger).Log("msg", "shop ready", "addr", addr, "data_dir", s.DataDir, "startup", time.Since(start))
		if ready != nil {
			ready(addr)
		}
	})
}

// shopApp is the assembled shop.
type shopApp struct {
	handler   http.Handler
	users     *user.SQLiteStore
	catalog   *catalog.SQLiteStore
	inventory *inventory.SQLiteStore
	orders    *order.SQLiteStore
	orderSvc  *order.Orders
	invSvc    inventory.Service
	expirer   *inventory.Expirer
	bus       *inproc.Bus
	inbox     *inbox.Inbox
	ops       *app.OpsMetrics
	orderTTL  time.Duration
	logger    log.Logger
	closers   []func() error
}

func open(ctx context.Context, s settings, tokens *user.Tokens, logger log.Logger) (_ *shopApp, err error) {
	// Not the named result: "return nil, err" sets that to nil before the
	// deferred close runs.
	a := &shopApp{orderTTL: s.orderTTL, logger: logger, bus: inproc.NewBus()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	dbPath := func(service string) string { return filepath.Join(s.DataDir, service+".db") }
	if a.users, err = user.OpenSQLiteStore(ctx, dbPath("user")); err != nil {
		return nil, config.DataDirError(err)
	}
	a.closers = append(a.closers, a.users.Close)
	if a.catalog, err = catalog.OpenSQLiteStore(ctx, dbPath("catalog")); err != nil {
		return nil, config.DataDirError(err)
	}
	a.closers = append(a.closers, a.catalog.Close)
	if a.inventory, err = inventory.OpenSQLiteStore(ctx, dbPath("inventory")); err != nil {
		return nil, config.DataDirError(err)
	}
	a.closers = append(a.closers, a.inventory.Close)
	if a.orders, err = order.OpenSQLiteStore(ctx, dbPath("order")); err != nil {
		return nil, config.DataDirError(err)
	}
	a.closers = append(a.closers, a.orders.Close)
	payments, err := order.OpenDevPayments(ctx, dbPath("payments"))
	if err != nil {
		return nil, config.DataDirError(err)
	}
	a.closers = append(a.closers, payments.Close)

	reg := app.Registry()

	ms := map[string]shop.ServiceMetrics{}
	for _, service := range []string{"user", "catalog", "inventory", "order"} {
		if ms[service], err = shop.NewServiceMetrics(reg, service); err != nil {
			return nil, err
		}
	}
	// The public services get logging and metrics (New); the calls order
	// makes to catalog and inventory inside the process use plain services
	// on the same stores.
	catalogSvc := catalog.NewService(a.catalog)
	productCheck := inventory.WithProductCheck(func(ctx context.Context, id string) error {
		_, err := catalogSvc.GetProduct(ctx, id)
		return err
	})
	a.invSvc = inventory.NewService(a.inventory, productCheck, inventory.WithLogger(logger))
	a.expirer = inventory.NewExpirer(a.inventory, inventory.WithLogger(logger))
	publicOrder, orders := order.New(a.orders, catalogSvc, a.invSvc, payments, logger, ms["order"],
		order.WithTTL(s.orderTTL))
	a.orderSvc = orders
	publicUser := user.New(a.users, tokens, logger, ms["user"], user.WithTokenTTL(s.TokenTTL), user.WithBcryptCost(s.BcryptCost))
	publicCatalog := catalog.New(a.catalog, logger, ms["catalog"])
	publicInventory := inventory.New(a.inventory, logger, ms["inventory"], productCheck)

	// Inventory consumes the order events through its inbox: each one is
	// applied once, in the transaction that records it, and one that keeps
	// failing is parked for an admin (GET /admin/dead-letters).
	lag, err := inbox.NewLagHistogram(reg, inventory.Consumer)
	if err != nil {
		return nil, err
	}
	a.inbox = a.inventory.Inbox(inbox.Logger(logger), inbox.Lag(lag))
	if err := a.inbox.Subscribe(a.bus, inventory.EventHandlers(a.invSvc, logger)); err != nil {
		return nil, err
	}
	if _, err := s.EnsureAdmin(ctx, a.users); err != nil {
		return nil, err
	}
	if s.sampleData {
		if err := loadSampleData(ctx, catalogSvc, a.invSvc); err != nil {
			return nil, fmt.Errorf("sample data: %w", err)
		}
	}

	// Tokens of accounts that are gone or disabled stop working within
	// user.DefaultAccountCheckTTL; the handlers share one cache.
	verifier := user.CheckAccounts(tokens, user.AccountCheck(a.users))
	userHandler := user.NewHTTPHandler(user.MakeServerEndpoints(publicUser), verifier, logger)
	catalogHandler := catalog.NewHTTPHandler(catalog.MakeServerEndpoints(publicCatalog), verifier, logger)
	inventoryHandler := inventory.NewHTTPHandler(inventory.MakeServerEndpoints(publicInventory), verifier, logger)
	orderHandler := order.NewHTTPHandler(order.MakeServerEndpoints(publicOrder), verifier, logger)

	mux := http.NewServeMux()
	for _, p := range []string{"/register", "/login", "/users", "/users/"} {
		mux.Handle(p, userHandler)
	}
	mux.Handle("/products", catalogHandler)
	mux.Handle("/products/", catalogHandler)
	mux.Handle("/inventory/", inventoryHandler)
	mux.Handle("/orders", orderHandler)
	mux.Handle("/orders/", orderHandler)
	deadLetters := shophttp.DeadLetterHandler(a.inbox, verifier, logger)
	mux.Handle(shophttp.DeadLettersPath, deadLetters)
	mux.Handle(shophttp.DeadLettersPath+"/", deadLetters)
	shophttp.Mount(mux, reg,
		shophttp.Check{Name: "user-db", Func: a.users.Ping},
		shophttp.Check{Name: "catalog-db", Func: a.catalog.Ping},
		shophttp.Check{Name: "inventory-db", Func: a.inventory.Ping},
		shophttp.Check{Name: "order-db", Func: a.orders.Ping},
	)
	app.MountPages(mux)
	mux.Handle("/", shophttp.NotFound())
	a.handler = mux

	if a.ops, err = app.NewOpsMetrics(reg, logger); err != nil {
		return nil, err
	}
	a.ops.Outbox(user.EventSource, a.users)
	a.ops.Outbox(catalog.EventSource, a.catalog)
	a.ops.Outbox(inventory.EventSource, a.inventory)
	a.ops.Outbox(order.EventSource, a.orders)
	a.ops.Parked(inventory.Consumer, a.inbox.Parked)
	a.ops.Reservations(a.inventory)
	a.ops.Orders(a.orders)
	return a, nil
}

// background runs the outbox relay and the expiry sweeps until ctx is done;
// the returned function waits until they all stopped.
func (a *shopApp) background(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	// Each store's outbox publishes its events on the bus: the order events
	// reach the inventory; the others wait for subscribers of your own.
	wg.Go(func() { a.orders.RunOutbox(ctx, a.bus, a.logger) })
	wg.Go(func() { a.users.RunOutbox(ctx, a.bus, a.logger) })
	wg.Go(func() { a.catalog.RunOutbox(ctx, a.bus, a.logger) })
	wg.Go(func() { a.inventory.RunOutbox(ctx, a.bus, a.logger) })
	wg.Go(func() { a.orderSvc.RunExpiry(ctx, expirySweep(a.orderTTL)) })
	// Settles payments and releases reservations a crash left behind: at
	// once on start, then every minute.
	wg.Go(func() { a.orderSvc.RunRecovery(ctx, time.Minute) })
	wg.Go(func() { a.expirer.RunExpiry(ctx, 10*time.Second) })
	wg.Go(func() { a.inbox.Run(ctx) })
	wg.Go(func() { a.ops.Run(ctx) })
	return wg.Wait
}

// expirySweep is how often unpaid orders are checked for expiry: often
// enough that an order expires within a tenth of its lifetime (at most 5s,
// at least 100ms late).
func expirySweep(ttl time.Duration) time.Duration {
	return min(max(ttl/10, 100*time.Millisecond), 5*time.Second)
}

func (a *shopApp) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// systemAdmin is the identity start-up tasks act with.
var systemAdmin = shop.Identity{UserID: "system", Role: shop.RoleAdmin}
