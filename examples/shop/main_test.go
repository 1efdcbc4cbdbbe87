package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/api/apitest"
	"github.com/kitshop/shop/discovery/consultest"
	"github.com/kitshop/shop/examples/internal/binarytest"

	"github.com/kitshop/shop/internal/testkit"
)

// TestMain lets the test binary stand in for the shop binary when the split
// topology under test starts its children as "<binary> serve NAME ...".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == serveCommand {
		serveOne(os.Args[2:])
		return
	}
	os.Exit(m.Run())
}

// isolate keeps SHOP_* variables of the environment out of the test.
func isolate(t *testing.T) {
	for _, k := range []string{"ADDR", "DATA_DIR", "ADMIN_EMAIL", "ADMIN_PASSWORD", "SECRET_KEY", "ORDER_TTL",
		"TOKEN_TTL", "BCRYPT_COST", "SAMPLE_DATA", "QUIET", "TOPOLOGY", "CONSUL_ADDR", "AMQP_URL", "AMQP_PREFIX",
		"SERVICE_PORT", "GATEWAY_LIMITS", "DEBUG_ADDR", "CONSUL_TAG", "OTEL", "LOG_FORMAT", "SHUTDOWN_TIMEOUT", "SHUTDOWN_DELAY"} {
		t.Setenv("SHOP_"+k, "")
	}
}

// topologies are the two ways to run the shop, as the flags that pick
// them. The split shop's services take free ports, and its gateway has no
// rate limits: the tests sign in faster than a person would (the limits
// have tests of their own in examples/gateway).
var topologies = []struct {
	name string
	args []string
}{
	{monolith, nil},
	{split, []string{"-topology", split, "-service-port", "0", "-gateway-limits=false"}},
}

// eachTopology runs test against a shop of each topology.
func eachTopology(t *testing.T, test func(t *testing.T, topology string, args []string)) {
	for _, tp := range topologies {
		t.Run(tp.name, func(t *testing.T) { test(t, tp.name, tp.args) })
	}
}

// shopProcess is a running shop, started in process on a free port.
type shopProcess struct {
	t       *testing.T
	base    string
	stop    func()
	logs    *testkit.SyncBuffer
	dataDir string
}

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password-1"
)

func startShop(t *testing.T, dataDir string, extra ...string) *shopProcess {
	t.Helper()
	isolate(t)
	args := append([]string{"-addr", "127.0.0.1:0", "-data-dir", dataDir, "-admin-email", adminEmail,
		"-admin-password", adminPassword, "-bcrypt-cost", "4"}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testkit.SyncBuffer{}
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, logs, func(a net.Addr) { addr <- a.String() }) }()
	p := &shopProcess{t: t, logs: logs, dataDir: dataDir}
	select {
	case a := <-addr:
		p.base = "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("shop did not start: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("shop did not start within 30s")
	}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("shop stopped with %v", err)
			}
		})
	}
	t.Cleanup(p.stop)
	return p
}

// leaks are strings no response may contain: password hashes, stack traces,
// internal file or database details.
var leaks = []string{"$2a$", "$2b$", "password_hash", "goroutine ", ".go:", "sqlite", "SQL", "panic", "secret.key"}

// call sends a request and decodes the JSON answer into a generic map.
func (p *shopProcess) call(method, path, token, body string, headers ...string) (int, map[string]any) {
	p.t.Helper()
	status, raw := p.raw(method, path, token, body, headers...)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			p.t.Fatalf("%s %s: answer %q is not a JSON object", method, path, raw)
		}
	}
	return status, m
}

// contract checks every exchange of these tests against the OpenAPI
// document (api/openapi.yaml).
var contract = func() *apitest.Checker {
	c, err := apitest.New()
	if err != nil {
		panic(err)
	}
	return c
}()

func (p *shopProcess) raw(method, path, token, body string, headers ...string) (int, []byte) {
	p.t.Helper()
	status, h, raw := binarytest.DoWith(p.t, contract.Client(p.t.Errorf), method, p.base+path, token, body, headers...)
	for _, l := range leaks {
		if bytes.Contains(raw, []byte(l)) {
			p.t.Fatalf("%s %s: the answer leaks %q: %s", method, path, l, raw)
		}
	}
	if h.Get("X-Request-ID") == "" {
		p.t.Fatalf("%s %s: no X-Request-ID in the answer", method, path)
	}
	if status >= 400 && !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		p.t.Fatalf("%s %s: error answer with Content-Type %q", method, path, h.Get("Content-Type"))
	}
	return status, raw
}

// expect checks an answer's status and, for errors, its code.
func (p *shopProcess) expect(status int, code string, method, path, token, body string, headers ...string) map[string]any {
	p.t.Helper()
	got, m := p.call(method, path, token, body, headers...)
	if got != status || errorCode(m) != code {
		p.t.Fatalf("%s %s = %d %v, want %d %q", method, path, got, m, status, code)
	}
	return m
}

func errorCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (p *shopProcess) register(email, password, name string) string {
	p.t.Helper()
	u := p.expect(201, "", "POST", "/register", "", fmt.Sprintf(`{"email":%q,"password":%q,"name":%q}`, email, password, name))
	return u["id"].(string)
}

func (p *shopProcess) login(email, password string) string {
	p.t.Helper()
	m := p.expect(200, "", "POST", "/login", "", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	if m["token_type"] != "Bearer" || m["expires_at"] == nil {
		p.t.Fatalf("login answer %v", m)
	}
	return m["token"].(string)
}

// stock reads a product's stock.
func (p *shopProcess) stock(productID string) (onHand, reserved, available float64) {
	p.t.Helper()
	m := p.expect(200, "", "GET", "/inventory/"+productID, "", "")
	return m["on_hand"].(float64), m["reserved"].(float64), m["available"].(float64)
}

// eventually polls cond until it holds or 10 seconds pass.
func (p *shopProcess) eventually(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *shopProcess) products(query string) []map[string]any {
	p.t.Helper()
	m := p.expect(200, "", "GET", "/products"+query, "", "")
	var out []map[string]any
	for _, it := range m["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func TestShopStory(t *testing.T) {
	eachTopology(t, testShopStory)
	// The saga's events through RabbitMQ (a virtual host of the test's
	// own): with -amqp the inventory has no HTTP route for events at all.
	t.Run("split with RabbitMQ", func(t *testing.T) {
		url, _ := binarytest.AMQPVhost(t)
		testShopStory(t, split, append(topologies[1].args, "-amqp", url))
	})
	// Every part registers with a real Consul agent and finds the others
	// there, under a tag of the test's own, so other shops on the agent
	// (other tests) stay out of its way.
	t.Run("split with Consul", func(t *testing.T) {
		tag := "test-" + strings.ToLower(shop.NewID())
		testShopStory(t, split, append(topologies[1].args, "-consul", consultest.Addr(t), "-consul-tag", tag))
	})
}

// testShopStory is the public API's end-to-end story: every route, its
// refusals, and the stock moving through the saga.
func testShopStory(t *testing.T, topology string, args []string) {
	p := startShop(t, t.TempDir(), args...)

	// Health, readiness, metrics.
	p.expect(200, "", "GET", "/healthz", "", "")
	p.expect(200, "", "GET", "/readyz", "", "")

	// Register and log in; the failures change nothing.
	aliceID := p.register("Alice@Example.com ", "alice-password", "Alice")
	p.register("bob@example.com", "bob-password", "Bob")
	p.expect(409, "email_taken", "POST", "/register", "", `{"email":"alice@example.com","password":"another-password","name":"Eve"}`)
	p.expect(400, "bad_json", "POST", "/register", "", `{"email":`)
	p.expect(400, "unknown_field", "POST", "/register", "", `{"email":"c@example.com","password":"password-c","name":"C","role":"admin"}`)
	p.expect(400, "invalid_password", "POST", "/register", "", `{"email":"c@example.com","password":"short","name":"C"}`)
	p.expect(401, "invalid_credentials", "POST", "/login", "", `{"email":"alice@example.com","password":"wrong-password"}`)
	alice := p.login("alice@example.com", "alice-password")
	bob := p.login("bob@example.com", "bob-password")
	admin := p.login(adminEmail, adminPassword)
	me := p.expect(200, "", "GET", "/users/me", alice, "")
	if me["id"] != aliceID || me["email"] != "alice@example.com" || me["role"] != "customer" {
		t.Fatalf("/users/me = %v", me)
	}
	p.expect(403, "forbidden", "GET", "/users", alice, "")
	p.expect(401, "missing_token", "GET", "/users/me", "", "")
	p.expect(401, "invalid_token", "GET", "/users/me", alice+"x", "")
	if users := p.expect(200, "", "GET", "/users?limit=10", admin, ""); len(users["items"].([]any)) != 3 {
		t.Fatalf("admin sees users %v", users)
	}

	// Browse the sample catalogue: paging, filters, search.
	var all []map[string]any
	seen := map[string]bool{}
	cursor := ""
	for range 10 {
		m := p.expect(200, "", "GET", "/products?limit=4&cursor="+cursor, "", "")
		for _, it := range m["items"].([]any) {
			id := it.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("product %s listed twice while paging", id)
			}
			seen[id] = true
			all = append(all, it.(map[string]any))
		}
		c, _ := m["next_cursor"].(string)
		if c == "" {
			break
		}
		cursor = c
	}
	if len(all) != len(sampleProducts) {
		t.Fatalf("paging found %d products, the sample has %d", len(all), len(sampleProducts))
	}
	if got := p.products("?category=apparel"); len(got) != 3 {
		t.Fatalf("category=apparel: %d products", len(got))
	}
	if got := p.products("?q=MUG"); len(got) != 1 || got[0]["sku"] != "MUG-001" {
		t.Fatalf("q=MUG: %v", got)
	}
	p.expect(400, "invalid_limit", "GET", "/products?limit=0x", "", "")
	p.expect(400, "invalid_limit", "GET", "/products?limit=101", "", "")
	p.expect(400, "invalid_cursor", "GET", "/products?cursor=nonsense", "", "")

	// Admin work: products and stock; customers may not.
	product := `{"sku":"PEN-001","name":"Gopher Pen","description":"Blue ink.","price":299,"currency":"USD","category":"stationery"}`
	p.expect(401, "missing_token", "POST", "/products", "", product)
	p.expect(403, "forbidden", "POST", "/products", alice, product)
	p.expect(400, "invalid_price", "POST", "/products", admin, `{"sku":"X-1","name":"X","price":-1,"currency":"USD"}`)
	p.expect(400, "invalid_currency", "POST", "/products", admin, `{"sku":"X-1","name":"X","price":1,"currency":"XYZ"}`)
	pen := p.expect(201, "", "POST", "/products", admin, product)["id"].(string)
	p.expect(409, "sku_taken", "POST", "/products", admin, product)
	p.expect(404, "stock_not_found", "GET", "/inventory/"+pen, "", "")
	p.expect(403, "forbidden", "POST", "/inventory/"+pen, alice, `{"quantity":5}`)
	p.expect(400, "invalid_quantity", "POST", "/inventory/"+pen, admin, `{"quantity":0}`)
	p.expect(404, "product_not_found", "POST", "/inventory/nope", admin, `{"quantity":5}`)
	p.expect(200, "", "POST", "/inventory/"+pen, admin, `{"quantity":5}`)
	if patched := p.expect(200, "", "PATCH", "/products/"+pen, admin, `{"price":349}`); patched["price"] != float64(349) || patched["name"] != "Gopher Pen" {
		t.Fatalf("PATCH = %v", patched)
	}

	// Order, pay, and watch the stock.
	order := fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":2}]}`, pen)
	p.expect(401, "missing_token", "POST", "/orders", "", order)
	p.expect(403, "forbidden", "POST", "/orders", admin, order)
	p.expect(400, "unknown_product", "POST", "/orders", alice, `{"items":[{"product_id":"nope","quantity":1}]}`)
	p.expect(400, "invalid_quantity", "POST", "/orders", alice, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":0}]}`, pen))
	p.expect(409, "insufficient_stock", "POST", "/orders", alice, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":6}]}`, pen))
	placed := p.expect(201, "", "POST", "/orders", alice, order, "Idempotency-Key", "story-1")
	orderID := placed["id"].(string)
	if placed["status"] != "pending" || placed["total"] != float64(698) || placed["currency"] != "USD" || placed["user_id"] != aliceID {
		t.Fatalf("placed order = %v", placed)
	}
	if again := p.expect(201, "", "POST", "/orders", alice, order, "Idempotency-Key", "story-1"); again["id"] != orderID {
		t.Fatalf("a retried POST made order %v, want %s", again["id"], orderID)
	}
	if onHand, reserved, available := p.stock(pen); onHand != 5 || reserved != 2 || available != 3 {
		t.Fatalf("stock after the order = %v/%v/%v", onHand, reserved, available)
	}
	p.expect(404, "order_not_found", "GET", "/orders/"+orderID, bob, "")
	p.expect(404, "order_not_found", "POST", "/orders/"+orderID+"/pay", bob, `{"card_number":"4242424242424242"}`)
	p.expect(404, "order_not_found", "POST", "/orders/"+orderID+"/cancel", bob, "")
	p.expect(400, "invalid_card", "POST", "/orders/"+orderID+"/pay", alice, `{"card_number":"4242424242424241"}`)
	p.expect(402, "card_declined", "POST", "/orders/"+orderID+"/pay", alice, `{"card_number":"4000 0000 0000 0002"}`)
	paid := p.expect(200, "", "POST", "/orders/"+orderID+"/pay", alice, `{"card_number":"4242 4242 4242 4242"}`)
	// created, paying, pending again (declined), paying, paid
	if paid["status"] != "paid" || len(paid["history"].([]any)) != 5 {
		t.Fatalf("paid order = %v", paid)
	}
	p.expect(409, "invalid_transition", "POST", "/orders/"+orderID+"/pay", alice, `{"card_number":"4242 4242 4242 4242"}`)
	p.expect(409, "invalid_transition", "POST", "/orders/"+orderID+"/cancel", alice, "")
	p.eventually("the paid order's units are sold", func() bool {
		onHand, reserved, _ := p.stock(pen)
		return onHand == 3 && reserved == 0
	})
	p.expect(409, "insufficient_stock", "DELETE", "/inventory/"+pen, admin, `{"quantity":4}`)

	// A refund (admin only, once) puts the units back on hand.
	p.expect(403, "forbidden", "POST", "/orders/"+orderID+"/refund", alice, "")
	if r := p.expect(200, "", "POST", "/orders/"+orderID+"/refund", admin, ""); r["status"] != "refunded" || r["refund_id"] == nil {
		t.Fatalf("refunded order = %v", r)
	}
	p.expect(409, "invalid_transition", "POST", "/orders/"+orderID+"/refund", admin, "")
	p.eventually("the refunded order's units are back on hand", func() bool {
		onHand, reserved, _ := p.stock(pen)
		return onHand == 5 && reserved == 0
	})
	p.expect(200, "", "DELETE", "/inventory/"+pen, admin, `{"quantity":2}`)

	// Cancel gives the stock back.
	second := p.expect(201, "", "POST", "/orders", alice, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":3}]}`, pen))["id"].(string)
	p.expect(409, "insufficient_stock", "POST", "/orders", bob, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":1}]}`, pen))
	if c := p.expect(200, "", "POST", "/orders/"+second+"/cancel", alice, ""); c["status"] != "cancelled" {
		t.Fatalf("cancel = %v", c)
	}
	p.eventually("the cancelled order's units are available again", func() bool {
		_, reserved, available := p.stock(pen)
		return reserved == 0 && available == 3
	})

	// Lists: a customer sees their own orders, the admin all of them.
	if mine := p.expect(200, "", "GET", "/orders", alice, ""); len(mine["items"].([]any)) != 2 {
		t.Fatalf("alice's orders: %v", mine)
	}
	if theirs := p.expect(200, "", "GET", "/orders", bob, ""); len(theirs["items"].([]any)) != 0 {
		t.Fatalf("bob's orders: %v", theirs)
	}
	if every := p.expect(200, "", "GET", "/orders?limit=1", admin, ""); len(every["items"].([]any)) != 1 || every["next_cursor"] == "" {
		t.Fatalf("admin's first page: %v", every)
	}

	// Deleting a product hides it.
	p.expect(204, "", "DELETE", "/products/"+pen, admin, "")
	p.expect(404, "product_not_found", "GET", "/products/"+pen, "", "")
	p.expect(404, "route_not_found", "GET", "/no/such/route", "", "")
	p.expect(405, "method_not_allowed", "PUT", "/products/"+pen, admin, `{}`)
	p.expect(404, "route_not_found", "POST", "/internal/reservations", admin, `{}`)
	p.expect(413, "body_too_large", "POST", "/register", "", `{"name":"`+strings.Repeat("a", 100<<10)+`"}`)

	// The public /metrics is the process's own: every service's in one
	// process, the gateway's in front of the split shop.
	metrics := []string{"kitshop_user_requests_total", "kitshop_order_request_duration_seconds", `code="insufficient_stock"`, "process_resident_memory_bytes"}
	if topology == split {
		metrics = []string{`kitshop_gateway_requests_total{route="POST /orders",status="409"}`, "kitshop_gateway_request_duration_seconds", `kitshop_gateway_breaker_state{instance="order-1"`, "process_resident_memory_bytes"}
	}
	status, raw := p.raw("GET", "/metrics", "", "")
	for _, metric := range metrics {
		if status != 200 || !bytes.Contains(raw, []byte(metric)) {
			t.Fatalf("/metrics = %d, without %s", status, metric)
		}
	}

	// Secrets never reach the log.
	p.stop()
	logs := p.logs.String()
	for _, secret := range []string{adminPassword, "alice-password", "4242 4242 4242 4242", "4242424242424242", alice} {
		if strings.Contains(logs, secret) {
			i := strings.Index(logs, secret)
			t.Fatalf("the log contains the secret %q: %s", secret, logs[max(0, i-300):i+50])
		}
	}
}

func TestScarceStockIsNeverOversold(t *testing.T) {
	eachTopology(t, func(t *testing.T, _ string, args []string) {
		testScarceStockIsNeverOversold(t, startShop(t, t.TempDir(), append(args, "-sample-data=false", "-quiet")...))
	})
}

func testScarceStockIsNeverOversold(t *testing.T, p *shopProcess) {
	admin := p.login(adminEmail, adminPassword)
	id := p.expect(201, "", "POST", "/products", admin, `{"sku":"RARE-1","name":"Rare","price":100,"currency":"USD"}`)["id"].(string)
	p.expect(200, "", "POST", "/inventory/"+id, admin, `{"quantity":5}`)
	var tokens []string
	for i := range 8 {
		email := fmt.Sprintf("buyer%d@example.com", i)
		p.register(email, "buyer-password", "Buyer")
		tokens = append(tokens, p.login(email, "buyer-password"))
	}
	const attempts = 48
	statuses := make(chan int, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", p.base+"/orders", strings.NewReader(fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":1}]}`, id)))
			req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
			req.Header.Set("Content-Type", "application/json")
			resp, err := contract.Client(t.Errorf).Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[201] != 5 || count[409] != attempts-5 {
		t.Fatalf("answers %v: want exactly 5 x 201 and %d x 409", count, attempts-5)
	}
	if onHand, reserved, available := p.stock(id); onHand != 5 || reserved != 5 || available != 0 {
		t.Fatalf("stock = %v/%v/%v, want 5/5/0", onHand, reserved, available)
	}
}

func TestUnpaidOrdersExpire(t *testing.T) {
	eachTopology(t, func(t *testing.T, _ string, args []string) {
		testUnpaidOrdersExpire(t, startShop(t, t.TempDir(), append(args, "-order-ttl", "1s", "-quiet")...))
	})
}

func testUnpaidOrdersExpire(t *testing.T, p *shopProcess) {
	products := p.products("?q=Cap")
	if len(products) != 1 {
		t.Fatalf("sample cap: %v", products)
	}
	cap := products[0]["id"].(string)
	p.register("late@example.com", "late-password", "Late")
	token := p.login("late@example.com", "late-password")
	o := p.expect(201, "", "POST", "/orders", token, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":3}]}`, cap))
	id := o["id"].(string)
	if _, reserved, _ := p.stock(cap); reserved != 3 {
		t.Fatalf("reserved = %v, want 3", reserved)
	}
	p.eventually("the order expires", func() bool {
		_, m := p.call("GET", "/orders/"+id, token, "")
		return m["status"] == "expired"
	})
	p.eventually("the expired order's stock returns", func() bool {
		_, reserved, available := p.stock(cap)
		return reserved == 0 && available == 3
	})
	p.expect(409, "invalid_transition", "POST", "/orders/"+id+"/pay", token, `{"card_number":"4242424242424242"}`)
}

func TestRestartKeepsEverything(t *testing.T) {
	eachTopology(t, testRestartKeepsEverything)
}

func testRestartKeepsEverything(t *testing.T, _ string, args []string) {
	dir := t.TempDir()
	p := startShop(t, dir, append(args, "-quiet")...)
	p.register("stay@example.com", "stay-password", "Stay")
	token := p.login("stay@example.com", "stay-password")
	first := p.products("?limit=100")
	o := p.expect(201, "", "POST", "/orders", token, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":1}]}`, first[0]["id"]))
	p.stop()

	q := startShop(t, dir, append(args, "-quiet")...)
	if again := q.products("?limit=100"); len(again) != len(first) {
		t.Fatalf("after a restart the catalogue has %d products, before %d (sample data loaded twice?)", len(again), len(first))
	}
	got := q.expect(200, "", "GET", "/orders/"+o["id"].(string), token, "") // the old token still works
	if got["status"] != "pending" {
		t.Fatalf("order after restart = %v", got)
	}
	q.login("stay@example.com", "stay-password")
	if _, reserved, _ := q.stock(first[0]["id"].(string)); reserved != 1 {
		t.Fatalf("reserved after restart = %v, want 1", reserved)
	}
}

func TestBadSettingsStopTheStart(t *testing.T) {
	isolate(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-order-ttl", "soon"}, "order-ttl"},
		{[]string{"-order-ttl", "10ms"}, "order-ttl"},
		{[]string{"-admin-email", "a@example.com"}, "admin-password"},
		{[]string{"-secret-key", "too-short-secret"}, "secret-key"},
		{[]string{"-bcrypt-cost", "99"}, "bcrypt-cost"},
		{[]string{"-addr", "256.0.0.1:99999"}, "addr (SHOP_ADDR)"},
		{[]string{"-topology", "mesh"}, "topology (SHOP_TOPOLOGY)"},
		{[]string{"-consul", "127.0.0.1:8500"}, "consul (SHOP_CONSUL_ADDR) and consul-tag need -topology split"},
		{[]string{"-consul-tag", "staging"}, "need -topology split"},
		{[]string{"-amqp", "amqp://guest:guest@127.0.0.1:5672/"}, "amqp (SHOP_AMQP_URL) needs -topology split"},
		{[]string{"-topology", "split", "-amqp", "http://broker"}, "amqp (SHOP_AMQP_URL)"},
		{[]string{"-topology", "split", "-debug-addr", "127.0.0.1:0"}, "debug-addr (SHOP_DEBUG_ADDR)"},
		{[]string{"-topology", "split", "-service-port", "65534"}, "service-port (SHOP_SERVICE_PORT)"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			args := append([]string{"-data-dir", t.TempDir()}, c.args...)
			err := run(context.Background(), args, io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run(%v) = %v, want an error naming %q", c.args, err, c.want)
			}
			if strings.Contains(err.Error(), "too-short-secret") {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
	t.Run("environment", func(t *testing.T) {
		t.Setenv("SHOP_ORDER_TTL", "later")
		err := run(context.Background(), []string{"-data-dir", t.TempDir()}, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), "SHOP_ORDER_TTL") {
			t.Fatalf("run = %v, want an error naming SHOP_ORDER_TTL", err)
		}
	})
}

// TestStartupErrorsExitWithOneLine runs the built binary with start-up
// mistakes: each must exit 1 with one line on stderr naming the problem,
// without a stack dump and without the password.
func TestStartupErrorsExitWithOneLine(t *testing.T) {
	bin := binarytest.Build(t, ".")
	const key = "0123456789abcdef0123456789abcdef-key"
	secrets := []string{"short12", "admin-password-1", "customer-password", key}

	taken := t.TempDir()
	binarytest.AddCustomer(t, taken, "ada@example.com", "customer-password")
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	badDB := t.TempDir()
	if err := os.Mkdir(filepath.Join(badDB, "order.db"), 0o700); err != nil { // a directory, not a database
		t.Fatal(err)
	}
	readOnly := t.TempDir()
	if err := os.Chmod(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}

	cases := []binarytest.StartupCase{
		{Name: "short admin password", Args: []string{"-admin-email", "admin@example.com", "-admin-password", "short12"}, Env: nil,
			Want: []string{"admin-password", "SHOP_ADMIN_PASSWORD", "8 characters"}, AsRoot: true},
		{Name: "short admin password from env", Args: []string{"-admin-email", "admin@example.com"}, Env: []string{"SHOP_ADMIN_PASSWORD=short12"},
			Want: []string{"SHOP_ADMIN_PASSWORD", "8 characters"}, AsRoot: true},
		{Name: "invalid admin email", Args: []string{"-admin-email", "not-an-email", "-admin-password", "admin-password-1"}, Env: nil,
			Want: []string{"admin-email", "SHOP_ADMIN_EMAIL", "plain address"}, AsRoot: true},
		{Name: "admin email of a customer", Args: []string{"-data-dir", taken, "-admin-email", "ada@example.com", "-admin-password", "admin-password-1"}, Env: nil,
			Want: []string{"admin-email", "SHOP_ADMIN_EMAIL", "ada@example.com", "customer"}, AsRoot: true},
		{Name: "data dir is a file", Args: []string{"-data-dir", file}, Env: nil,
			Want: []string{"data-dir", "SHOP_DATA_DIR"}, AsRoot: true},
		{Name: "data dir is a file, key given", Args: []string{"-data-dir", file, "-secret-key", key}, Env: nil,
			Want: []string{"data-dir", "SHOP_DATA_DIR"}, AsRoot: true},
		{Name: "database cannot be opened", Args: []string{"-data-dir", badDB}, Env: nil,
			Want: []string{"data-dir", "SHOP_DATA_DIR", "order.db"}, AsRoot: true},
		{Name: "unwritable data dir", Args: []string{"-data-dir", readOnly}, Env: nil,
			Want: []string{"data-dir", "SHOP_DATA_DIR"}, AsRoot: false},
		{Name: "unwritable data dir, key given", Args: []string{"-data-dir", readOnly, "-secret-key", key}, Env: nil,
			Want: []string{"data-dir", "SHOP_DATA_DIR"}, AsRoot: false},
		{Name: "malformed flag", Args: []string{"-order-ttl", "soon"}, Env: nil,
			Want: []string{"order-ttl", "duration"}, AsRoot: true},
		{Name: "unknown environment setting", Args: nil, Env: []string{"SHOP_ORDER_TTLL=1m"},
			Want: []string{"SHOP_ORDER_TTLL", "SHOP_ORDER_TTL"}, AsRoot: true},
	}
	binarytest.CheckStartupErrors(t, bin, "shop", []string{"-addr", "127.0.0.1:0", "-bcrypt-cost", "4", "-sample-data=false"}, secrets, cases)
}
