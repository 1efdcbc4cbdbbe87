package discovery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/hashicorp/consul/api"

	shophttp "github.com/kitshop/shop/transport/http"
)

// ConsulDefaultPort is the port of a Consul agent's HTTP API when an address
// gives none.
const ConsulDefaultPort = 8500

// Defaults of a ConsulInstancer; see ConsulBackoff and ConsulWaitTime.
const (
	ConsulDefaultMinBackoff = 100 * time.Millisecond
	ConsulDefaultMaxBackoff = 10 * time.Second
	ConsulDefaultWaitTime   = time.Minute
)

const (
	// consulMinInterval is the least time between the starts of two queries
	// while Consul answers, so a service whose instances change all the
	// time cannot make the watcher flood the agent (go-kit/kit#1214).
	consulMinInterval = 100 * time.Millisecond
	// consulQueryTimeout bounds a query beyond the blocking wait Consul
	// was asked for (and the up to wait/16 it adds), so an agent that stops
	// answering without closing the connection counts as unreachable.
	consulQueryTimeout = 10 * time.Second
)

// NewConsulClient returns a client of the Consul agent at addr, given as
// host:port ("127.0.0.1:8500"), host (port 8500), or an http(s) URL
// ("https://consul.internal:8501"), as -consul takes it. The other settings
// come from Consul's own environment variables (CONSUL_HTTP_TOKEN and the
// TLS ones), as with the consul command; CONSUL_HTTP_ADDR is overridden by
// addr. Making the client does not contact the agent.
func NewConsulClient(addr string) (*api.Client, error) {
	u, err := shophttp.InstanceURL(addr)
	if err != nil || strings.TrimSpace(addr) == "" || u.Path != "" || u.User != nil {
		return nil, fmt.Errorf("discovery: Consul address %q is not host:port or an http(s) URL of the agent", addr)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), strconv.Itoa(ConsulDefaultPort))
	}
	cfg := api.DefaultConfig()
	cfg.Address, cfg.Scheme = host, u.Scheme
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery: Consul client for %s: %w", addr, err)
	}
	return client, nil
}

// ConsulOption configures a ConsulInstancer. An option given a value it
// cannot use makes NewConsulInstancer panic, naming the option.
type ConsulOption func(*consulOptions)

type consulOptions struct {
	tag                    string
	logger                 log.Logger
	minBackoff, maxBackoff time.Duration
	wait                   time.Duration
}

// ConsulTag keeps only the instances registered with tag (Consul filters
// them). The default is every passing instance of the service.
func ConsulTag(tag string) ConsulOption {
	return func(o *consulOptions) {
		if strings.TrimSpace(tag) == "" {
			panic("discovery: ConsulTag: empty tag")
		}
		o.tag = tag
	}
}

// ConsulLogger is where the instancer reports changes of the instances,
// Consul becoming unreachable (once at error level, then each retry at warn
// level, at most one line per maximum backoff) and Consul answering again.
// The default is no logging.
func ConsulLogger(logger log.Logger) ConsulOption {
	return func(o *consulOptions) {
		if logger == nil {
			panic("discovery: ConsulLogger: nil logger")
		}
		o.logger = logger
	}
}

// ConsulBackoff sets how long the instancer waits before asking an
// unreachable Consul again: min after the first failure, doubling after
// each further one up to max, each wait drawn at random between half and
// all of it (jitter, so a fleet of watchers does not return in step). The
// default is ConsulDefaultMinBackoff to ConsulDefaultMaxBackoff. min must be
// positive and max at least min.
func ConsulBackoff(min, max time.Duration) ConsulOption {
	return func(o *consulOptions) {
		if min <= 0 || max < min {
			panic(fmt.Sprintf("discovery: ConsulBackoff(%v, %v): want 0 < min <= max", min, max))
		}
		o.minBackoff, o.maxBackoff = min, max
	}
}

// ConsulWaitTime sets how long one blocking query may wait for a change
// before Consul answers anyway (Consul caps it at ten minutes). The default
// is ConsulDefaultWaitTime. A longer wait means fewer queries while nothing
// changes, and a later notice of an agent that vanished without closing the
// connection.
func ConsulWaitTime(d time.Duration) ConsulOption {
	return func(o *consulOptions) {
		if d < time.Second || d > 10*time.Minute {
			panic(fmt.Sprintf("discovery: ConsulWaitTime(%v): want 1s to 10m", d))
		}
		o.wait = d
	}
}

// ConsulInstancer is an sd.Instancer over the passing instances of one
// service in Consul: instances whose own checks and whose node's checks all
// pass. Each is reported as "http://address:port" (the service's address,
// or its node's when it registered none).
//
// A goroutine follows changes with Consul's blocking queries (the index it
// waits on is reset when Consul's goes backwards, as after an agent
// restart, and is never 0 once known). While Consul is unreachable, or
// answers with an error, it asks again with exponential backoff and jitter
// (see ConsulBackoff), never in a tight loop, and the instances stay the last
// ones Consul gave: it sends one event holding those instances and the
// error, which sd.NewEndpointer logs while it keeps its endpoints (unless it
// was made with sd.InvalidateOnError). When Consul answers again, the
// current instances are sent with no error. Stop ends the goroutine.
//
// go-kit's own sd/consul instancer is not used: it retried without any
// backoff while Consul was down (go-kit/kit#627), once flooded Consul on
// every change (#1214), and its pauses and queries cannot be interrupted by
// Stop.
type ConsulInstancer struct {
	client  *api.Client
	service string
	opts    consulOptions
	cache   *instanceCache

	cancel context.CancelFunc
	done   chan struct{}
}

var _ sd.Instancer = (*ConsulInstancer)(nil)

// watch is the state of the watching goroutine.
type watch struct {
	index    uint64        // the index the next query waits on; 0: answer at once
	started  time.Time     // when the last query started
	failures int           // queries failed in a row
	lastErr  error         // the error of the last failed query
	delay    time.Duration // the backoff before the next query after a failure
}

// NewConsulInstancer asks Consul at once for the passing instances of
// service, so the first event a channel is sent already holds them (or, if
// that first query fails, the error), then follows changes until Stop. The
// first query waits at most ten seconds for Consul. A nil client or an empty
// service name panics.
func NewConsulInstancer(client *api.Client, service string, opts ...ConsulOption) *ConsulInstancer {
	if client == nil {
		panic("discovery: NewConsulInstancer: nil Consul client")
	}
	if strings.TrimSpace(service) == "" {
		panic("discovery: NewConsulInstancer: empty service name")
	}
	o := consulOptions{
		logger:     log.NewNopLogger(),
		minBackoff: ConsulDefaultMinBackoff,
		maxBackoff: ConsulDefaultMaxBackoff,
		wait:       ConsulDefaultWaitTime,
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.logger = log.With(o.logger, "service", service)
	if o.tag != "" {
		o.logger = log.With(o.logger, "tag", o.tag)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &ConsulInstancer{
		client:  client,
		service: service,
		opts:    o,
		cache:   newInstanceCache(sd.Event{}),
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	w := &watch{delay: o.minBackoff}
	c.attempt(ctx, w)
	go c.loop(ctx, w)
	return c
}

// Register sends the current state to ch at once (the instances, and the
// error while Consul is unreachable), then every change until Deregister.
// The receiver must keep reading ch until Deregister returns, as
// sd.NewEndpointer does.
func (c *ConsulInstancer) Register(ch chan<- sd.Event) { c.cache.register(ch) }

// Deregister stops sending events to ch; none arrives once it returns.
func (c *ConsulInstancer) Deregister(ch chan<- sd.Event) { c.cache.deregister(ch) }

// State returns the last event sent: the current instances, sorted, and
// while Consul is unreachable the error (with the last instances known).
func (c *ConsulInstancer) State() sd.Event { return c.cache.current() }

// Stop ends the watching goroutine, interrupting a query or a backoff in
// progress, and returns once it has ended. No event is sent afterwards.
// Calling it again does nothing.
func (c *ConsulInstancer) Stop() {
	c.cancel()
	<-c.done
}

func (c *ConsulInstancer) loop(ctx context.Context, w *watch) {
	defer close(c.done)
	for {
		var pause time.Duration
		if w.failures > 0 {
			pause = jitter(w.delay)
			w.delay = min(2*w.delay, c.opts.maxBackoff)
			lvl := level.Warn
			if w.failures == 1 {
				lvl = level.Error
			}
			lvl(c.opts.logger).Log("msg", "Consul is unreachable; keeping the last instances known",
				"instances", len(c.cache.current().Instances), "failures", w.failures,
				"retry_in", pause.Round(time.Millisecond), "err", w.lastErr)
		} else {
			pause = consulMinInterval - time.Since(w.started)
		}
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		c.attempt(ctx, w)
	}
}

// attempt runs one query and sends what it learnt.
func (c *ConsulInstancer) attempt(ctx context.Context, w *watch) {
	w.started = time.Now()
	instances, index, err := c.query(ctx, w.index)
	if ctx.Err() != nil {
		return // stopped: the query was cut short, nothing to learn
	}
	last := c.cache.current()
	if err != nil {
		w.failures++
		w.lastErr = err
		// An agent that comes back may have started over with lower
		// indexes; a query waiting on the old one would block until its
		// wait ran out. The first query after a failure answers at once.
		w.index = 0
		c.cache.update(sd.Event{
			Instances: last.Instances,
			Err:       fmt.Errorf("discovery: Consul instances of %s: %w", c.service, err),
		}, ctx.Done())
		return
	}
	if w.failures > 0 {
		level.Info(c.opts.logger).Log("msg", "Consul answers again", "failures", w.failures)
	}
	w.failures, w.lastErr, w.delay = 0, nil, c.opts.minBackoff
	switch {
	case index < w.index:
		w.index = 0 // Consul's index went backwards: start over
	case index == 0:
		w.index = 1 // never 0 once known, or the next query would not block
	default:
		w.index = index
	}
	if !slices.Equal(last.Instances, instances) {
		level.Info(c.opts.logger).Log("msg", "instances changed", "instances", len(instances))
	}
	c.cache.update(sd.Event{Instances: instances}, ctx.Done())
}

// query asks Consul for the passing instances, waiting for a change past
// index when index is not 0. The instances come back sorted.
func (c *ConsulInstancer) query(ctx context.Context, index uint64) ([]string, uint64, error) {
	timeout := consulQueryTimeout
	if index > 0 {
		timeout += c.opts.wait + c.opts.wait/16
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q := (&api.QueryOptions{WaitIndex: index, WaitTime: c.opts.wait}).WithContext(qctx)
	entries, meta, err := c.client.Health().Service(c.service, c.opts.tag, true, q)
	if err != nil {
		return nil, 0, err
	}
	if meta == nil {
		return nil, 0, errors.New("no index in the answer of Consul")
	}
	instances := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Service == nil {
			continue
		}
		addr := e.Service.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address
		}
		instances = append(instances, "http://"+net.JoinHostPort(addr, strconv.Itoa(e.Service.Port)))
	}
	slices.Sort(instances)
	return slices.Compact(instances), meta.LastIndex, nil
}

// jitter returns a duration drawn at random between half of d and d.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}
