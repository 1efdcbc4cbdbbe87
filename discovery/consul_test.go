package discovery_test

import (
	"bytes"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/hashicorp/consul/api"

	"github.com/kitshop/shop/discovery"
)

// Tests here need no Consul: they point the instancer at addresses where
// none answers. The tests against a real agent are in consulagent_test.go.

// countingTransport counts the requests it carries: the instancer's
// attempts to reach Consul.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// countingClient returns a Consul client of addr whose requests are counted.
func countingClient(t *testing.T, addr string) (*api.Client, *countingTransport) {
	t.Helper()
	rt := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	client, err := api.NewClient(&api.Config{Address: addr, HttpClient: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	return client, rt
}

// closedPort returns an address of 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// countingListener accepts TCP connections, counts them, and then closes
// them at once, or (with hold set) keeps them open without answering.
type countingListener struct {
	l    net.Listener
	n    atomic.Int64
	hold atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func listenCounting(t *testing.T) *countingListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &countingListener{l: l}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.n.Add(1)
			if !c.hold.Load() {
				conn.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, conn := range c.conns {
			conn.Close()
		}
	})
	return c
}

// watchers counts the goroutines running a ConsulInstancer's watch loop.
func watchers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte("discovery.(*ConsulInstancer).loop"))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitWatchers waits up to five seconds for the number of watch loops to be
// n, and returns the last count.
func waitWatchers(n int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := watchers()
		if got == n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A watcher pointed at an address where connections are accepted and
// dropped at once asks again with backoff, not in a loop: a handful of
// attempts in three seconds. go-kit's instancer once made thousands.
func TestConsulInstancerBacksOffFromDeadAgent(t *testing.T) {
	t.Parallel()
	dead := listenCounting(t)
	client, err := discovery.NewConsulClient(dead.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	inst := discovery.NewConsulInstancer(client, "catalog")
	defer inst.Stop()
	if st := inst.State(); st.Err == nil || len(st.Instances) != 0 {
		t.Errorf("State() = %+v; want the error and no instances", st)
	}
	time.Sleep(3 * time.Second)
	n := dead.n.Load()
	t.Logf("%d connections in 3s from a watcher of a dead agent", n)
	// Backoff 100ms doubling, each wait at least half of it: attempts start
	// no sooner than 0, 50, 150, 350, 750, 1550 and 3150 ms.
	if n < 2 || n > 8 {
		t.Errorf("%d connections in 3s; want 2 to 8 (retries with backoff)", n)
	}
}

// The same against a closed port (connection refused at once), counting
// the requests the Consul client makes.
func TestConsulInstancerBacksOffFromClosedPort(t *testing.T) {
	t.Parallel()
	client, rt := countingClient(t, closedPort(t))
	inst := discovery.NewConsulInstancer(client, "catalog", discovery.ConsulTag("v1"))
	defer inst.Stop()
	time.Sleep(3 * time.Second)
	n := rt.n.Load()
	t.Logf("%d requests in 3s to a closed port", n)
	if n < 2 || n > 8 {
		t.Errorf("%d requests in 3s; want 2 to 8 (retries with backoff)", n)
	}
	// The backoff stops growing at its maximum.
	client2, rt2 := countingClient(t, closedPort(t))
	inst2 := discovery.NewConsulInstancer(client2, "catalog", discovery.ConsulBackoff(10*time.Millisecond, 200*time.Millisecond))
	defer inst2.Stop()
	time.Sleep(3 * time.Second)
	n2 := rt2.n.Load()
	t.Logf("%d requests in 3s with backoff capped at 200ms", n2)
	// Waits of 100 to 200 ms once capped: 15 to 30 in 3s, plus the first few.
	if n2 < 8 || n2 > 40 {
		t.Errorf("%d requests in 3s with backoff 10ms to 200ms; want 8 to 40", n2)
	}
}

// Stop ends the watch loop at once, in a backoff pause and in a query that
// Consul never answers.
func TestConsulInstancerStopEndsGoroutine(t *testing.T) {
	before := watchers()

	client, _ := countingClient(t, closedPort(t))
	inst := discovery.NewConsulInstancer(client, "catalog", discovery.ConsulBackoff(time.Minute, time.Minute))
	if got := waitWatchers(before + 1); got != before+1 {
		t.Fatalf("%d watch loops running; want %d", got, before+1)
	}
	start := time.Now()
	inst.Stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Stop in a one-minute backoff took %v", d)
	}
	if got := watchers(); got != before {
		t.Errorf("%d watch loops after Stop; want %d", got, before)
	}
	inst.Stop() // a second Stop does nothing

	// A query that hangs: the agent accepts the connection and never
	// answers. The first query fails fast (the connection is dropped); the
	// retry hangs.
	hung := listenCounting(t)
	client, err := discovery.NewConsulClient("http://" + hung.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	inst = discovery.NewConsulInstancer(client, "catalog", discovery.ConsulBackoff(10*time.Millisecond, 10*time.Millisecond))
	hung.hold.Store(true)
	// Hanging: the count of connections stops growing.
	n := hung.n.Load()
	for deadline := time.Now().Add(5 * time.Second); ; {
		time.Sleep(200 * time.Millisecond)
		m := hung.n.Load()
		if m == n && m >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watcher never hung in a query: %d connections", m)
		}
		n = m
	}
	start = time.Now()
	inst.Stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Stop in a hanging query took %v", d)
	}
	if got := watchers(); got != before {
		t.Errorf("%d watch loops after Stop; want %d", got, before)
	}
	if got := hung.n.Load(); got != n {
		t.Errorf("%d connections after Stop; want %d (no attempt after Stop)", got, n)
	}
}

// No event reaches a channel once Deregister returns, even while the
// watcher keeps failing, and events stop after Stop.
func TestConsulInstancerRegisterDeregister(t *testing.T) {
	t.Parallel()
	client, _ := countingClient(t, closedPort(t))
	inst := discovery.NewConsulInstancer(client, "catalog", discovery.ConsulBackoff(time.Millisecond, time.Millisecond))
	defer inst.Stop()
	ch := make(chan sd.Event, 10)
	inst.Register(ch)
	ev := <-ch
	if ev.Err == nil || !strings.Contains(ev.Err.Error(), "catalog") {
		t.Errorf("first event %+v; want an error naming the service", ev)
	}
	inst.Deregister(ch)
	time.Sleep(50 * time.Millisecond)
	if len(ch) != 0 {
		t.Errorf("%d events after Deregister", len(ch))
	}
}

func TestNewConsulClient(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8500":             "127.0.0.1:8500",
		"consul.internal":            "consul.internal:8500",
		"http://10.0.0.1:8500":       "10.0.0.1:8500",
		"https://consul.internal:85": "consul.internal:85",
		"[::1]:8500":                 "[::1]:8500",
	} {
		if _, err := discovery.NewConsulClient(addr); err != nil {
			t.Errorf("NewConsulClient(%q) (%s): %v", addr, want, err)
		}
	}
	for _, addr := range []string{"", "ftp://x:1", "http://x:8500/v1", "http://u:p@x:8500"} {
		if _, err := discovery.NewConsulClient(addr); err == nil {
			t.Errorf("NewConsulClient(%q) accepted a bad address", addr)
		}
	}
}

func TestConsulOptionsPanicOnUnusableValues(t *testing.T) {
	client, _ := countingClient(t, closedPort(t))
	for name, opt := range map[string]discovery.ConsulOption{
		"ConsulBackoff":  discovery.ConsulBackoff(time.Second, time.Millisecond),
		"ConsulTag":      discovery.ConsulTag(" "),
		"ConsulLogger":   discovery.ConsulLogger(nil),
		"ConsulWaitTime": discovery.ConsulWaitTime(time.Hour),
	} {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, name) {
					t.Errorf("%s with an unusable value: panic %v; want one naming it", name, r)
				}
			}()
			discovery.NewConsulInstancer(client, "catalog", opt).Stop()
		}()
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("NewConsulInstancer with an empty service name did not panic")
			}
		}()
		discovery.NewConsulInstancer(client, "").Stop()
	}()
}

// eventLog collects the events an instancer sends to one channel.
type eventLog struct {
	mu     sync.Mutex
	events []sd.Event
}

// watchEvents registers a channel with inst for the rest of the test.
func watchEvents(t *testing.T, inst sd.Instancer) *eventLog {
	t.Helper()
	l := &eventLog{}
	ch := make(chan sd.Event)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.mu.Unlock()
		}
	}()
	inst.Register(ch)
	t.Cleanup(func() {
		inst.Deregister(ch)
		close(ch)
		<-done
	})
	return l
}

// all returns the events so far.
func (l *eventLog) all() []sd.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// waitFor waits up to timeout for the latest event to satisfy ok, and
// fails the test, saying what it waited for, if none does.
func (l *eventLog) waitFor(t *testing.T, what string, timeout time.Duration, ok func(sd.Event) bool) sd.Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		events := l.all()
		if len(events) > 0 && ok(events[len(events)-1]) {
			return events[len(events)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event %s within %v; events: %+v", what, timeout, events)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// instancesAre returns a predicate for an event without error holding
// exactly want.
func instancesAre(want ...string) func(sd.Event) bool {
	slices.Sort(want)
	return func(ev sd.Event) bool {
		return ev.Err == nil && slices.Equal(ev.Instances, want)
	}
}
