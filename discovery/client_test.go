package discovery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/internal/testkit"
	shophttp "github.com/kitshop/shop/transport/http"
)

// backend is a real HTTP dependency whose behaviour a test switches:
// "ok" answers 200 {"instance": name}, "500" a bare 500, "404" a business
// error, "hang" never answers (until the request is abandoned).
type backend struct {
	name string
	srv  *httptest.Server
	hits atomic.Int64
	mode atomic.Value
}

func newBackend(t testing.TB, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	b.mode.Store("ok")
	release := make(chan struct{})
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		mode := b.mode.Load().(string)
		if r.URL.Path == "/fail" {
			mode = "500"
		}
		switch mode {
		case "ok":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(pong{Instance: name})
		case "404":
			shophttp.EncodeError(r.Context(), shop.E(shop.ErrNotFound, "thing_not_found", "no such thing"), w)
		case "500":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	t.Cleanup(func() {
		close(release)
		b.srv.Close()
	})
	return b
}

func (b *backend) set(mode string) { b.mode.Store(mode) }
func (b *backend) url() string     { return b.srv.URL }

// deadAddress is the URL of a port where nothing listens: 127.0.0.1:1, outside the
// range ports are handed out from, so no server of a test running at the
// same time can take it (a port freed by a listener of our own could be).
func deadAddress(t *testing.T) string {
	t.Helper()
	if c, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second); err == nil {
		c.Close()
		t.Fatal("something listens on 127.0.0.1:1; these tests need nothing there")
	}
	return "http://127.0.0.1:1"
}

// pong is the backend's answer; business errors travel inside it, as in
// every domain's client endpoints.
type pong struct {
	Instance string `json:"instance"`
	Err      error  `json:"-"`
}

func (p pong) Failed() error { return p.Err }

// read is an idempotent request, write one that is not.
type (
	read  struct{}
	write struct{}
)

func idempotent(request any) bool { _, ok := request.(read); return ok }

// factory makes the client endpoint of one instance, for path.
func factory(path string) sd.Factory {
	return func(instance string) (endpoint.Endpoint, io.Closer, error) {
		u, err := url.Parse(instance + path)
		if err != nil {
			return nil, nil, err
		}
		return kithttp.NewClient(http.MethodPost, u, shophttp.EncodeJSONRequest,
			shophttp.DecodeResponse(func(err error) pong { return pong{Err: err} })).Endpoint(), nil, nil
	}
}

// breakerKinds are the two Breakers, each opening after failures failures
// and trying again after sleep.
var breakerKinds = []struct {
	name string
	make func(failures int, sleep time.Duration) discovery.BreakerFactory
}{
	{"hystrix", func(n int, sleep time.Duration) discovery.BreakerFactory {
		return discovery.HystrixBreakers(discovery.HystrixSettings{RequestVolumeThreshold: n, ErrorPercentThreshold: 50, SleepWindow: sleep})
	}},
	{"gobreaker", func(n int, sleep time.Duration) discovery.BreakerFactory {
		return discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: n, OpenTimeout: sleep})
	}},
}

// fixture is one client under test.
type fixture struct {
	ep      endpoint.Endpoint
	reg     *prometheus.Registry
	logs    *testkit.SyncBuffer
	service string
}

func newClient(t *testing.T, service string, instances []string, f sd.Factory, opts ...discovery.ClientOption) *fixture {
	t.Helper()
	fx := &fixture{reg: prometheus.NewRegistry(), logs: &testkit.SyncBuffer{}, service: service}
	opts = append([]discovery.ClientOption{
		discovery.ClientMetrics(fx.reg),
		discovery.ClientLogger(log.NewLogfmtLogger(fx.logs)),
		discovery.RetryIdempotent(idempotent),
	}, opts...)
	// A copy: go-kit's endpointer sorts the slice it is sent.
	ep, closer, err := discovery.NewEndpoint(service, sd.FixedInstancer(slices.Clone(instances)), f, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	fx.ep = ep
	return fx
}

func (fx *fixture) call(ctx context.Context, request any) (pong, error) {
	resp, err := fx.ep(ctx, request)
	if err != nil {
		return pong{}, err
	}
	p := resp.(pong)
	return p, p.Err
}

// state returns the breaker gauge of instance, and whether it has a series.
func (fx *fixture) state(t *testing.T, instance string) (discovery.BreakerState, bool) {
	t.Helper()
	return gaugeState(t, fx.reg, fx.service, instance)
}

func gaugeState(t *testing.T, reg *prometheus.Registry, service, instance string) (discovery.BreakerState, bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "kitshop_client_breaker_state" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["client"] == service && labels["instance"] == instance {
				return discovery.BreakerState(m.GetGauge().GetValue()), true
			}
		}
	}
	return 0, false
}

// callUntilOpen calls with request until instance's breaker is open, at
// most limit calls, and returns how many calls it took.
func (fx *fixture) callUntilOpen(t *testing.T, request any, instance string, limit int) int {
	t.Helper()
	for n := 1; n <= limit; n++ {
		fx.call(context.Background(), request)
		// hystrix-go counts outcomes on a goroutine of its own: a call sent
		// before it counted the last one sees the old counts, and on a busy
		// machine a burst of calls would run ahead of the counting.
		time.Sleep(5 * time.Millisecond)
		if s, _ := fx.state(t, instance); s == discovery.BreakerOpen {
			return n
		}
	}
	t.Fatalf("breaker of %s not open after %d calls; logs:\n%s", instance, limit, fx.logs)
	return 0
}

func wantUnavailable(t *testing.T, err error, service string) {
	t.Helper()
	if !errors.Is(err, shop.ErrUnavailable) || shop.CodeOf(err) != service+"_unavailable" {
		t.Fatalf("error = %v (kind %v, code %s); want 503 %s_unavailable", err, shop.KindOf(err), shop.CodeOf(err), service)
	}
	if strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("error message %q shows an address", err)
	}
	if d := shop.DetailOf(err); d.Code != service+"_unavailable" || d.Kind != "unavailable" {
		t.Errorf("on the wire: %+v", d)
	}
}

// Two instances behind a static list are both used, in turn.
func TestClientRoundRobin(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	fx := newClient(t, "dep", []string{a.url(), b.url()}, factory("/ping"))
	seen := map[string]int{}
	for range 10 {
		p, err := fx.call(context.Background(), read{})
		if err != nil {
			t.Fatal(err)
		}
		seen[p.Instance]++
	}
	if seen["a"] != 5 || seen["b"] != 5 || a.hits.Load() != 5 || b.hits.Load() != 5 {
		t.Fatalf("answers by instance %v, hits a=%d b=%d; want 5 each", seen, a.hits.Load(), b.hits.Load())
	}
}

// errorFactory makes client endpoints that return business errors as the
// endpoint's error, not inside the response.
func errorFactory(instance string) (endpoint.Endpoint, io.Closer, error) {
	u, err := url.Parse(instance + "/ping")
	if err != nil {
		return nil, nil, err
	}
	return kithttp.NewClient(http.MethodPost, u, shophttp.EncodeJSONRequest, shophttp.DecodeJSONResponse[pong]()).Endpoint(), nil, nil
}

// A burst of business errors is an answer: never retried, never counted,
// the breaker stays closed; whether the endpoint returns them inside its
// response (as the domains' do) or as its error.
func TestClientBusinessErrorsLeaveBreakerClosed(t *testing.T) {
	for _, kind := range breakerKinds {
		for name, f := range map[string]sd.Factory{"in the response": factory("/ping"), "as the error": errorFactory} {
			t.Run(kind.name+"/"+name, func(t *testing.T) {
				testBusinessErrors(t, kind.make(3, time.Minute), f)
			})
		}
	}
}

func testBusinessErrors(t *testing.T, breakers discovery.BreakerFactory, f sd.Factory) {
	b := newBackend(t, "a")
	b.set("404")
	fx := newClient(t, "dep", []string{b.url()}, f, discovery.ClientBreakers(breakers))
	for range 60 {
		_, err := fx.call(context.Background(), read{})
		if !errors.Is(err, shop.ErrNotFound) || shop.CodeOf(err) != "thing_not_found" {
			t.Fatalf("error = %v; want the dependency's 404 thing_not_found", err)
		}
	}
	if n := b.hits.Load(); n != 60 {
		t.Fatalf("60 calls answered 404 reached the dependency %d times; want 60 (no retries)", n)
	}
	time.Sleep(50 * time.Millisecond) // hystrix counts on a goroutine of its own
	b.set("ok")
	if _, err := fx.call(context.Background(), read{}); err != nil {
		t.Fatalf("after the 404s: %v", err)
	}
	if s, ok := fx.state(t, b.url()); !ok || s != discovery.BreakerClosed {
		t.Fatalf("breaker state %v (series %v); want closed", s, ok)
	}
	if strings.Contains(fx.logs.String(), "circuit breaker") {
		t.Fatalf("breaker changed state:\n%s", fx.logs)
	}
}

// A dependency answering 500 opens the breaker after a few failures; the
// open breaker then answers 503 at once without calling the dependency.
func TestClientServerErrorsOpenBreaker(t *testing.T) {
	for _, kind := range breakerKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := newBackend(t, "a")
			b.set("500")
			fx := newClient(t, "dep", []string{b.url()}, factory("/ping"), discovery.ClientBreakers(kind.make(4, time.Minute)))
			// Not idempotent: one attempt per call, so calls count failures.
			n := fx.callUntilOpen(t, write{}, b.url(), 20)
			if hits := b.hits.Load(); hits < 4 || hits > 6 {
				t.Fatalf("breaker opened after %d calls reaching the dependency; want 4 (a couple more for hystrix's asynchronous counting)", hits)
			}
			before := b.hits.Load()
			for range 20 {
				_, err := fx.call(context.Background(), read{})
				wantUnavailable(t, err, "dep")
			}
			if after := b.hits.Load(); after != before {
				t.Fatalf("an open breaker let %d calls through", after-before)
			}
			logs := fx.logs.String()
			if !strings.Contains(logs, "level=warn") || !strings.Contains(logs, `to=open`) || !strings.Contains(logs, "client=dep") || !strings.Contains(logs, "last_error=") {
				t.Fatalf("no warning of the opening in the logs:\n%s", logs)
			}
			t.Logf("%s: open after %d calls, %d reaching the dependency", kind.name, n, before)
		})
	}
}

// A dependency that hangs: the attempt timeout answers, the breaker opens
// after N timeouts, and from then on calls fail at once.
func TestClientHangingDependency(t *testing.T) {
	for _, kind := range breakerKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := newBackend(t, "a")
			b.set("hang")
			fx := newClient(t, "dep", []string{b.url()}, factory("/ping"),
				discovery.ClientBreakers(kind.make(2, time.Minute)),
				discovery.ClientTimeout(time.Second), discovery.ClientAttemptTimeout(150*time.Millisecond))
			start := time.Now()
			_, err := fx.call(context.Background(), write{})
			took := time.Since(start)
			wantUnavailable(t, err, "dep")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not unwrap to the attempt's deadline", err)
			}
			if took < 150*time.Millisecond || took > 900*time.Millisecond {
				t.Fatalf("a hanging call took %v; want the attempt timeout, 150ms, not the overall 1s", took)
			}
			fx.callUntilOpen(t, write{}, b.url(), 10)
			before := b.hits.Load()
			start = time.Now()
			_, err = fx.call(context.Background(), read{})
			wantUnavailable(t, err, "dep")
			if took := time.Since(start); took > 100*time.Millisecond {
				t.Fatalf("the open breaker took %v to answer; want at once, not the 150ms timeout", took)
			}
			if b.hits.Load() != before {
				t.Fatal("the open breaker called the dependency")
			}
		})
	}
}

// An idempotent call retries a hanging instance on the next one; within
// ClientTimeout.
func TestClientIdempotentCallRetriedPastHangingInstance(t *testing.T) {
	hang, ok := newBackend(t, "hang"), newBackend(t, "ok")
	hang.set("hang")
	fx := newClient(t, "dep", []string{hang.url(), ok.url()}, factory("/ping"),
		discovery.ClientTimeout(2*time.Second), discovery.ClientAttemptTimeout(100*time.Millisecond))
	for range 4 {
		p, err := fx.call(context.Background(), read{})
		if err != nil || p.Instance != "ok" {
			t.Fatalf("read = %+v, %v; want the answer of the working instance", p, err)
		}
	}
	if hang.hits.Load() == 0 {
		t.Fatal("the hanging instance was never tried")
	}
}

// A write is retried only when it never reached a server: a closed port is
// tried again elsewhere, a 500 is not.
func TestClientNotIdempotentRetriedOnlyWhenNeverSent(t *testing.T) {
	live := newBackend(t, "live")
	dead := deadAddress(t)
	fx := newClient(t, "dep", []string{dead, live.url()}, factory("/ping"))
	for range 6 {
		p, err := fx.call(context.Background(), write{})
		if err != nil || p.Instance != "live" {
			t.Fatalf("write with one instance down = %+v, %v; want the live instance's answer", p, err)
		}
	}
	if n := live.hits.Load(); n != 6 {
		t.Fatalf("the live instance got %d writes; want 6, each once", n)
	}

	// Only the dead instance: retried, then 503.
	fx = newClient(t, "dep", []string{dead}, factory("/ping"))
	_, err := fx.call(context.Background(), write{})
	wantUnavailable(t, err, "dep")
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("error %v does not unwrap to the dial error", err)
	}

	// A 500 reached the server: the write is not sent again.
	failing, other := newBackend(t, "failing"), newBackend(t, "other")
	failing.set("500")
	fx = newClient(t, "dep", []string{failing.url(), other.url()}, factory("/ping"))
	var failed int
	for range 4 {
		if _, err := fx.call(context.Background(), write{}); err != nil {
			wantUnavailable(t, err, "dep")
			failed++
		}
	}
	if failed != 2 || failing.hits.Load() != 2 || other.hits.Load() != 2 {
		t.Fatalf("4 writes: %d failed, failing instance hit %d times, other %d; want 2, 2, 2 (no retry after a 500)", failed, failing.hits.Load(), other.hits.Load())
	}
	// A read is retried after the 500.
	for range 4 {
		if _, err := fx.call(context.Background(), read{}); err != nil {
			t.Fatalf("idempotent read with one instance answering 500: %v", err)
		}
	}
}

// A dependency that recovers: the breaker half-opens after the sleep
// window and closes on the trial call's success.
func TestClientBreakerRecovers(t *testing.T) {
	for _, kind := range breakerKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := newBackend(t, "a")
			b.set("500")
			fx := newClient(t, "dep", []string{b.url()}, factory("/ping"), discovery.ClientBreakers(kind.make(3, 200*time.Millisecond)))
			fx.callUntilOpen(t, write{}, b.url(), 20)

			// Still failing after the window: the trial call fails, the
			// breaker opens again.
			time.Sleep(250 * time.Millisecond)
			before := b.hits.Load()
			_, err := fx.call(context.Background(), write{})
			wantUnavailable(t, err, "dep")
			if b.hits.Load() != before+1 {
				t.Fatalf("after the sleep window %d calls reached the dependency; want the one trial", b.hits.Load()-before)
			}
			if s, _ := fx.state(t, b.url()); s != discovery.BreakerOpen {
				t.Fatalf("after a failed trial the breaker is %v; want open", s)
			}

			b.set("ok")
			if _, err := fx.call(context.Background(), read{}); err == nil {
				t.Fatal("the breaker let a call through before its window ended")
			}
			time.Sleep(250 * time.Millisecond)
			var recovered bool
			for range 10 { // hystrix lets the trial through on the first call after the window
				if p, err := fx.call(context.Background(), read{}); err == nil && p.Instance == "a" {
					recovered = true
					break
				}
			}
			if !recovered {
				t.Fatalf("no call succeeded after the dependency recovered; logs:\n%s", fx.logs)
			}
			for range 20 {
				if _, err := fx.call(context.Background(), read{}); err != nil {
					t.Fatalf("after recovery: %v", err)
				}
			}
			if s, _ := fx.state(t, b.url()); s != discovery.BreakerClosed {
				t.Fatalf("after recovery the breaker is %v; want closed", s)
			}
			logs := fx.logs.String()
			for _, want := range []string{"from=closed to=open", "to=half-open", "from=half-open to=closed"} {
				if !strings.Contains(logs, want) {
					t.Errorf("logs lack %q:\n%s", want, logs)
				}
			}
		})
	}
}

// The caller's context shortens the client's timeout.
func TestClientCallerContextShortensTimeout(t *testing.T) {
	b := newBackend(t, "a")
	b.set("hang")
	fx := newClient(t, "dep", []string{b.url()}, factory("/ping"), discovery.ClientTimeout(5*time.Second), discovery.ClientAttemptTimeout(2*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := fx.call(ctx, read{})
	if err != context.DeadlineExceeded {
		t.Fatalf("error = %v; want the caller's context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("took %v; the caller allowed 100ms", took)
	}
	// Giving up is no verdict on the dependency.
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		fx.call(ctx, read{})
		cancel()
	}
	b.set("ok")
	if _, err := fx.call(context.Background(), read{}); err != nil {
		t.Fatalf("after callers gave up: %v; the breaker must not count them", err)
	}
}

// No instance known: 503 at once.
func TestClientNoInstances(t *testing.T) {
	fx := newClient(t, "dep", nil, factory("/ping"))
	_, err := fx.call(context.Background(), read{})
	wantUnavailable(t, err, "dep")
	if !strings.Contains(err.Error(), "no instance") {
		t.Fatalf("error %q does not say no instance is known", err)
	}
}

// The concurrency limit: calls over it are not sent.
func TestClientMaxInFlight(t *testing.T) {
	b := newBackend(t, "a")
	b.set("hang")
	fx := newClient(t, "dep", []string{b.url()}, factory("/ping"), discovery.ClientMaxInFlight(2),
		discovery.ClientTimeout(2*time.Second), discovery.ClientAttemptTimeout(time.Second))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { fx.call(context.Background(), write{}) })
	}
	for deadline := time.Now().Add(time.Second); b.hits.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	_, err := fx.call(context.Background(), write{})
	wantUnavailable(t, err, "dep")
	if n := b.hits.Load(); n != 2 {
		t.Fatalf("%d calls reached the dependency; want the 2 in flight", n)
	}
	wg.Wait()
}

// A fallback answers in the place of an unavailable dependency, per client
// or per call; never in the place of a business error.
func TestClientFallback(t *testing.T) {
	b := newBackend(t, "a")
	b.set("500")
	var got error
	fx := newClient(t, "dep", []string{b.url()}, factory("/ping"), discovery.Fallback(func(_ context.Context, request any, err error) (any, error) {
		got = err
		return pong{Instance: fmt.Sprintf("fallback for %T", request)}, nil
	}))
	p, err := fx.call(context.Background(), read{})
	if err != nil || p.Instance != "fallback for discovery_test.read" {
		t.Fatalf("with the client's fallback: %+v, %v", p, err)
	}
	wantUnavailable(t, got, "dep")

	ctx := discovery.FallbackContext(context.Background(), func(context.Context, any, error) (any, error) {
		return pong{Instance: "this call's fallback"}, nil
	})
	if p, err := fx.call(ctx, read{}); err != nil || p.Instance != "this call's fallback" {
		t.Fatalf("with a fallback for the call: %+v, %v", p, err)
	}

	b.set("404")
	if _, err := fx.call(context.Background(), read{}); !errors.Is(err, shop.ErrNotFound) {
		t.Fatalf("a business error went to the fallback: %v", err)
	}
}

// Options with unusable values panic, naming the option; an attempt timeout
// as long as the whole call's is an error.
func TestClientOptionsPanicOnUnusableValues(t *testing.T) {
	for want, opt := range map[string]func(){
		"ClientTimeout":         func() { discovery.ClientTimeout(0) },
		"ClientAttemptTimeout":  func() { discovery.ClientAttemptTimeout(-time.Second) },
		"ClientMaxInFlight":     func() { discovery.ClientMaxInFlight(0) },
		"RetryAttempts":         func() { discovery.RetryAttempts(0) },
		"ClientBreakers":        func() { discovery.ClientBreakers(nil) },
		"ClientLogger":          func() { discovery.ClientLogger(nil) },
		"ClientMetrics":         func() { discovery.ClientMetrics(nil) },
		"Fallback(":             func() { discovery.Fallback(nil) },
		"RetryIdempotent":       func() { discovery.RetryIdempotent(nil) },
		"ConsecutiveFailures":   func() { discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: -1}) },
		"ErrorPercentThreshold": func() { discovery.HystrixBreakers(discovery.HystrixSettings{ErrorPercentThreshold: 101}) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), want) {
					t.Errorf("%s: panic %v; want one naming it", want, r)
				}
			}()
			opt()
		}()
	}
	_, _, err := discovery.NewEndpoint("dep", sd.FixedInstancer{}, factory("/ping"), discovery.ClientAttemptTimeout(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "shorter than ClientTimeout") || !strings.Contains(err.Error(), "dep client") {
		t.Fatalf("attempt timeout over the call's: %v", err)
	}
}

// Close stops following the instancer and removes the gauge series.
func TestClientClose(t *testing.T) {
	b := newBackend(t, "a")
	in := newMovingInstancer(b.url())
	reg := prometheus.NewRegistry()
	ep, closer, err := discovery.NewEndpoint("dep", in, factory("/ping"), discovery.ClientMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ep(context.Background(), read{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := gaugeState(t, reg, "dep", b.url()); !ok {
		t.Fatal("no gauge series for the instance")
	}
	if in.registered() != 1 {
		t.Fatalf("%d endpointers registered; want 1", in.registered())
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	if in.registered() != 0 {
		t.Fatal("Close left the endpointer registered")
	}
	if _, ok := gaugeState(t, reg, "dep", b.url()); ok {
		t.Fatal("Close left the gauge series")
	}
}

// movingInstancer is an sd.Instancer whose instances a test changes.
type movingInstancer struct {
	mu        sync.Mutex
	instances []string
	chans     map[chan<- sd.Event]bool
}

func newMovingInstancer(instances ...string) *movingInstancer {
	return &movingInstancer{instances: instances, chans: map[chan<- sd.Event]bool{}}
}

func (m *movingInstancer) Register(ch chan<- sd.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chans[ch] = true
	ch <- sd.Event{Instances: append([]string(nil), m.instances...)}
}

func (m *movingInstancer) Deregister(ch chan<- sd.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.chans, ch)
}

func (m *movingInstancer) Stop() {}

func (m *movingInstancer) set(instances ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.instances = instances
	for ch := range m.chans {
		ch <- sd.Event{Instances: append([]string(nil), instances...)}
	}
}

func (m *movingInstancer) registered() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.chans)
}

// A call made right after NewEndpoint finds the instances the instancer
// knew, however slowly their endpoints are made (sd.NewEndpointer takes
// them in on a goroutine of its own).
func TestClientFirstCallFindsInstances(t *testing.T) {
	b := newBackend(t, "a")
	slow := func(instance string) (endpoint.Endpoint, io.Closer, error) {
		time.Sleep(50 * time.Millisecond)
		return factory("/ping")(instance)
	}
	fx := newClient(t, "dep", []string{b.url()}, slow)
	if _, err := fx.call(context.Background(), read{}); err != nil {
		t.Fatalf("first call: %v", err)
	}
}

// Open breakers do not use up a call's attempts: a call goes round them to
// the one working instance, even with no retries of its own.
func TestClientSkipsOpenBreakers(t *testing.T) {
	var urls []string
	var failing []*backend
	for _, name := range []string{"f1", "f2", "f3"} {
		b := newBackend(t, name)
		b.set("500")
		failing = append(failing, b)
		urls = append(urls, b.url())
	}
	ok := newBackend(t, "ok")
	urls = append(urls, ok.url())
	fx := newClient(t, "dep", urls, factory("/ping"), discovery.RetryAttempts(1),
		discovery.ClientBreakers(discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: 1, OpenTimeout: time.Minute})))
	for range 8 { // round robin meets each failing instance, which opens
		fx.call(context.Background(), write{})
	}
	for _, b := range failing {
		if s, _ := fx.state(t, b.url()); s != discovery.BreakerOpen {
			t.Fatalf("breaker of %s is %v; want open", b.name, s)
		}
	}
	for range 8 {
		if p, err := fx.call(context.Background(), write{}); err != nil || p.Instance != "ok" {
			t.Fatalf("with three breakers open: %+v, %v; want the working instance", p, err)
		}
	}
}
