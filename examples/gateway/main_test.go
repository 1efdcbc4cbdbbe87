package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kitshop/shop/examples/internal/binarytest"
	"github.com/kitshop/shop/internal/testkit"
)

// proc is a running binary.
type proc struct {
	cmd  *exec.Cmd
	logs *testkit.SyncBuffer
}

func startBinary(t *testing.T, bin, addr string, args ...string) *proc {
	t.Helper()
	p := &proc{logs: &testkit.SyncBuffer{}}
	p.cmd = exec.Command(bin, append([]string{"-addr", addr}, args...)...)
	p.cmd.Env = binarytest.CleanEnv()
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Signal(syscall.SIGTERM); p.cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become ready: %v\n%s", bin, err, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func call(t *testing.T, method, url, token, body string, headers ...string) (int, http.Header, map[string]any) {
	t.Helper()
	return binarytest.DoJSON(t, method, url, token, body, headers...)
}

func code(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// The gateway binary in front of the whole shop (its four services in one
// process here, one address for all four upstream flags): the public API
// works through it, internal routes and forged tokens stop at the door, the
// auth class is rate limited, and CORS preflights are answered.
func TestGatewayInFrontOfTheShop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the shop and the gateway")
	}
	shopBin, gwBin := binarytest.Build(t, "../shop"), binarytest.Build(t, ".")
	data := t.TempDir()
	shopAddr, gwAddr := binarytest.FreeAddr(t), binarytest.FreeAddr(t)
	startBinary(t, shopBin, shopAddr, "-data-dir", data, "-quiet", "-bcrypt-cost", "4",
		"-admin-email", "admin@example.com", "-admin-password", "admin-password-1")
	up := "http://" + shopAddr
	gw := startBinary(t, gwBin, gwAddr, "-data-dir", data, "-user-url", up, "-catalog-url", up,
		"-inventory-url", up, "-order-url", up, "-auth-rate", "0.01", "-auth-burst", "6",
		"-cors-origins", "https://shop.example.com")
	base := "http://" + gwAddr

	if s, _, m := call(t, "POST", base+"/register", "", `{"email":"ada@example.com","password":"correct horse","name":"Ada"}`); s != 201 {
		t.Fatalf("register through the gateway = %d %v", s, m)
	}
	s, _, m := call(t, "POST", base+"/login", "", `{"email":"ada@example.com","password":"correct horse"}`)
	if s != 200 {
		t.Fatalf("login = %d %v", s, m)
	}
	token := m["token"].(string)
	s, _, m = call(t, "GET", base+"/products?limit=1", "", "")
	items, _ := m["items"].([]any)
	if s != 200 || len(items) != 1 {
		t.Fatalf("products = %d %v", s, m)
	}
	product := items[0].(map[string]any)["id"].(string)
	s, _, m = call(t, "POST", base+"/orders", token, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":1}]}`, product))
	if s != 201 {
		t.Fatalf("order = %d %v", s, m)
	}
	if s, _, m := call(t, "POST", base+"/orders/"+m["id"].(string)+"/pay", token, `{"card_number":"4242424242424242"}`); s != 200 || m["status"] != "paid" {
		t.Fatalf("pay = %d %v", s, m)
	}

	// What is behind the door stays there.
	for _, p := range []string{"/internal/events", "/internal/reservations/x/commit", "/admin/dead-letters"} {
		if s, _, m := call(t, "POST", base+p, token, "{}"); s != 404 || code(m) != "route_not_found" {
			t.Errorf("POST %s through the gateway = %d %v, want 404 route_not_found", p, s, m)
		}
	}
	// A forged token is stopped at the door.
	forged := token[:len(token)-4] + "AAAA"
	if s, h, m := call(t, "GET", base+"/orders", forged, ""); s != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("forged token = %d %v, want 401 with WWW-Authenticate", s, m)
	}
	// Login and register share a small bucket per client IP.
	limited := false
	for range 8 {
		s, h, m := call(t, "POST", base+"/login", "", `{"email":"ada@example.com","password":"wrong password"}`)
		if s == 429 {
			if h.Get("Retry-After") == "" || code(m) != "rate_limited" {
				t.Errorf("429 = %v %v, want Retry-After and rate_limited", h, m)
			}
			limited = true
			break
		}
	}
	if !limited {
		t.Error("eight more logins from one address were never limited")
	}
	// A browser's preflight is answered at the door.
	s, h, _ := call(t, "OPTIONS", base+"/orders", "", "", "Origin", "https://shop.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	if s != 204 || h.Get("Access-Control-Allow-Origin") != "https://shop.example.com" {
		t.Errorf("preflight = %d %v", s, h)
	}
	if s, _, m := call(t, "GET", base+"/readyz", "", ""); s != 200 {
		t.Errorf("readyz = %d %v", s, m)
	}
	// The log is written out within 100 ms.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(gw.logs.String(), "POST /orders") {
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for POST /orders:\n%s", gw.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Start-up mistakes exit 1 with one line naming the setting.
func TestGatewayRefusesBadSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway")
	}
	binarytest.CheckStartupErrors(t, binarytest.Build(t, "."), "gateway", []string{"-addr", binarytest.FreeAddr(t)}, []string{"short"}, []binarytest.StartupCase{
		{Name: "bad instances", Args: []string{"-catalog-url", "ftp://x"}, Want: []string{"catalog-url (SHOP_CATALOG_URL)"}, AsRoot: true},
		{Name: "burst without rate", Args: []string{"-ip-rate", "5", "-ip-burst", "0"}, Want: []string{"ip-rate and ip-burst"}, AsRoot: true},
		{Name: "short key", Args: []string{"-secret-key", "short"}, Want: []string{"secret-key (SHOP_SECRET_KEY)"}, AsRoot: true},
		{Name: "argument", Args: []string{"extra"}, Want: []string{"unexpected argument"}, AsRoot: true},
	})
}
