package discovery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop"
)

// The defaults of NewEndpoint's options.
const (
	// ClientDefaultTimeout bounds a whole call, retries included.
	ClientDefaultTimeout = 3 * time.Second
	// ClientDefaultAttemptTimeout bounds one attempt on one instance.
	ClientDefaultAttemptTimeout = time.Second
	// ClientDefaultMaxInFlight is how many calls may run at once on one
	// instance.
	ClientDefaultMaxInFlight = 256
	// RetryDefaultAttempts is how many attempts a call makes at most, the
	// first included.
	RetryDefaultAttempts = 3
)

// ClientOption configures NewEndpoint, and each domain's NewHTTPClient
// built on it. An option given a value it cannot use (a zero timeout, a nil
// logger) panics with a message naming it: such a value is a bug in the
// wiring, never user input.
type ClientOption func(*clientOptions)

type clientOptions struct {
	timeout        time.Duration
	attemptTimeout time.Duration
	attempts       int
	maxInFlight    int
	breakers       BreakerFactory
	logger         log.Logger
	registerer     prometheus.Registerer
	idempotent     func(request any) bool
	fallback       FallbackFunc
}

// ClientTimeout bounds a whole call, every retry included (default
// ClientDefaultTimeout). The caller's context can make it shorter, never
// longer. When it passes, the call fails with 503 "<service>_unavailable".
func ClientTimeout(d time.Duration) ClientOption {
	if d <= 0 {
		panic(fmt.Sprintf("discovery: ClientTimeout(%v): want more than 0", d))
	}
	return func(o *clientOptions) {
		o.timeout = d
	}
}

// ClientAttemptTimeout bounds one attempt on one instance (default
// ClientDefaultAttemptTimeout, or half of ClientTimeout when that is
// shorter than twice the default). An attempt that runs out counts as a
// failure of the instance's breaker; the call may then be retried on
// another instance, if it is idempotent. It must be shorter than
// ClientTimeout, so a hanging instance leaves time to try another.
func ClientAttemptTimeout(d time.Duration) ClientOption {
	if d <= 0 {
		panic(fmt.Sprintf("discovery: ClientAttemptTimeout(%v): want more than 0", d))
	}
	return func(o *clientOptions) {
		o.attemptTimeout = d
	}
}

// ClientMaxInFlight bounds the calls running at once on each instance
// (default ClientDefaultMaxInFlight). A call over the bound is not sent: it
// goes to another instance, or fails with 503 "<service>_unavailable".
func ClientMaxInFlight(n int) ClientOption {
	if n <= 0 {
		panic(fmt.Sprintf("discovery: ClientMaxInFlight(%d): want more than 0", n))
	}
	return func(o *clientOptions) {
		o.maxInFlight = n
	}
}

// ClientBreakers sets the factory of the client's breakers, one per
// instance (default HystrixBreakers(HystrixSettings{})).
func ClientBreakers(f BreakerFactory) ClientOption {
	if f == nil {
		panic("discovery: ClientBreakers(nil): want a BreakerFactory")
	}
	return func(o *clientOptions) {
		o.breakers = f
	}
}

// ClientLogger is where the client logs its breakers' changes of state
// (default: nowhere): opening at warn level, half-opening and closing at
// info, each with the client, the instance and the last failure.
func ClientLogger(l log.Logger) ClientOption {
	if l == nil {
		panic("discovery: ClientLogger(nil): want a logger (log.NewNopLogger() for none)")
	}
	return func(o *clientOptions) {
		o.logger = l
	}
}

// ClientMetrics exports the state of each breaker on reg (pass a registry
// of your own, such as prometheus.NewRegistry(), not the global one) as the
// gauge kitshop_client_breaker_state{client,instance}: 0 closed, 1
// half-open, 2 open. An instance's series goes when the instance leaves
// the instancer or the client is closed. Clients of one service on one
// registry share the series of an instance they both call.
func ClientMetrics(reg prometheus.Registerer) ClientOption {
	if reg == nil {
		panic("discovery: ClientMetrics(nil): want a prometheus.Registerer")
	}
	return func(o *clientOptions) {
		o.registerer = reg
	}
}

// RetryAttempts sets how many attempts a call makes at most, the first
// included (default RetryDefaultAttempts; 1 never retries). Each retry goes
// to the next instance in round-robin order.
//
// What is retried: a call that provably never reached a server (the
// connection was refused or could not be dialled, the instance's breaker
// was open, or the instance had too many calls in flight) always; a call
// that may have reached one (a timeout, a 5xx, 503, a broken connection)
// only when RetryIdempotent says the request is idempotent. A business
// error (400, 401, 402, 403, 404, 409, 429) is an answer and never retried.
func RetryAttempts(n int) ClientOption {
	if n <= 0 {
		panic(fmt.Sprintf("discovery: RetryAttempts(%d): want 1 or more", n))
	}
	return func(o *clientOptions) {
		o.attempts = n
	}
}

// RetryIdempotent tells which requests are idempotent: safe to send again
// after an attempt that may have reached the server. Without it no request
// is, and only attempts that never reached a server are retried.
func RetryIdempotent(idempotent func(request any) bool) ClientOption {
	if idempotent == nil {
		panic("discovery: RetryIdempotent(nil): want a function")
	}
	return func(o *clientOptions) {
		o.idempotent = idempotent
	}
}

// FallbackFunc answers a call that failed for want of a working instance
// (err is the 503 "<service>_unavailable" the call would have returned, or
// the dependency's own 503), in the place of the dependency: it gets the
// request as the endpoint got it and returns the response (of the type the
// dependency would have answered) or an error. It is the article's
// HystrixCommand.fallback. It is not called for a business error, nor when
// the caller's context is done.
type FallbackFunc func(ctx context.Context, request any, err error) (response any, ferr error)

// Fallback gives every call of the client a fallback (default: none; a
// FallbackContext fallback given to one call takes its place). A client
// whose callers must see the failure, such as order's, whose stale price
// would be worse than a clear 503, gives none.
func Fallback(f FallbackFunc) ClientOption {
	if f == nil {
		panic("discovery: Fallback(nil): want a FallbackFunc")
	}
	return func(o *clientOptions) {
		o.fallback = f
	}
}

type fallbackKey struct{}

// FallbackContext returns a copy of ctx that gives the calls made with it a
// fallback of their own, in the place of the client's Fallback, so one call
// can say what it makes do with:
//
//	p, err := catalogClient.GetProduct(discovery.FallbackContext(ctx, cached), id)
//
// Every client call made with the context uses it: pass it to one call only.
func FallbackContext(ctx context.Context, f FallbackFunc) context.Context {
	return context.WithValue(ctx, fallbackKey{}, f)
}

// NewEndpoint returns an endpoint that calls the service named service
// (such as "catalog"; it names the errors, logs and metrics) on the
// instances instancer reports, built in go-kit's order:
//
//   - per instance (inside the factory): a concurrency limit
//     (ClientMaxInFlight), a breaker (ClientBreakers) and a timeout per
//     attempt (ClientAttemptTimeout) around the endpoint factory makes;
//   - sd.NewEndpointer and lb.NewRoundRobin across the instances;
//   - retries as go-kit's lb.RetryWithCallback makes them (the same
//     balancer, callback and lb.RetryError), of what RetryAttempts says,
//     within ClientTimeout, but on the caller's goroutine.
//
// The endpoint factory makes must fail only for transport trouble, 5xx and
// ErrUnavailable, and return business errors inside its response (an
// endpoint.Failer), as every domain's MakeClientEndpoints does: the
// breakers then count exactly the failures of the dependency, and a burst
// of 404s leaves them closed. (An error of a business kind returned as the
// endpoint's error is passed through the same way.)
//
// The endpoint's errors: a business error as the dependency answered it;
// the dependency's own 503 as it answered it; the caller's context error
// when the caller's context ended the call; for anything else (no instance
// known, every breaker open, connection refused, a timeout, a 500) 503
// "<service>_unavailable" (shop.ErrUnavailable), whose message names the
// service and nothing internal, and which unwraps to the attempts' errors.
// An open breaker answers at once, without calling the dependency.
//
// The returned io.Closer stops what NewEndpoint started: the endpointer
// stops following instancer, and the instances' endpoints are closed. The
// instancer is the caller's, to stop when nothing else uses it.
func NewEndpoint(service string, instancer sd.Instancer, factory sd.Factory, opts ...ClientOption) (endpoint.Endpoint, io.Closer, error) {
	if service == "" || instancer == nil || factory == nil {
		return nil, nil, errors.New("discovery.NewEndpoint: want a service name, an instancer and a factory")
	}
	o := clientOptions{
		timeout:     ClientDefaultTimeout,
		attempts:    RetryDefaultAttempts,
		maxInFlight: ClientDefaultMaxInFlight,
		logger:      log.NewNopLogger(),
		idempotent:  func(any) bool { return false },
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.attemptTimeout == 0 {
		o.attemptTimeout = min(ClientDefaultAttemptTimeout, o.timeout/2)
	}
	if o.attemptTimeout >= o.timeout {
		return nil, nil, fmt.Errorf("%s client: ClientAttemptTimeout(%v) must be shorter than ClientTimeout(%v)", service, o.attemptTimeout, o.timeout)
	}
	if o.breakers == nil {
		o.breakers = HystrixBreakers(HystrixSettings{})
	}
	id := make([]byte, 6)
	rand.Read(id)
	c := &client{
		service:   service,
		id:        hex.EncodeToString(id),
		o:         o,
		inner:     factory,
		instances: map[string]*instance{},
		live:      map[string]io.Closer{},
		tried:     map[string]bool{},
	}
	if o.registerer != nil {
		g, err := breakerGauge(o.registerer)
		if err != nil {
			return nil, nil, fmt.Errorf("%s client: %w", service, err)
		}
		c.gauge = g
	}

	first := currentInstances(instancer)
	endpointer := sd.NewEndpointer(instancer, c.factory, log.With(o.logger, "client", service))
	c.endpointer = endpointer
	c.awaitInstances(first)
	retry := retryWithCallback(o.timeout, lb.NewRoundRobin(endpointer), c.retryCallback)
	call := func(ctx context.Context, request any) (any, error) {
		resp, err := retry(ctx, request)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		err = c.finalError(err)
		if f, _ := ctx.Value(fallbackKey{}).(FallbackFunc); f != nil && shop.KindOf(err) == shop.ErrUnavailable {
			return f(ctx, request, err)
		}
		if c.o.fallback != nil && shop.KindOf(err) == shop.ErrUnavailable {
			return c.o.fallback(ctx, request, err)
		}
		return nil, err
	}
	return call, c, nil
}

// retryWithCallback is go-kit's lb.RetryWithCallback, with the same
// contract (a balancer, a callback, lb.RetryError with every attempt's
// error, the context's error when the overall timeout ends the call), but
// each attempt runs on the caller's goroutine. go-kit's runs each attempt
// on a goroutine of its own so it can return at the deadline even from a
// call that ignores its context; here every attempt is bounded by its own
// timeout and the endpoints honour their context, so the goroutine (about
// 7 µs a call on two cores, a sixth of a loopback call) buys nothing.
func retryWithCallback(timeout time.Duration, b lb.Balancer, cb lb.Callback) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var final lb.RetryError
		for i := 1; ; i++ {
			e, err := b.Endpoint()
			if err != nil {
				final.RawErrors = append(final.RawErrors, err)
				final.Final = err
				return nil, final
			}
			resp, err := e(ctx, request)
			if err == nil {
				return resp, nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			final.RawErrors = append(final.RawErrors, err)
			keep, replacement := cb(i, err)
			if replacement != nil {
				final.Final = replacement
				return nil, final
			}
			if !keep {
				final.Final = err
				return nil, final
			}
		}
	}
}

// client is what NewEndpoint builds: the per-instance state, shared by
// every endpoint an instance gets over time.
type client struct {
	service    string
	id         string // unique to this client: the breakers' names
	o          clientOptions
	inner      sd.Factory
	gauge      *prometheus.GaugeVec
	endpointer *sd.DefaultEndpointer

	mu        sync.Mutex
	instances map[string]*instance // every instance ever seen, kept with its breaker
	live      map[string]io.Closer // the instances the endpointer holds now, with their closers
	tried     map[string]bool      // every instance the factory was asked for
	closed    bool
}

// instance is the state of one instance of the dependency.
type instance struct {
	addr    string
	breaker Breaker
	slots   chan struct{} // one per call in flight
	lastErr atomic.Pointer[error]
}

// factory is the sd.Factory the endpointer uses: the caller's endpoint for
// addr, behind the instance's concurrency limit and breaker.
func (c *client) factory(addr string) (endpoint.Endpoint, io.Closer, error) {
	c.mu.Lock()
	c.tried[addr] = true
	c.mu.Unlock()
	next, closer, err := c.inner(addr)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	in, err := c.instanceLocked(addr)
	if err == nil && c.closed {
		err = errors.New("client closed") // while the endpointer was still busy
	}
	if err != nil {
		c.mu.Unlock()
		if closer != nil {
			closer.Close()
		}
		return nil, nil, err
	}
	c.live[addr] = closer
	c.mu.Unlock()
	if c.gauge != nil {
		// Outside the lock: State may report a change (stateChanged).
		c.gauge.WithLabelValues(c.service, addr).Set(float64(in.breaker.State()))
	}
	return c.attempt(in, next), closerFunc(func() error { return c.gone(addr) }), nil
}

// instanceLocked returns the state of addr, made on first sight: the
// breaker of a client and instance is made once and kept.
func (c *client) instanceLocked(addr string) (*instance, error) {
	if in, ok := c.instances[addr]; ok {
		return in, nil
	}
	in := &instance{addr: addr, slots: make(chan struct{}, c.o.maxInFlight)}
	b, err := c.o.breakers(BreakerConfig{
		Client:         c.service,
		Instance:       addr,
		Name:           c.service + "#" + c.id + "/" + addr,
		AttemptTimeout: c.o.attemptTimeout,
		MaxInFlight:    c.o.maxInFlight,
		OnStateChange:  func(from, to BreakerState) { c.stateChanged(in, from, to) },
	})
	if err != nil {
		return nil, fmt.Errorf("%s client: breaker for %s: %w", c.service, addr, err)
	}
	in.breaker = b
	c.instances[addr] = in
	return in, nil
}

// gone forgets a live instance the endpointer dropped (or the client, on
// Close), closing its endpoint and removing its gauge series.
func (c *client) gone(addr string) error {
	c.mu.Lock()
	closer, ok := c.live[addr]
	delete(c.live, addr)
	c.mu.Unlock()
	if !ok {
		return nil
	}
	if c.gauge != nil {
		c.gauge.DeleteLabelValues(c.service, addr)
	}
	if closer != nil {
		return closer.Close()
	}
	return nil
}

// Close stops the endpointer and closes the instances' endpoints.
func (c *client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.endpointer.Close()
	c.mu.Lock()
	addrs := make([]string, 0, len(c.live))
	for addr := range c.live {
		addrs = append(addrs, addr)
	}
	c.mu.Unlock()
	var errs []error
	for _, addr := range addrs {
		if err := c.gone(addr); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// currentInstances returns the instances instancer knows now (none if it
// says nothing within 100ms), as a copy: go-kit's endpointer sorts the
// slice it is sent, and sd.FixedInstancer sends everyone the same one.
func currentInstances(instancer sd.Instancer) []string {
	ch := make(chan sd.Event, 1)
	instancer.Register(ch) // an Instancer sends its current state at once
	var first sd.Event
	select {
	case first = <-ch:
	case <-time.After(100 * time.Millisecond):
	}
	instances := slices.Clone(first.Instances)
	stop := make(chan struct{})
	go func() { // keep the instancer from blocking on ch until it lets go of it
		for {
			select {
			case <-ch:
			case <-stop:
				return
			}
		}
	}()
	instancer.Deregister(ch)
	close(stop)
	return instances
}

// awaitInstances waits (a second at most) until the endpointer has made
// the endpoints of instances: sd.NewEndpointer takes them in on a goroutine
// of its own, and a call made right after NewEndpoint must not find none.
func (c *client) awaitInstances(instances []string) {
	if len(instances) == 0 {
		return
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		all := true
		for _, addr := range instances {
			all = all && c.tried[addr]
		}
		c.mu.Unlock()
		if all {
			// The endpointer makes a set of endpoints under its lock:
			// this waits for the set to be complete.
			c.endpointer.Endpoints()
			return
		}
	}
}

// stateChanged logs a breaker's change of state and sets its gauge.
func (c *client) stateChanged(in *instance, from, to BreakerState) {
	kv := []any{"msg", "circuit breaker " + to.String(), "client", c.service, "instance", in.addr, "from", from.String(), "to", to.String()}
	if err := in.lastErr.Load(); err != nil {
		kv = append(kv, "last_error", (*err).Error())
	}
	if to == BreakerOpen {
		level.Warn(c.o.logger).Log(kv...)
	} else {
		level.Info(c.o.logger).Log(kv...)
	}
	if c.gauge == nil {
		return
	}
	c.mu.Lock()
	_, live := c.live[in.addr]
	c.mu.Unlock()
	if live {
		c.gauge.WithLabelValues(c.service, in.addr).Set(float64(to))
	}
}

// attempt is one try of a call on instance in: within the instance's
// concurrency limit, through its breaker, bounded by the attempt timeout.
// Its error is an *attemptError that says whether a retry is safe.
func (c *client) attempt(in *instance, next endpoint.Endpoint) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		select {
		case in.slots <- struct{}{}:
		default:
			return nil, &attemptError{err: &notSentError{addr: in.addr, err: fmt.Errorf("%d calls in flight already", c.o.maxInFlight)}, retry: true}
		}
		defer func() { <-in.slots }()
		var (
			sent     atomic.Bool
			response any
			business error
		)
		err := in.breaker.Execute(ctx, func(ctx context.Context) error {
			sent.Store(true)
			actx, cancel := context.WithTimeout(ctx, c.o.attemptTimeout)
			defer cancel()
			r, err := next(actx, request)
			switch {
			case err == nil:
				response = r
				return nil
			case ctx.Err() != nil:
				return ctx.Err() // the caller gave up: no verdict
			case actx.Err() != nil:
				err = &attemptTimeoutError{addr: in.addr, after: c.o.attemptTimeout, err: err}
			case !isFailure(err):
				business = err // an answer: a success for the breaker
				return nil
			}
			in.lastErr.Store(&err)
			return err
		})
		switch {
		case err != nil:
			if !sent.Load() {
				err = &notSentError{addr: in.addr, err: err}
			}
			return nil, &attemptError{err: err, sent: sent.Load(), retry: c.retryable(request, err, sent.Load())}
		case !sent.Load():
			return nil, &attemptError{err: fmt.Errorf("%s: the breaker returned without calling", in.addr), sent: true}
		case business != nil:
			return nil, &attemptError{err: business, sent: true}
		}
		return response, nil
	}
}

// retryable says whether an attempt that failed with err may be made again.
func (c *client) retryable(request any, err error, sent bool) bool {
	switch {
	case !sent:
		return true // refused by the breaker or the limit: never sent
	case err == context.Canceled || err == context.DeadlineExceeded:
		return false // the caller gave up
	case neverReached(err):
		return true
	}
	return c.o.idempotent(request)
}

// retryCallback is the lb.Callback of the client's retries. Attempts that
// were never sent (an open breaker, a full instance) count against the
// limit only past one per instance, so a call finds the working instance
// among open ones.
func (c *client) retryCallback(n int, err error) (bool, error) {
	var ae *attemptError
	if !errors.As(err, &ae) {
		return false, nil // no instance at all (lb.ErrNoEndpoints)
	}
	limit := c.o.attempts
	if !ae.sent {
		eps, _ := c.endpointer.Endpoints()
		limit += len(eps)
	}
	return ae.retry && n < limit, nil
}

// finalError turns what the retries ended with into the call's error.
func (c *client) finalError(err error) error {
	if err == context.DeadlineExceeded { // ClientTimeout, not the caller's
		return c.unavailable(fmt.Sprintf("the %s service did not answer within %v; try again later", c.service, c.o.timeout), err)
	}
	var re lb.RetryError
	if !errors.As(err, &re) {
		return c.unavailable("", err)
	}
	causes := make([]error, 0, len(re.RawErrors))
	sentAny := false
	for _, raw := range re.RawErrors {
		var ae *attemptError
		if errors.As(raw, &ae) {
			raw = ae.err
		}
		var ns *notSentError
		if !errors.As(raw, &ns) {
			sentAny = true
		}
		causes = append(causes, raw)
	}
	last := causes[len(causes)-1]
	switch {
	case errors.Is(last, lb.ErrNoEndpoints):
		return c.unavailable(fmt.Sprintf("no instance of the %s service is known; try again later", c.service), causes...)
	case shop.KindOf(last) != nil:
		return last // the dependency's answer: a business error or its own 503
	case !sentAny:
		return c.unavailable(fmt.Sprintf("the %s service is unavailable (its instances failed repeatedly and are left alone for a while); try again later", c.service), causes...)
	}
	return c.unavailable("", causes...)
}

// unavailable is the 503 "<service>_unavailable" of the client, with
// message (a default one when empty), unwrapping to causes.
func (c *client) unavailable(message string, causes ...error) error {
	if message == "" {
		message = fmt.Sprintf("the %s service is unavailable; try again later", c.service)
	}
	return &unavailableError{
		detail: &shop.Error{Kind: shop.ErrUnavailable, Code: c.service + "_unavailable", Message: message},
		causes: causes,
	}
}

// unavailableError is a 503 of the client: a *shop.Error (errors.Is
// shop.ErrUnavailable, shop.CodeOf gives "<service>_unavailable") that also
// unwraps to the attempts' errors, for logs and errors.Is.
type unavailableError struct {
	detail *shop.Error
	causes []error
}

func (e *unavailableError) Error() string { return e.detail.Error() }

func (e *unavailableError) Unwrap() []error { return append([]error{e.detail}, e.causes...) }

// attemptError is the error of one attempt, with whether it was sent and
// whether it may be retried.
type attemptError struct {
	err   error
	sent  bool
	retry bool
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// notSentError is a call the breaker refused: it never left the client.
type notSentError struct {
	addr string
	err  error
}

func (e *notSentError) Error() string { return e.addr + ": not sent: " + e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// attemptTimeoutError is an attempt that ran out of time.
type attemptTimeoutError struct {
	addr  string
	after time.Duration
	err   error
}

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("%s: no answer within %v: %v", e.addr, e.after, e.err)
}
func (e *attemptTimeoutError) Unwrap() error { return e.err }

// isFailure says whether err, returned by an endpoint, is the dependency's
// failure: an error without a kind (transport trouble, a 5xx) or 503, and
// not a business answer (400, 401, 402, 403, 404, 409, 429).
func isFailure(err error) bool {
	if err == nil {
		return false
	}
	k := shop.KindOf(err)
	return k == nil || k == shop.ErrUnavailable
}

// neverReached says whether err proves the request never reached a server:
// no connection could be made (refused, unreachable, no such host).
func neverReached(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// breakerGauge returns the gauge of breaker states on reg, registering it
// unless a client did already.
func breakerGauge(reg prometheus.Registerer) (*prometheus.GaugeVec, error) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "kitshop", Subsystem: "client", Name: "breaker_state",
		Help: "State of each client's circuit breaker per instance: 0 closed, 1 half-open, 2 open.",
	}, []string{"client", "instance"})
	if err := reg.Register(g); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.GaugeVec); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("register kitshop_client_breaker_state: %w", err)
	}
	return g, nil
}

// closerFunc is an io.Closer.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// Instances makes the sd.Factory of a client whose methods share one chain
// per instance (one breaker and one concurrency limit for all of them):
// endpoints makes an instance's set of endpoints (a domain's
// MakeClientEndpoints on that URL), and call sends a request to the one of
// the set that takes it.
func Instances[E any](endpoints func(instance string) (E, error), call func(ctx context.Context, e E, request any) (any, error)) sd.Factory {
	return func(instance string) (endpoint.Endpoint, io.Closer, error) {
		e, err := endpoints(instance)
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context, request any) (any, error) { return call(ctx, e, request) }, nil, nil
	}
}
