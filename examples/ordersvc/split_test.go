package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/examples/internal/binarytest"

	"github.com/kitshop/shop/internal/testkit"
)

// binaries builds the four service binaries.
func binaries(t *testing.T) map[string]string {
	t.Helper()
	bins := map[string]string{}
	for _, name := range []string{"usersvc", "catalogsvc", "inventorysvc", "ordersvc"} {
		bins[name] = binarytest.Build(t, "../"+name)
	}
	return bins
}

// service is one running binary.
type service struct {
	t    *testing.T
	name string
	addr string
	cmd  *exec.Cmd
	logs *testkit.SyncBuffer
	bin  string
	args []string
}

func start(t *testing.T, bin, name, addr string, args ...string) *service {
	t.Helper()
	s := &service{t: t, name: name, addr: addr, bin: bin, args: append([]string{"-addr", addr}, args...)}
	s.run()
	t.Cleanup(func() { s.stop(syscall.SIGKILL) })
	return s
}

func (s *service) run() {
	s.t.Helper()
	s.logs = &testkit.SyncBuffer{}
	s.cmd = exec.Command(s.bin, s.args...)
	s.cmd.Env = binarytest.CleanEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s did not become ready: %v\n%s", s.name, err, s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *service) stop(sig os.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(sig)
	s.cmd.Wait()
	s.cmd = nil
}

// call sends a JSON request and decodes the JSON answer.
func call(t *testing.T, method, url, token, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	status, _, m := binarytest.DoJSON(t, method, url, token, body, headers...)
	return status, m
}

func code(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func expect(t *testing.T, status int, method, url, token, body string, headers ...string) map[string]any {
	t.Helper()
	got, m := call(t, method, url, token, body, headers...)
	if got != status {
		t.Fatalf("%s %s = %d %v, want %d", method, url, got, m, status)
	}
	return m
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// splitShop is the four services started as separate processes.
type splitShop struct {
	users, catalog, inventory, orders *service
	// gateway, when set, is the public door every public route goes
	// through.
	gateway *service
	dataDir string
}

// url is where the public route path of svc is asked: through the gateway
// when there is one, else at the service itself.
func (s splitShop) url(svc *service, path string) string {
	if s.gateway != nil {
		return "http://" + s.gateway.addr + path
	}
	return s.direct(svc, path)
}

// direct is path at svc itself, for the routes no gateway lets through.
func (s splitShop) direct(svc *service, path string) string { return "http://" + svc.addr + path }

// startSplit starts the four binaries on free ports with a shared data dir;
// discovery is whatever extra adds (static lists when it is nil).
func startSplit(t *testing.T, bins map[string]string, extra func(name string, addrs map[string]string) []string) splitShop {
	t.Helper()
	data := t.TempDir()
	addrs := map[string]string{}
	for _, n := range []string{"users", "catalog", "inventory", "orders"} {
		addrs[n] = binarytest.FreeAddr(t)
	}
	common := func(name string) []string {
		args := []string{"-data-dir", data, "-quiet"}
		return append(args, extra(name, addrs)...)
	}
	s := splitShop{dataDir: data}
	s.users = start(t, bins["usersvc"], "usersvc", addrs["users"], append(common("users"),
		"-admin-email", "admin@example.com", "-admin-password", "admin-password-1", "-bcrypt-cost", "4")...)
	s.catalog = start(t, bins["catalogsvc"], "catalogsvc", addrs["catalog"], common("catalog")...)
	s.inventory = start(t, bins["inventorysvc"], "inventorysvc", addrs["inventory"], common("inventory")...)
	s.orders = start(t, bins["ordersvc"], "ordersvc", addrs["orders"], common("orders")...)
	return s
}

func staticPeers(name string, addrs map[string]string) []string {
	var args []string
	if name != "users" {
		args = append(args, "-users-url", addrs["users"])
	}
	if name == "inventory" || name == "orders" {
		args = append(args, "-catalog-url", addrs["catalog"])
	}
	if name == "orders" {
		args = append(args, "-inventory-url", addrs["inventory"])
	}
	return args
}

// story runs the shop's story against the four services, then stops the
// inventory: orders answer 503 inventory_unavailable at once and store
// nothing, while paying and cancelling orders placed before still answer at
// once; their events wait in the order service's outbox. Started again, the
// inventory catches up: every paid unit is sold and every cancelled one
// back in stock, exactly once, and orders succeed again without restarting
// the order service. disrupt, if not nil, is called while the inventory is
// down and again after it is back (to cut the broker's connections, say).
func story(t *testing.T, s splitShop, disrupt func()) {
	expect(t, 201, "POST", s.url(s.users, "/register"), "", `{"email":"ada@example.com","password":"correct horse","name":"Ada"}`)
	customer := expect(t, 200, "POST", s.url(s.users, "/login"), "", `{"email":"ada@example.com","password":"correct horse"}`)["token"].(string)
	admin := expect(t, 200, "POST", s.url(s.users, "/login"), "", `{"email":"admin@example.com","password":"admin-password-1"}`)["token"].(string)

	p := expect(t, 201, "POST", s.url(s.catalog, "/products"), admin,
		`{"sku":"PEN-1","name":"Gopher Pen","description":"Blue.","price":299,"currency":"USD","category":"stationery"}`)["id"].(string)
	expect(t, 403, "POST", s.url(s.catalog, "/products"), customer, `{"sku":"PEN-2","name":"x","price":1,"currency":"USD"}`)
	expect(t, 200, "POST", s.url(s.inventory, "/inventory/"+p), admin, `{"quantity":30}`)
	expect(t, 404, "POST", s.url(s.inventory, "/inventory/nope"), admin, `{"quantity":5}`) // checked against the catalog
	// A customer's token never opens the internal routes.
	expect(t, 403, "POST", s.direct(s.inventory, "/internal/reservations/x/commit"), customer, "")
	// Nor can it push events: 403 over HTTP; with a broker the route does not exist.
	if status, _ := call(t, "POST", s.direct(s.inventory, "/internal/events"), customer, "{}"); status != 403 && status != 404 {
		t.Fatalf("a customer pushing an event = %d, want 403 (or 404 with a broker)", status)
	}

	order := expect(t, 201, "POST", s.url(s.orders, "/orders"), customer, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":2}]}`, p))
	if order["total"] != float64(598) {
		t.Fatalf("order priced from the catalog service = %v", order)
	}
	id := order["id"].(string)
	stock := func() (onHand, reserved float64) {
		m := expect(t, 200, "GET", s.url(s.inventory, "/inventory/"+p), "", "")
		return m["on_hand"].(float64), m["reserved"].(float64)
	}
	if _, r := stock(); r != 2 {
		t.Fatalf("reserved after the order = %v, want 2", r)
	}
	expect(t, 200, "POST", s.url(s.orders, "/orders/"+id+"/pay"), customer, `{"card_number":"4242424242424242"}`)
	eventually(t, "the paid units are sold in the inventory service", func() bool {
		onHand, reserved := stock()
		return onHand == 28 && reserved == 0
	})

	// A burst of orders, each holding one unit.
	var burst []string
	for range 10 {
		o := expect(t, 201, "POST", s.url(s.orders, "/orders"), customer, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":1}]}`, p))
		burst = append(burst, o["id"].(string))
	}
	if _, r := stock(); r != 10 {
		t.Fatalf("reserved after the burst = %v, want 10", r)
	}

	// The inventory stops: orders fail fast with 503, and store nothing.
	s.inventory.stop(syscall.SIGTERM)
	if disrupt != nil {
		disrupt()
	}
	before := len(expect(t, 200, "GET", s.url(s.orders, "/orders"), customer, "")["items"].([]any))
	begin := time.Now()
	status, m := call(t, "POST", s.url(s.orders, "/orders"), customer, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":1}]}`, p))
	if status != 503 || code(m) != "inventory_unavailable" {
		t.Fatalf("order without inventory = %d %v, want 503 inventory_unavailable", status, m)
	}
	if took := time.Since(begin); took > time.Second {
		t.Fatalf("the 503 took %s, want under a second", took)
	}
	if after := len(expect(t, 200, "GET", s.url(s.orders, "/orders"), customer, "")["items"].([]any)); after != before {
		t.Fatalf("%d orders after the failed one, want %d", after, before)
	}
	// Paying and cancelling do not need the inventory: half the burst is
	// paid, half cancelled, each answered at once.
	for i, o := range burst {
		begin := time.Now()
		if i%2 == 0 {
			expect(t, 200, "POST", s.url(s.orders, "/orders/"+o+"/pay"), customer, `{"card_number":"4242424242424242"}`)
		} else {
			expect(t, 200, "POST", s.url(s.orders, "/orders/"+o+"/cancel"), customer, "")
		}
		if took := time.Since(begin); took > 2*time.Second {
			t.Fatalf("paying or cancelling without the inventory took %s", took)
		}
	}

	// Back again: the events arrive, each applied once, and orders succeed
	// without restarting the order service.
	s.inventory.run()
	if disrupt != nil {
		disrupt()
	}
	eventually(t, "the inventory has caught up with the paid and cancelled orders", func() bool {
		onHand, reserved := stock()
		return onHand == 23 && reserved == 0
	})
	time.Sleep(500 * time.Millisecond) // a doubled event would show by now
	if onHand, reserved := stock(); onHand != 23 || reserved != 0 {
		t.Fatalf("stock = %v on hand, %v reserved after catching up, want 23 and 0: an event was applied twice", onHand, reserved)
	}
	dead := expect(t, 200, "GET", s.direct(s.inventory, "/admin/dead-letters"), admin, "")
	if items := dead["items"].([]any); len(items) != 0 {
		t.Fatalf("dead letters after the story = %v, want none", items)
	}
	expect(t, 403, "GET", s.direct(s.inventory, "/admin/dead-letters"), customer, "")
	if s.gateway != nil { // what is behind the door stays there
		for _, p := range []string{"/admin/dead-letters", "/internal/events", "/internal/reservations/x/commit"} {
			if status, m := call(t, "POST", s.url(s.inventory, p), admin, "{}"); status != 404 || code(m) != "route_not_found" {
				t.Fatalf("POST %s through the gateway = %d %v, want 404 route_not_found", p, status, m)
			}
		}
	}
	eventually(t, "orders succeed again", func() bool {
		status, _ := call(t, "POST", s.url(s.orders, "/orders"), customer, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":1}]}`, p))
		return status == 201
	})
}

// The four binaries behind the gateway binary: the whole story through
// the public door only, and while the inventory is down the gateway's
// /readyz names it.
func TestSplitShopThroughGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the four service binaries and the gateway")
	}
	s := startSplit(t, binaries(t), staticPeers)
	gw := binarytest.Build(t, "../gateway")
	up := func(svc *service) string { return "http://" + svc.addr }
	s.gateway = start(t, gw, "gateway", binarytest.FreeAddr(t), "-data-dir", s.dataDir, "-quiet",
		"-user-url", up(s.users), "-catalog-url", up(s.catalog), "-inventory-url", up(s.inventory), "-order-url", up(s.orders),
		"-ip-rate", "10000", "-ip-burst", "10000", "-user-rate", "10000", "-user-burst", "10000", "-auth-rate", "10000", "-auth-burst", "10000")
	story(t, s, func() {
		if s.inventory.cmd != nil {
			return // it is back: nothing to see
		}
		eventually(t, "the gateway's /readyz names the missing inventory", func() bool {
			status, m := call(t, "GET", s.url(nil, "/readyz"), "", "")
			return status == 503 && fmt.Sprint(m["failing"]) == "[inventory]"
		})
	})
}

func TestSplitShopStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the four service binaries")
	}
	s := startSplit(t, binaries(t), staticPeers)
	story(t, s, nil)
}

// consulAddr is the Consul agent of SHOP_TEST_CONSUL_ADDR (default
// 127.0.0.1:8500). Outside CI a missing agent skips the test; with CI=true
// it fails it.
func consulAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("SHOP_TEST_CONSUL_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8500"
	}
	resp, err := http.Get("http://" + addr + "/v1/status/leader")
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != 200 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Consul at %s is unreachable (CI=true, so this fails): %v", addr, err)
		}
		t.Skipf("Consul at %s is unreachable; run `$(scripts/consul.sh) agent -dev` or set SHOP_TEST_CONSUL_ADDR: %v", addr, err)
	}
	return addr
}

// registered returns the IDs of the passing instances of service in Consul.
func registered(t *testing.T, consul, service string) []string {
	t.Helper()
	resp, err := http.Get("http://" + consul + "/v1/health/service/" + service + "?passing")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var entries []struct {
		Service struct{ ID, Address string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Service.ID)
	}
	return ids
}

// The four binaries found through a real Consul agent: each is in Consul's
// catalog while it runs and gone after SIGTERM, and the story holds,
// including the inventory going away and coming back.
func TestSplitShopConsul(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the four service binaries")
	}
	consul := consulAddr(t)
	// A tag of the test's own keeps other shops on the agent (the split
	// shop of examples/shop's tests, say) out of its instances.
	tag := "test-" + strings.ToLower(shop.NewID())
	s := startSplit(t, binaries(t), func(string, map[string]string) []string { return []string{"-consul", consul, "-consul-tag", tag} })
	for svc, p := range map[string]*service{"user": s.users, "catalog": s.catalog, "inventory": s.inventory, "order": s.orders} {
		eventually(t, svc+" is registered and passing", func() bool {
			for _, id := range registered(t, consul, svc) {
				if strings.Contains(id, strings.ReplaceAll(p.addr, ":", "-")) {
					return true
				}
			}
			return false
		})
	}
	story(t, s, nil)
	for svc, p := range map[string]*service{"user": s.users, "catalog": s.catalog, "inventory": s.inventory, "order": s.orders} {
		p.stop(syscall.SIGTERM)
		for _, id := range registered(t, consul, svc) {
			if strings.Contains(id, strings.ReplaceAll(p.addr, ":", "-")) {
				t.Fatalf("%s instance %s still registered after SIGTERM", svc, id)
			}
		}
	}
}

// Start-up mistakes of the service binaries exit 1 with one line naming
// the setting.
func TestServiceBinariesRefuseBadSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service binaries")
	}
	bins := binaries(t)
	for _, tc := range []struct {
		bin, want string
		args      []string
	}{
		{"ordersvc", "catalog-url (SHOP_CATALOG_URL)", []string{"-catalog-url", "ftp://x"}},
		{"ordersvc", "inventory-url (SHOP_INVENTORY_URL)", []string{"-inventory-url", "a:1,,b:2"}},
		{"ordersvc", "order-ttl", []string{"-order-ttl", "1ms"}},
		{"inventorysvc", "catalog-url (SHOP_CATALOG_URL)", []string{"-catalog-url", ""}},
		{"catalogsvc", "consul (SHOP_CONSUL_ADDR)", []string{"-consul", "http://x/y"}},
		{"catalogsvc", "users-url (SHOP_USERS_URL)", []string{"-users-url", "mailto:x"}},
	} {
		cmd := exec.Command(bins[tc.bin], append([]string{"-data-dir", t.TempDir(), "-addr", binarytest.FreeAddr(t)}, tc.args...)...)
		cmd.Env = binarytest.CleanEnv()
		out, err := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
			t.Errorf("%s %v: %v\n%s\nwant exit 1 and one line naming %s", tc.bin, tc.args, err, out, tc.want)
		}
	}
}

// The four binaries with RabbitMQ between them: the story holds while the
// broker closes every connection, once while the inventory is down and
// once after it is back; nothing is lost and nothing applied twice.
func TestSplitShopAMQP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the four service binaries")
	}
	url, closeConnections := binarytest.AMQPVhost(t)
	s := startSplit(t, binaries(t), func(name string, addrs map[string]string) []string {
		return append(staticPeers(name, addrs), "-amqp", url)
	})
	story(t, s, closeConnections)
}
