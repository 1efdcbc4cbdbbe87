package discovery_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/hashicorp/consul/api"

	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/discovery/consultest"
)

// These tests run against a real Consul agent: the shared one of
// SHOP_TEST_CONSUL_ADDR, or (for the outage) one of the test's own. Each
// uses a service name of its own, so they can share an agent with anything.

// uniqueService returns a service name no other test uses.
func uniqueService(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "disctest-" + hex.EncodeToString(b)
}

// instance is an httptest server standing for a service instance, whose
// /healthz answers 200 while healthy is true and 500 after.
type instance struct {
	srv     *httptest.Server
	healthy atomic.Bool
	checks  atomic.Int64
}

func newInstance(t *testing.T) *instance {
	t.Helper()
	in := &instance{}
	in.healthy.Store(true)
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		in.checks.Add(1)
		if !in.healthy.Load() {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok\n")
	}))
	t.Cleanup(in.srv.Close)
	return in
}

// URL returns the instance's base URL, as the instancers report it.
func (in *instance) URL() string { return in.srv.URL }

// registration returns the Registration of service at the instance, with a
// one-second check.
func (in *instance) registration(t *testing.T, service string, tags ...string) discovery.Registration {
	t.Helper()
	r, err := discovery.RegistrationFor(service, in.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r.Tags = tags
	r.CheckInterval = time.Second
	return r
}

// register registers the instance as service and deregisters it when the
// test ends.
func (in *instance) register(t *testing.T, client *api.Client, service string, tags ...string) *discovery.Registrar {
	t.Helper()
	reg, err := discovery.NewRegistrar(client, in.registration(t, service, tags...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := reg.Register(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Deregister(context.Background()) })
	return reg
}

func sharedClient(t *testing.T) *api.Client {
	t.Helper()
	client, err := discovery.NewConsulClient(consultest.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func TestConsulRegisterDiscoverDeregister(t *testing.T) {
	client := sharedClient(t)
	service := uniqueService(t)
	tagged := discovery.NewConsulInstancer(client, service, discovery.ConsulTag("v1"))
	defer tagged.Stop()
	all := discovery.NewConsulInstancer(client, service)
	defer all.Stop()
	taggedEvents, allEvents := watchEvents(t, tagged), watchEvents(t, all)
	taggedEvents.waitFor(t, "without instances", time.Second, instancesAre())

	a, b := newInstance(t), newInstance(t)
	regA := a.register(t, client, service, "v1")
	start := time.Now()
	b.register(t, client, service)
	taggedEvents.waitFor(t, "with the v1 instance", 10*time.Second, instancesAre(a.URL()))
	allEvents.waitFor(t, "with both instances", 10*time.Second, instancesAre(a.URL(), b.URL()))
	t.Logf("both instances discovered %v after registering", time.Since(start).Round(time.Millisecond))
	if got := tagged.State(); !instancesAre(a.URL())(got) {
		t.Errorf("State() = %+v; want the v1 instance", got)
	}

	// The agent holds the registration as asked.
	svc, _, err := client.Agent().Service(regA.ID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Service != service || svc.Port != a.srv.Listener.Addr().(*net.TCPAddr).Port || len(svc.Tags) != 1 || svc.Tags[0] != "v1" {
		t.Errorf("agent has %+v", svc)
	}
	checks, err := client.Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range checks {
		if c.ServiceID == regA.ID() {
			found = true
			if c.Type != "http" || c.Status != api.HealthPassing || c.Name != "GET "+a.URL()+"/healthz" {
				t.Errorf("check %+v; want a passing http check of %s/healthz", c, a.URL())
			}
		}
	}
	if !found {
		t.Errorf("no check of %s among the agent's", regA.ID())
	}

	// Deregistering (as a binary does on shutdown) removes the instance.
	ctx := context.Background()
	start = time.Now()
	if err := regA.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	taggedEvents.waitFor(t, "without instances after deregistering", 10*time.Second, instancesAre())
	allEvents.waitFor(t, "with the other instance", 10*time.Second, instancesAre(b.URL()))
	t.Logf("deregistration seen %v after it", time.Since(start).Round(time.Millisecond))
	if err := regA.Deregister(ctx); err != nil {
		t.Errorf("deregistering again: %v", err)
	}
	if _, _, err := client.Agent().Service(regA.ID(), nil); err == nil {
		t.Errorf("the agent still has %s", regA.ID())
	}
}

// An instance whose /healthz fails stops being discovered, and comes back
// when it passes again.
func TestConsulInstanceFailingItsCheckDisappears(t *testing.T) {
	client := sharedClient(t)
	service := uniqueService(t)
	inst := discovery.NewConsulInstancer(client, service)
	defer inst.Stop()
	events := watchEvents(t, inst)

	sick, well := newInstance(t), newInstance(t)
	sick.register(t, client, service)
	well.register(t, client, service)
	events.waitFor(t, "with both instances", 10*time.Second, instancesAre(sick.URL(), well.URL()))

	sick.healthy.Store(false)
	start := time.Now()
	events.waitFor(t, "without the failing instance", 20*time.Second, instancesAre(well.URL()))
	t.Logf("failing instance gone %v after its /healthz started answering 500", time.Since(start).Round(time.Millisecond))
	if sick.checks.Load() == 0 {
		t.Error("Consul never called the instance's /healthz")
	}

	sick.healthy.Store(true)
	events.waitFor(t, "with the instance back", 20*time.Second, instancesAre(sick.URL(), well.URL()))
}

// Consul killed while a client watches: the watcher retries with backoff,
// the instances and the endpoints built on them stay; Consul started again
// (same ports, same data directory, a catalog that starts over with lower
// indexes): changes are followed again.
func TestConsulOutageKeepsInstancesAndRecovers(t *testing.T) {
	agent := consultest.StartAgent(t)
	plain, err := discovery.NewConsulClient(agent.Addr())
	if err != nil {
		t.Fatal(err)
	}
	service := uniqueService(t)
	a := newInstance(t)
	a.register(t, plain, service)

	counted, rt := countingClient(t, agent.Addr())
	inst := discovery.NewConsulInstancer(counted, service, discovery.ConsulLogger(log.NewNopLogger()))
	defer inst.Stop()
	events := watchEvents(t, inst)
	events.waitFor(t, "with the instance", 10*time.Second, instancesAre(a.URL()))

	// What a client of the service builds on the instancer.
	factory := func(instance string) (endpoint.Endpoint, io.Closer, error) {
		return func(context.Context, any) (any, error) { return instance, nil }, nil, nil
	}
	endpointer := sd.NewEndpointer(inst, factory, log.NewNopLogger())
	defer endpointer.Close()
	if eps, err := waitEndpoints(endpointer, 1); len(eps) != 1 || err != nil {
		t.Fatalf("Endpoints() = %d, %v before the outage; want 1", len(eps), err)
	}
	// One that asked to drop its endpoints a while after an error: the
	// error event is what lets it.
	strict := sd.NewEndpointer(inst, factory, log.NewNopLogger(), sd.InvalidateOnError(time.Second))
	defer strict.Close()
	if eps, err := waitEndpoints(strict, 1); len(eps) != 1 || err != nil {
		t.Fatalf("Endpoints() = %d, %v before the outage; want 1", len(eps), err)
	}

	agent.Kill()
	killed := time.Now()
	before := rt.n.Load()
	ev := events.waitFor(t, "with an error", 5*time.Second, func(ev sd.Event) bool { return ev.Err != nil })
	if len(ev.Instances) != 1 || ev.Instances[0] != a.URL() {
		t.Errorf("error event %+v; want it to keep the instance %s", ev, a.URL())
	}
	time.Sleep(3*time.Second - time.Since(killed))
	attempts := rt.n.Load() - before
	t.Logf("%d attempts in the 3s after Consul was killed", attempts)
	if attempts < 2 || attempts > 8 {
		t.Errorf("%d attempts in the 3s after Consul was killed; want 2 to 8 (backoff, not a spin)", attempts)
	}
	if st := inst.State(); st.Err == nil || len(st.Instances) != 1 {
		t.Errorf("State() during the outage = %+v; want the error and the last instance", st)
	}
	if eps, err := endpointer.Endpoints(); len(eps) != 1 || err != nil {
		t.Errorf("Endpoints() during the outage = %d, %v; want the 1 endpoint kept", len(eps), err)
	}
	if eps, err := strict.Endpoints(); len(eps) != 0 || err == nil {
		t.Errorf("Endpoints() with InvalidateOnError(1s), 3s into the outage = %d, %v; want none and the error", len(eps), err)
	}

	agent.Start()
	restarted := time.Now()
	// The registration survived in the data directory; the watcher finds
	// Consul again and sends the instances without error.
	events.waitFor(t, "without error after the restart", 30*time.Second, instancesAre(a.URL()))
	t.Logf("watcher recovered %v after the agent had a leader again", time.Since(restarted).Round(time.Millisecond))

	// Changes are followed again, though the new catalog's index is lower
	// than the one the watcher last saw.
	b := newInstance(t)
	b.register(t, plain, service)
	start := time.Now()
	events.waitFor(t, "with the new instance after the restart", 20*time.Second, instancesAre(a.URL(), b.URL()))
	t.Logf("new instance seen %v after registering", time.Since(start).Round(time.Millisecond))
	for _, e := range []*sd.DefaultEndpointer{endpointer, strict} {
		if eps, err := waitEndpoints(e, 2); len(eps) != 2 || err != nil {
			t.Errorf("Endpoints() after the restart = %d, %v; want 2", len(eps), err)
		}
	}
}

// A registration that cannot work is refused before Consul is asked.
func TestRegistrationChecks(t *testing.T) {
	client, _ := countingClient(t, closedPort(t))
	if _, err := discovery.RegistrationFor("catalog", "0.0.0.0:5002"); err == nil {
		t.Error("RegistrationFor accepted a wildcard address")
	}
	if _, err := discovery.RegistrationFor("catalog", ":5002"); err == nil {
		t.Error("RegistrationFor accepted an empty host")
	}
	r, err := discovery.RegistrationFor("catalog", "[fd00::7]:5002")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := discovery.NewRegistrar(client, r)
	if err != nil {
		t.Fatal(err)
	}
	if reg.ID() != "catalog-fd00--7-5002" || reg.CheckURL() != "http://[fd00::7]:5002/healthz" {
		t.Errorf("ID %q, check %q", reg.ID(), reg.CheckURL())
	}
	for name, change := range map[string]func(*discovery.Registration){
		"interval under 1s":           func(r *discovery.Registration) { r.CheckInterval = 500 * time.Millisecond },
		"reaping under 1m":            func(r *discovery.Registration) { r.DeregisterCriticalAfter = 30 * time.Second },
		"ID with a slash":             func(r *discovery.Registration) { r.ID = "a/b" },
		"port 0":                      func(r *discovery.Registration) { r.Port = 0 },
		"no service":                  func(r *discovery.Registration) { r.Service = "" },
		"check path without a slash":  func(r *discovery.Registration) { r.CheckPath = "healthz" },
		"negative check timeout":      func(r *discovery.Registration) { r.CheckTimeout = -time.Second },
		"port " + strconv.Itoa(1<<16): func(r *discovery.Registration) { r.Port = 1 << 16 },
	} {
		bad := r
		change(&bad)
		if _, err := discovery.NewRegistrar(client, bad); err == nil {
			t.Errorf("NewRegistrar accepted a registration with %s", name)
		}
	}
}
