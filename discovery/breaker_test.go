package discovery_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/afex/hystrix-go/hystrix"
	"github.com/go-kit/kit/sd"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop/discovery"
)

// hystrixCommands returns the names of the hystrix commands (hystrix-go's
// global table) of clients of service calling instance.
func hystrixCommands(service, instance string) map[string]*hystrix.Settings {
	out := map[string]*hystrix.Settings{}
	for name, s := range hystrix.GetCircuitSettings() {
		if strings.HasPrefix(name, service+"#") && strings.HasSuffix(name, "/"+instance) {
			out[name] = s
		}
	}
	return out
}

// Two clients of one service in one process, on the same instance, never
// share a hystrix circuit or its settings: one opening leaves the other
// closed, and each command has the settings its client gave.
func TestHystrixClientsNeverShareCircuitOrSettings(t *testing.T) {
	b := newBackend(t, "a")
	failing := newClient(t, "twin", []string{b.url()}, factory("/fail"),
		discovery.ClientBreakers(discovery.HystrixBreakers(discovery.HystrixSettings{RequestVolumeThreshold: 3, SleepWindow: 200 * time.Millisecond})))
	healthy := newClient(t, "twin", []string{b.url()}, factory("/ping"),
		discovery.ClientBreakers(discovery.HystrixBreakers(discovery.HystrixSettings{RequestVolumeThreshold: 7, SleepWindow: 9 * time.Second})),
		discovery.ClientAttemptTimeout(700*time.Millisecond))

	failing.callUntilOpen(t, write{}, b.url(), 20)
	before := b.hits.Load()
	for range 20 {
		if p, err := healthy.call(context.Background(), read{}); err != nil || p.Instance != "a" {
			t.Fatalf("the healthy client's call: %+v, %v", p, err)
		}
	}
	if b.hits.Load() != before+20 {
		t.Fatalf("the healthy client reached the dependency %d times; want 20", b.hits.Load()-before)
	}
	if s, _ := healthy.state(t, b.url()); s != discovery.BreakerClosed {
		t.Fatalf("the healthy client's breaker is %v; want closed", s)
	}
	if s, _ := failing.state(t, b.url()); s != discovery.BreakerOpen {
		t.Fatalf("the failing client's breaker is %v; want open", s)
	}

	cmds := hystrixCommands("twin", b.url())
	if len(cmds) != 2 {
		t.Fatalf("hystrix commands for the two clients: %v; want two", cmds)
	}
	var sleeps []time.Duration
	for name, s := range cmds {
		sleeps = append(sleeps, s.SleepWindow)
		switch s.SleepWindow {
		case 200 * time.Millisecond:
			if s.RequestVolumeThreshold != 3 || s.Timeout != 1100*time.Millisecond {
				t.Errorf("command %s: %+v; want the failing client's settings", name, s)
			}
		case 9 * time.Second:
			if s.RequestVolumeThreshold != 7 || s.Timeout != 800*time.Millisecond {
				t.Errorf("command %s: %+v; want the healthy client's settings", name, s)
			}
		default:
			t.Errorf("command %s: %+v; neither client's settings", name, s)
		}
	}
	if sleeps[0] == sleeps[1] {
		t.Fatalf("both commands have one sleep window: %v", sleeps)
	}
}

// hystrix-go starts goroutines per command that never stop: a client makes
// one command per instance, whatever the number of calls, and an instance
// that leaves and comes back keeps its command. The goroutine count stays
// flat across many calls.
func TestHystrixCommandsOncePerClientAndInstance(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	in := newMovingInstancer(a.url(), b.url())
	ep, closer, err := discovery.NewEndpoint("once", in, factory("/ping"), discovery.ClientMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	call := func(n int) {
		for range n {
			if _, err := ep(context.Background(), read{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	call(20)
	settle := func() int {
		// hystrix-go's per-call goroutines end just after the call returns.
		n := runtime.NumGoroutine()
		for range 100 {
			time.Sleep(10 * time.Millisecond)
			m := runtime.NumGoroutine()
			if m >= n {
				return m
			}
			n = m
		}
		return n
	}
	start := settle()
	call(1000)
	in.set(a.url()) // b leaves
	call(10)
	in.set(a.url(), b.url()) // and comes back
	call(1000)
	end := settle()
	t.Logf("goroutines: %d after warm-up, %d after 2010 more calls", start, end)
	if end > start+4 {
		t.Fatalf("goroutines grew from %d to %d across 2010 calls", start, end)
	}
	for _, u := range []string{a.url(), b.url()} {
		if cmds := hystrixCommands("once", u); len(cmds) != 1 {
			t.Fatalf("hystrix commands for %s: %d; want 1", u, len(cmds))
		}
	}
}

// The gobreaker Breaker on its own: it opens after the failures in a row,
// refuses without calling, half-opens after its timeout, and a caller that
// gives up counts for nothing.
func TestGoBreakerStates(t *testing.T) {
	var changes []string
	f := discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: 2, OpenTimeout: 50 * time.Millisecond})
	b, err := f(discovery.BreakerConfig{Client: "dep", Instance: "x", Name: "dep/x", OnStateChange: func(from, to discovery.BreakerState) {
		changes = append(changes, from.String()+">"+to.String())
	}})
	if err != nil {
		t.Fatal(err)
	}
	fail := func(context.Context) error { return context.Canceled }
	for range 5 { // the caller gave up: no verdict
		b.Execute(context.Background(), fail)
	}
	if b.State() != discovery.BreakerClosed {
		t.Fatalf("state %v after callers gave up; want closed", b.State())
	}
	boom := func(context.Context) error { return errBoom }
	b.Execute(context.Background(), boom)
	b.Execute(context.Background(), boom)
	calls := 0
	if err := b.Execute(context.Background(), func(context.Context) error { calls++; return nil }); err == nil || calls != 0 {
		t.Fatalf("open breaker: err %v, %d calls", err, calls)
	}
	time.Sleep(60 * time.Millisecond)
	if b.State() != discovery.BreakerHalfOpen {
		t.Fatalf("state %v after the timeout; want half-open", b.State())
	}
	if err := b.Execute(context.Background(), func(context.Context) error { calls++; return nil }); err != nil || calls != 1 {
		t.Fatalf("trial call: err %v, %d calls", err, calls)
	}
	if got := strings.Join(changes, " "); got != "closed>open open>half-open half-open>closed" {
		t.Fatalf("changes %q", got)
	}
}

var errBoom = &boomError{}

type boomError struct{}

func (*boomError) Error() string { return "boom" }

var _ sd.Instancer = (*movingInstancer)(nil)
