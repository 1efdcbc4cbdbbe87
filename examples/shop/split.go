package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/examples/internal/app"
	"github.com/kitshop/shop/examples/internal/services/catalogsvc"
	"github.com/kitshop/shop/examples/internal/services/gatewaysvc"
	"github.com/kitshop/shop/examples/internal/services/inventorysvc"
	"github.com/kitshop/shop/examples/internal/services/ordersvc"
	"github.com/kitshop/shop/examples/internal/services/usersvc"
	"github.com/kitshop/shop/internal/config"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/user"
)

// serveCommand is the first argument that makes the shop binary run one
// part of the split topology, "shop serve user -addr ...": the supervisor
// starts its children this way, and anyone may run a part by hand.
const serveCommand = "serve"

// startTimeout bounds how long the split shop may take to be ready.
const startTimeout = 90 * time.Second

// runFunc is the body of one of the example binaries.
type runFunc func(ctx context.Context, args []string, stderr io.Writer, ready func(net.Addr)) error

// part returns the body of the part of the split topology called name.
func part(name string) (runFunc, bool) {
	switch name {
	case "user":
		return usersvc.Run, true
	case "catalog":
		return catalogsvc.Run, true
	case "inventory":
		return inventorysvc.Run, true
	case "order":
		return ordersvc.Run, true
	case "gateway":
		return gatewaysvc.Run, true
	}
	return nil, false
}

// serveOne runs "shop serve NAME FLAGS...": one part, exactly as its own
// binary (examples/usersvc, ..., examples/gateway) would, then exits.
func serveOne(args []string) {
	const parts = "user, catalog, inventory, order or gateway"
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "shop serve: name the part to run: "+parts)
		os.Exit(2)
	}
	run, ok := part(args[0])
	if !ok {
		fmt.Fprintf(os.Stderr, "shop serve: no part %q; the parts are %s\n", args[0], parts)
		os.Exit(2)
	}
	app.MainArgs(args[0], args[1:], func(ctx context.Context, args []string, stderr io.Writer) error {
		return run(ctx, args, stderr, nil)
	})
}

// child is one process of the split topology.
type child struct {
	name string
	addr string
	cmd  *exec.Cmd
	out  *prefixLines
	done chan struct{} // closed once the process exited and err is set
	err  error
}

// exitText says how the child ended: "exit status 1", "signal: killed".
func (c *child) exitText() string {
	if c.err == nil {
		return "exit status 0"
	}
	return c.err.Error()
}

// supervisor starts the children and stops them.
type supervisor struct {
	self     string // this binary
	dir      string // the children's working directory
	env      []string
	logger   log.Logger
	stopping app.StopSettings
	out      io.Writer
	outMu    sync.Mutex
	exited   chan *child
	gateway  *child
	others   []*child
}

// runSplit runs the shop as the four services and the gateway, each a child
// process of this binary on loopback, until ctx is done or a child dies.
// ready is called with the gateway's address once its /readyz passes.
func runSplit(ctx context.Context, s settings, stderr io.Writer, logger log.Logger, start time.Time, ready func(net.Addr)) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("split: find this binary to start the services: %w", err)
	}
	dataDir, err := filepath.Abs(s.DataDir)
	if err != nil {
		return config.DataDirError(err)
	}
	// One key for every part: the configured one, or the one kept in the
	// data dir, generated here before any child could race to make it.
	key, err := config.SecretKey(&s.SecretKey, dataDir)
	if err != nil {
		return err
	}
	if _, err := user.NewTokens(key); err != nil {
		return fmt.Errorf("configuration: secret-key (SHOP_SECRET_KEY): %w", err)
	}
	if s.sampleData {
		if err := loadSampleFiles(ctx, dataDir); err != nil {
			return fmt.Errorf("sample data: %w", err)
		}
	}
	addrs, err := splitAddrs(s)
	if err != nil {
		return err
	}

	// The children get every setting as a flag, the secrets in their
	// environment (never on a command line others can read), and none of
	// the caller's SHOP_ variables, which each part would refuse as unknown
	// to it. They run in the data dir, so the .env file this process read is
	// not read again by parts that know only some of its settings.
	sp := &supervisor{self: self, dir: dataDir, logger: logger, stopping: s.StopSettings, out: stderr, exited: make(chan *child, 5)}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, config.EnvPrefix+"_") || strings.HasPrefix(kv, config.TestEnvPrefix) {
			sp.env = append(sp.env, kv)
		}
	}
	sp.env = append(sp.env, config.EnvPrefix+"_SECRET_KEY="+string(key))
	for _, c := range childArgs(s, dataDir, addrs) {
		env := sp.env
		if c.name == "user" && s.AdminEmail != "" {
			env = append(env[:len(env):len(env)], config.EnvPrefix+"_ADMIN_PASSWORD="+s.AdminPassword.Value())
		}
		if err := sp.start(c.name, c.addr, c.args, env); err != nil {
			sp.stopAll()
			return err
		}
	}

	if err := sp.waitReady(ctx, "http://"+addrs["gateway"]+"/readyz"); err != nil {
		sp.stopAll()
		return err
	}
	if ctx.Err() != nil {
		return sp.stopAll()
	}
	level.Info(logger).Log("msg", "shop ready", "addr", addrs["gateway"], "topology", split,
		"user", addrs["user"], "catalog", addrs["catalog"], "order", addrs["order"], "inventory", addrs["inventory"],
		"data_dir", dataDir, "startup", time.Since(start))
	if ready != nil {
		if a, err := net.ResolveTCPAddr("tcp", addrs["gateway"]); err == nil {
			ready(a)
		}
	}
	select {
	case <-ctx.Done():
		level.Info(logger).Log("msg", "stopping the services")
		if err := sp.stopAll(); err != nil {
			return err
		}
		level.Info(logger).Log("msg", "stopped")
		return nil
	case c := <-sp.exited:
		level.Error(logger).Log("msg", "a part of the shop stopped; stopping the others", "service", c.name, "exit", c.exitText())
		sp.stopAll()
		return fmt.Errorf("split: the %s service stopped (%s); the others were stopped too", c.name, c.exitText())
	}
}

// splitAddrs picks the loopback addresses of the parts: the services on
// -service-port and the three after it, or free ports when it is 0; the
// gateway on -addr, on a free port when that names port 0.
func splitAddrs(s settings) (map[string]string, error) {
	addrs := map[string]string{}
	for i, name := range []string{"user", "catalog", "order", "inventory"} {
		if s.servicePort == 0 {
			a, err := freeAddr("127.0.0.1:0")
			if err != nil {
				return nil, fmt.Errorf("split: pick a port for the %s service: %w", name, err)
			}
			addrs[name] = a
			continue
		}
		addrs[name] = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.servicePort+i))
	}
	addrs["gateway"] = s.Addr
	if _, port, err := net.SplitHostPort(s.Addr); err == nil && port == "0" {
		a, err := freeAddr(s.Addr)
		if err != nil {
			return nil, fmt.Errorf("addr (SHOP_ADDR): %w", err)
		}
		addrs["gateway"] = a
	}
	return addrs, nil
}

// freeAddr listens on addr (port 0) and returns the address it got, free
// again once it returns.
func freeAddr(addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// childSpec is how to start one part.
type childSpec struct {
	name, addr string
	args       []string
}

// childArgs are the parts of the split shop with their flags, the gateway
// last.
func childArgs(s settings, dataDir string, addrs map[string]string) []childSpec {
	common := []string{"-data-dir", dataDir, "-log-format", s.Format,
		"-shutdown-timeout", s.Timeout.String(), "-shutdown-delay", s.Delay.String()}
	if s.OTel != "" {
		common = append(common, "-otel", s.OTel)
	}
	if s.Quiet {
		common = append(common, "-quiet")
	}
	if s.consul != "" {
		common = append(common, "-consul", s.consul)
		if s.consulTag != "" {
			common = append(common, "-consul-tag", s.consulTag)
		}
	}
	services := append([]string(nil), common...)
	if s.events.AMQP != "" {
		services = append(services, "-amqp", s.events.AMQP, "-amqp-prefix", s.events.AMQPPrefix)
	}
	with := func(base []string, more ...string) []string {
		return append(append([]string(nil), base...), more...)
	}
	userArgs := with(services, "-addr", addrs["user"], "-token-ttl", s.TokenTTL.String(), "-bcrypt-cost", strconv.Itoa(s.BcryptCost))
	if s.AdminEmail != "" {
		userArgs = append(userArgs, "-admin-email", s.AdminEmail)
	}
	others := with(services, "-users-url", addrs["user"])
	gatewayArgs := with(common, "-addr", addrs["gateway"], "-user-url", addrs["user"], "-catalog-url", addrs["catalog"],
		"-inventory-url", addrs["inventory"], "-order-url", addrs["order"])
	if !s.gatewayLimits {
		gatewayArgs = append(gatewayArgs, "-ip-rate", "0", "-user-rate", "0", "-auth-rate", "0")
	}
	parts := []childSpec{
		{"user", addrs["user"], userArgs},
		{"catalog", addrs["catalog"], with(others, "-addr", addrs["catalog"])},
		{"inventory", addrs["inventory"], with(others, "-addr", addrs["inventory"], "-catalog-url", addrs["catalog"])},
		{"order", addrs["order"], with(others, "-addr", addrs["order"], "-catalog-url", addrs["catalog"],
			"-inventory-url", addrs["inventory"], "-order-ttl", s.orderTTL.String())},
		{"gateway", addrs["gateway"], gatewayArgs},
	}
	if s.debugAddr != "" {
		host, port, _ := net.SplitHostPort(s.debugAddr)
		first, _ := strconv.Atoi(port)
		for i, name := range []string{"user", "catalog", "order", "inventory", "gateway"} {
			for j := range parts {
				if parts[j].name == name {
					parts[j].args = append(parts[j].args, "-debug-addr", net.JoinHostPort(host, strconv.Itoa(first+i)))
				}
			}
		}
	}
	return parts
}

// loadSampleFiles loads the sample products and their stock straight into
// the catalog's and the inventory's files when the catalogue is empty,
// before their services open them. Their events wait in the outboxes, which
// the services' relays send once they run.
func loadSampleFiles(ctx context.Context, dataDir string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return config.DataDirError(err)
	}
	cat, err := catalog.OpenSQLiteStore(ctx, filepath.Join(dataDir, "catalog.db"))
	if err != nil {
		return config.DataDirError(err)
	}
	defer cat.Close()
	inv, err := inventory.OpenSQLiteStore(ctx, filepath.Join(dataDir, "inventory.db"))
	if err != nil {
		return config.DataDirError(err)
	}
	defer inv.Close()
	return loadSampleData(ctx, catalog.NewService(cat), inventory.NewService(inv))
}

// start starts the part name as "shop serve name args...".
func (sp *supervisor) start(name, addr string, args, env []string) error {
	c := &child{name: name, addr: addr, done: make(chan struct{}),
		out: &prefixLines{mu: &sp.outMu, w: sp.out, prefix: []byte("proc=" + name + " "), jsonPrefix: []byte(`{"proc":"` + name + `",`)}}
	c.cmd = exec.Command(sp.self, append([]string{serveCommand, name}, args...)...)
	c.cmd.Dir, c.cmd.Env = sp.dir, env
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.SysProcAttr = childProcAttr()
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("split: start the %s service: %w", name, err)
	}
	level.Info(sp.logger).Log("msg", "started", "service", name, "pid", c.cmd.Process.Pid, "addr", addr)
	go func() {
		c.err = c.cmd.Wait()
		c.out.flush()
		close(c.done)
		sp.exited <- c
	}()
	if name == "gateway" {
		sp.gateway = c
	} else {
		sp.others = append(sp.others, c)
	}
	return nil
}

// waitReady polls the gateway's /readyz until it passes, a child exits,
// ctx ends (not an error: the caller stops) or startTimeout passes.
func (sp *supervisor) waitReady(ctx context.Context, readyz string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	why := "the gateway does not answer yet"
	for {
		if resp, err := client.Get(readyz); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			why = fmt.Sprintf("the gateway's /readyz answers %d %s", resp.StatusCode, bytes.TrimSpace(body))
		}
		select {
		case <-ctx.Done():
			return nil
		case c := <-sp.exited:
			return fmt.Errorf("split: the %s service exited while starting (%s); the others were stopped", c.name, c.exitText())
		case <-deadline.C:
			return fmt.Errorf("split: the shop was not ready within %s: %s", startTimeout, why)
		case <-tick.C:
		}
	}
}

// stopAll stops the gateway first, so no request reaches a service that is
// going away, then the services together. Each gets SIGTERM and its
// shutdown delay and bound, and 5 seconds more, to finish before it is
// killed. It returns an error naming any part that did not stop cleanly.
func (sp *supervisor) stopAll() error {
	var errs []error
	if sp.gateway != nil {
		errs = append(errs, sp.stop(sp.gateway))
	}
	results := make(chan error, len(sp.others))
	for _, c := range sp.others {
		go func() { results <- sp.stop(c) }()
	}
	for range sp.others {
		errs = append(errs, <-results)
	}
	return errors.Join(errs...)
}

// stop ends one child; one that already exited is left as it is.
func (sp *supervisor) stop(c *child) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.cmd.Process.Kill()
	}
	grace := sp.stopping.Timeout + sp.stopping.Delay + 5*time.Second
	select {
	case <-c.done:
	case <-time.After(grace):
		level.Warn(sp.logger).Log("msg", "did not stop in time; killed", "service", c.name, "waited", grace)
		c.cmd.Process.Kill()
		<-c.done
	}
	if c.err != nil {
		return fmt.Errorf("split: the %s service did not stop cleanly (%s)", c.name, c.exitText())
	}
	return nil
}

// prefixLines writes what a child prints to w line by line, each line after
// prefix (a JSON object's line gets jsonPrefix's field first instead), so
// the lines of children sharing mu never interleave.
type prefixLines struct {
	mu         *sync.Mutex
	w          io.Writer
	prefix     []byte
	jsonPrefix []byte
	buf        []byte
}

// Write writes the complete lines of b and keeps the rest for later.
func (p *prefixLines) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.writeLine(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

// flush writes a last line that had no line break.
func (p *prefixLines) flush() {
	if len(p.buf) > 0 {
		p.writeLine(append(p.buf, '\n'))
		p.buf = nil
	}
}

func (p *prefixLines) writeLine(line []byte) {
	out := make([]byte, 0, len(p.jsonPrefix)+len(line))
	if len(line) > 2 && line[0] == '{' && line[1] == '"' {
		out = append(append(out, p.jsonPrefix...), line[1:]...)
	} else {
		out = append(append(out, p.prefix...), line...)
	}
	p.mu.Lock()
	p.w.Write(out)
	p.mu.Unlock()
}
