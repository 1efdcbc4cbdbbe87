package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/kitshop/shop/discovery"
	shophttp "github.com/kitshop/shop/transport/http"
)

// upstream is one service behind the gateway: its instances as its
// instancer reports them, each with its breaker, and a round-robin counter.
type upstream struct {
	name      string
	instancer sd.Instancer
	breakers  discovery.BreakerFactory
	timeout   time.Duration // the longest timeout of a route to it
	logger    log.Logger
	m         *metrics

	live atomic.Pointer[[]*instance] // the instances now, sorted
	next atomic.Uint64               // round robin

	mu    sync.Mutex
	known map[string]*instance // every instance ever seen, with its breaker
	ch    chan sd.Event
	done  chan struct{}
	wg    sync.WaitGroup
}

// instance is one instance of an upstream.
type instance struct {
	addr    string // as the instancer reported it: the name in logs
	label   string // "catalog-2": the name in metrics, which show no address
	scheme  string
	host    string
	path    string // the base path, without a trailing slash
	breaker discovery.Breaker
}

func newUpstream(name string, in sd.Instancer, breakers discovery.BreakerFactory, timeout time.Duration, logger log.Logger, m *metrics) *upstream {
	u := &upstream{
		name: name, instancer: in, breakers: breakers, timeout: timeout, logger: logger, m: m,
		known: map[string]*instance{},
		ch:    make(chan sd.Event, 1),
		done:  make(chan struct{}),
	}
	u.live.Store(&[]*instance{})
	in.Register(u.ch) // an instancer sends its current state at once
	select {
	case ev := <-u.ch:
		u.update(ev)
	case <-time.After(100 * time.Millisecond):
	}
	u.wg.Add(1)
	go u.follow()
	return u
}

// follow takes the instancer's events in until close.
func (u *upstream) follow() {
	defer u.wg.Done()
	for {
		select {
		case ev := <-u.ch:
			u.update(ev)
		case <-u.done:
			return
		}
	}
}

// update makes ev's instances the live ones. An event with an error and no
// instances (Consul unreachable) keeps the last known instances.
func (u *upstream) update(ev sd.Event) {
	if ev.Err != nil && len(ev.Instances) == 0 {
		level.Warn(u.logger).Log("msg", "instancer error; keeping the last known instances", "service", u.name, "err", ev.Err)
		return
	}
	addrs := slices.Clone(ev.Instances)
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	u.mu.Lock()
	defer u.mu.Unlock()
	old := *u.live.Load()
	live := make([]*instance, 0, len(addrs))
	for _, addr := range addrs {
		in, err := u.instanceLocked(addr)
		if err != nil {
			level.Error(u.logger).Log("msg", "instance left out", "service", u.name, "instance", addr, "err", err)
			continue
		}
		live = append(live, in)
	}
	for _, in := range old {
		if !slices.Contains(live, in) {
			u.m.breakerState.DeleteLabelValues(u.name, in.label)
		}
	}
	for _, in := range live {
		u.m.breakerState.WithLabelValues(u.name, in.label).Set(float64(in.breaker.State()))
	}
	u.live.Store(&live)
}

// instanceLocked returns the instance of addr, made on first sight.
func (u *upstream) instanceLocked(addr string) (*instance, error) {
	if in, ok := u.known[addr]; ok {
		return in, nil
	}
	base, err := shophttp.InstanceURL(addr)
	if err != nil {
		return nil, err
	}
	in := &instance{addr: addr, label: fmt.Sprintf("%s-%d", u.name, len(u.known)+1), scheme: base.Scheme, host: base.Host, path: base.Path}
	b, err := u.breakers(discovery.BreakerConfig{
		Client:   u.name,
		Instance: addr,
		Name:     fmt.Sprintf("gateway/%s/%s/%p", u.name, addr, in),
		// The gateway bounds each request itself; a breaker with a timeout
		// or a concurrency limit of its own must not cut in first.
		AttemptTimeout: u.timeout + time.Second,
		MaxInFlight:    4096,
		OnStateChange:  func(from, to discovery.BreakerState) { u.stateChanged(in, from, to) },
	})
	if err != nil {
		return nil, fmt.Errorf("breaker: %w", err)
	}
	in.breaker = b
	u.known[addr] = in
	level.Info(u.logger).Log("msg", "instance found", "service", u.name, "instance", addr, "instance_label", in.label)
	return in, nil
}

// stateChanged logs a breaker's change and sets its gauge.
func (u *upstream) stateChanged(in *instance, from, to discovery.BreakerState) {
	kv := []any{"msg", "circuit breaker " + to.String(), "service", u.name, "instance", in.addr, "instance_label", in.label, "from", from.String(), "to", to.String()}
	if to == discovery.BreakerOpen {
		level.Warn(u.logger).Log(kv...)
	} else {
		level.Info(u.logger).Log(kv...)
	}
	if slices.Contains(*u.live.Load(), in) {
		u.m.breakerState.WithLabelValues(u.name, in.label).Set(float64(to))
	}
}

// ready returns nil when an instance whose breaker is not open answers
// its health path (healthPath on it, through client) with a 200 within a
// second: a static list names instances that may be down, and a breaker
// only opens once requests fail.
func (u *upstream) ready(ctx context.Context, client *http.Client, healthPath string) error {
	live := *u.live.Load()
	if len(live) == 0 {
		return fmt.Errorf("no instance of %s known", u.name)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	answers := make(chan bool, len(live))
	asked := 0
	for _, in := range live {
		if in.breaker.State() == discovery.BreakerOpen {
			continue
		}
		asked++
		go func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.scheme+"://"+in.host+in.path+healthPath, nil)
			if err != nil {
				answers <- false
				return
			}
			resp, err := client.Do(req)
			if err != nil {
				answers <- false
				return
			}
			io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			answers <- resp.StatusCode == http.StatusOK
		}()
	}
	if asked == 0 {
		return fmt.Errorf("every breaker of %s is open", u.name)
	}
	for range asked {
		if <-answers {
			return nil
		}
	}
	return fmt.Errorf("no instance of %s answers %s", u.name, healthPath)
}

// pick returns the next instances in round-robin order, up to n, those
// whose breaker is open left to the end.
func (u *upstream) pick(n int, buf []*instance) []*instance {
	live := *u.live.Load()
	if len(live) == 0 {
		return buf[:0]
	}
	start := int(u.next.Add(1) % uint64(len(live)))
	out := buf[:0]
	var open []*instance
	for i := range live {
		in := live[(start+i)%len(live)]
		if in.breaker.State() == discovery.BreakerOpen {
			open = append(open, in)
			continue
		}
		out = append(out, in)
	}
	out = append(out, open...)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func (u *upstream) close() {
	u.instancer.Deregister(u.ch)
	close(u.done)
	u.wg.Wait()
	u.mu.Lock()
	for _, in := range *u.live.Load() {
		u.m.breakerState.DeleteLabelValues(u.name, in.label)
	}
	u.mu.Unlock()
}

// The failures of a proxied request, which the ErrorHandler turns into the
// shop's error shape.
var (
	// errUnavailable: no instance known, every breaker open, or every
	// instance refused the connection.
	errUnavailable = errors.New("no instance could take the request")
	// errTimeout: the route's timeout passed before the response headers.
	errTimeout = errors.New("the upstream did not answer in time")
	// errBadResponse: the connection broke, or the answer was not HTTP.
	errBadResponse = errors.New("the upstream's answer was broken")
)

// proxyError is the error the balancer returns to the reverse proxy: one of
// the errors above, with what caused it (for the log, never the client).
type proxyError struct {
	kind  error
	cause error
}

func (e *proxyError) Error() string {
	if e.cause == nil {
		return e.kind.Error()
	}
	return e.kind.Error() + ": " + e.cause.Error()
}
func (e *proxyError) Unwrap() []error { return []error{e.kind, e.cause} }

// statusError is an answer the breaker counts as a failure.
type statusError struct{ status int }

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

// balancer is the reverse proxy's http.RoundTripper: it sends each request
// to an instance of the route's upstream, through the instance's breaker,
// within the route's timeout, retrying as Config.Attempts says.
type balancer struct {
	next     http.RoundTripper
	attempts int
}

// stateKey is the context key of a request's *state.
type stateKey struct{}

// state is what the gateway knows of one request, shared between the
// handler, the balancer and the access log.
type state struct {
	rt        *route
	instance  string // the last instance tried
	upErr     error  // the upstream failure answered, if any
	requestID string
	label     string // the metrics' route of a request without one
}

func (b *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	st, _ := req.Context().Value(stateKey{}).(*state)
	if st == nil || st.rt == nil {
		return nil, &proxyError{kind: errUnavailable, cause: errors.New("request without a route")}
	}
	up := st.rt.up
	var timedOut atomic.Bool
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(st.rt.class.timeout, func() {
		timedOut.Store(true)
		cancel()
	})
	resp, err := b.try(ctx, req, st, up, &timedOut)
	if err == nil && !timer.Stop() {
		resp.Body.Close()
		resp, err = nil, &proxyError{kind: errTimeout}
	}
	if err != nil {
		timer.Stop()
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// try makes the attempts of one request.
func (b *balancer) try(ctx context.Context, req *http.Request, st *state, up *upstream, timedOut *atomic.Bool) (*http.Response, error) {
	var buf [4]*instance
	instances := up.pick(max(b.attempts, 4), buf[:0])
	if len(instances) == 0 {
		up.m.upstreamErrors.WithLabelValues(up.name, "no_instance").Inc()
		return nil, &proxyError{kind: errUnavailable, cause: errors.New("no instance known")}
	}
	replayable := (req.Method == http.MethodGet || req.Method == http.MethodHead) && (req.Body == nil || req.Body == http.NoBody)
	sentCount := 0
	var lastErr error
	for _, in := range instances {
		if sentCount >= b.attempts {
			break
		}
		st.instance = in.addr
		out := req.WithContext(ctx)
		u := *req.URL
		u.Scheme, u.Host = in.scheme, in.host
		if in.path != "" {
			u.Path = in.path + req.URL.Path
			if req.URL.RawPath != "" {
				u.RawPath = in.path + req.URL.RawPath
			}
		}
		out.URL = &u
		out.Host = ""
		var (
			resp      *http.Response
			rerr      error
			mu        sync.Mutex
			sent      bool // the call ran: the request went out
			abandoned bool // Execute returned: too late to run
			finished  = make(chan struct{})
		)
		// A breaker may run the call on a goroutine of its own and return
		// before it ends (hystrix-go does when the context ends): the call
		// starts only while Execute has not returned, and Execute's caller
		// waits for a call that started, so resp and rerr are final.
		err := in.breaker.Execute(ctx, func(context.Context) error {
			mu.Lock()
			if abandoned {
				mu.Unlock()
				return context.Canceled
			}
			sent = true
			mu.Unlock()
			defer close(finished)
			resp, rerr = b.next.RoundTrip(out)
			switch {
			case rerr != nil && timedOut.Load():
				return errTimeout
			case rerr != nil && req.Context().Err() != nil:
				return context.Canceled // the client went away: no verdict
			case rerr != nil:
				return rerr
			case failure(resp):
				return &statusError{status: resp.StatusCode}
			}
			return nil
		})
		mu.Lock()
		abandoned = true
		ran := sent
		mu.Unlock()
		if ran {
			<-finished
		}
		if !ran {
			// Refused by the breaker: nothing was sent, any method may go
			// on to the next instance.
			up.m.upstreamErrors.WithLabelValues(up.name, "breaker_open").Inc()
			lastErr = &proxyError{kind: errUnavailable, cause: fmt.Errorf("%s: breaker: %w", in.addr, err)}
			continue
		}
		sentCount++
		if rerr != nil {
			switch {
			case timedOut.Load():
				up.m.upstreamErrors.WithLabelValues(up.name, "timeout").Inc()
				return nil, &proxyError{kind: errTimeout, cause: rerr}
			case req.Context().Err() != nil:
				return nil, &proxyError{kind: context.Canceled, cause: rerr}
			case refused(rerr):
				up.m.upstreamErrors.WithLabelValues(up.name, "refused").Inc()
				lastErr = &proxyError{kind: errUnavailable, cause: fmt.Errorf("%s: %w", in.addr, rerr)}
				if replayable {
					continue
				}
				return nil, lastErr
			default:
				up.m.upstreamErrors.WithLabelValues(up.name, "bad_response").Inc()
				lastErr = &proxyError{kind: errBadResponse, cause: fmt.Errorf("%s: %w", in.addr, rerr)}
				if replayable {
					continue
				}
				return nil, lastErr
			}
		}
		if resp.StatusCode >= 500 {
			up.m.upstreamErrors.WithLabelValues(up.name, fmt.Sprintf("status_%d", resp.StatusCode)).Inc()
		}
		if replayable && (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable) && sentCount < b.attempts && sentCount < len(instances) {
			// Another instance may do better; this answer is dropped.
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			lastErr = &proxyError{kind: errBadResponse, cause: fmt.Errorf("%s: HTTP %d", in.addr, resp.StatusCode)}
			up.m.retries.WithLabelValues(up.name).Inc()
			continue
		}
		return resp, nil
	}
	if lastErr == nil {
		lastErr = &proxyError{kind: errUnavailable}
	}
	return nil, lastErr
}

// failure says whether an upstream's answer counts against its breaker: a
// 500, 502 or 504, or a 503 that is not the shop's JSON error shape (a
// proxy's or a dying server's). A JSON 503 is the service's own answer
// about its dependencies.
func failure(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	case http.StatusServiceUnavailable:
		return !isJSON(resp.Header)
	}
	return false
}

// isJSON says whether the header's Content-Type is JSON.
func isJSON(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && (mt == "application/json" || mt == "application/problem+json")
}

// refused says whether err proves the request never reached the instance:
// the connection could not be made.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// cancelBody ends the request's context when the response body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
