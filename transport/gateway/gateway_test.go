package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

func TestRoutesGoToTheirService(t *testing.T) {
	e := newEnv(t, nil, nil)
	cust := "Bearer " + e.token("u1", shop.RoleCustomer)
	for _, c := range []struct {
		method, path, service, wantPath, wantQuery string
		auth                                       bool
	}{
		{"POST", "/register", "user", "/register", "", false},
		{"POST", "/login", "user", "/login", "", false},
		{"GET", "/users/me", "user", "/users/me", "", true},
		{"GET", "/users/u7", "user", "/users/u7", "", true},
		{"POST", "/users/u7/disable", "user", "/users/u7/disable", "", true},
		{"GET", "/products?limit=2&q=tea", "catalog", "/products", "limit=2&q=tea", false},
		{"GET", "/products/p1", "catalog", "/products/p1", "", false},
		{"PATCH", "/products/p1", "catalog", "/products/p1", "", true},
		{"GET", "/inventory/p1", "inventory", "/inventory/p1", "", false},
		{"DELETE", "/inventory/p1", "inventory", "/inventory/p1", "", true},
		{"POST", "/orders", "order", "/orders", "", true},
		{"GET", "/orders?cursor=abc", "order", "/orders", "cursor=abc", true},
		{"POST", "/orders/o1/pay", "order", "/orders/o1/pay", "", true},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			var h []string
			if c.auth {
				h = []string{"Authorization", cust}
			}
			r := e.do(c.method, c.path, strings.NewReader(`{}`), h...)
			if r.status != 200 {
				t.Fatalf("status %d, body %q", r.status, r.body)
			}
			s := r.seen(t)
			if s.Service != c.service || s.Method != c.method || s.Path != c.wantPath || s.Query != c.wantQuery {
				t.Fatalf("upstream saw %s %s %s?%s, want %s %s %s?%s", s.Service, s.Method, s.Path, s.Query, c.service, c.method, c.wantPath, c.wantQuery)
			}
		})
	}
	t.Run("HEAD takes the GET route", func(t *testing.T) {
		before := e.ups["catalog"].hits.Load()
		r := e.do("HEAD", "/products/p1", nil)
		if r.status != 200 || e.ups["catalog"].hits.Load() != before+1 {
			t.Fatalf("HEAD: status %d, catalog hits %d -> %d", r.status, before, e.ups["catalog"].hits.Load())
		}
	})
}

func TestUpstreamWithBasePath(t *testing.T) {
	var got string
	u := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path
		w.WriteHeader(204)
	})
	e := newEnv(t, map[string][]string{"catalog": {u.URL + "/api/"}}, nil)
	if r := e.do("GET", "/products/p1", nil); r.status != 204 || got != "/api/products/p1" {
		t.Fatalf("status %d, upstream path %q, want /api/products/p1", r.status, got)
	}
}

func TestInternalAndUnknownRoutesAre404AtTheDoor(t *testing.T) {
	e := newEnv(t, nil, nil)
	admin := "Bearer " + e.token("a1", shop.RoleAdmin)
	for _, p := range []struct{ method, path string }{
		{"POST", "/internal/reservations"},
		{"GET", "/internal/events"},
		{"POST", "/internal/events/order.placed"},
		{"GET", "/admin/dead-letters"},
		{"GET", "/nope"},
		{"GET", "/"},
		{"GET", "/products/"},
		{"GET", "/products//p1"},
		{"GET", "/products/p1/extra"},
		{"GET", "/products/../internal/reservations"},
		{"GET", "/products/%2e%2e/internal"},
		{"GET", "/products/a%2Fb"},
		{"GET", "/inventory/p1/reservations"},
	} {
		t.Run(p.method+" "+p.path, func(t *testing.T) {
			req, err := http.NewRequest(p.method, e.srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = p.path // sent exactly as written, not cleaned
			req.Header.Set("Authorization", admin)
			r := e.send(req)
			wantError(t, r, 404, "route_not_found")
		})
	}
	for name, u := range e.ups {
		if n := u.hits.Load(); n != 0 {
			t.Errorf("%s got %d requests, want none", name, n)
		}
	}
	t.Run("known path, other method", func(t *testing.T) {
		r := e.do("PUT", "/products/p1", nil, "Authorization", admin)
		wantError(t, r, 405, "method_not_allowed")
		if got := r.header.Get("Allow"); got != "DELETE, GET, HEAD, PATCH" {
			t.Fatalf("Allow %q", got)
		}
	})
}

func TestTokenCheckedAtTheDoor(t *testing.T) {
	e := newEnv(t, nil, nil)
	other, err := user.NewTokens([]byte("another key, another shop, 32 bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := other.Issue(shop.Identity{UserID: "u1", Role: shop.RoleAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := e.tokens.Issue(shop.Identity{UserID: "u1", Role: shop.RoleCustomer}, -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, header, code string }{
		{"no token", "", "missing_token"},
		{"not bearer", "Basic dXNlcjpwYXNz", "invalid_token"},
		{"forged", "Bearer " + forged, ""},
		{"expired", "Bearer " + expired, ""},
		{"garbage", "Bearer not.a.jwt", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h []string
			if c.header != "" {
				h = []string{"Authorization", c.header}
			}
			r := e.do("GET", "/orders", nil, h...)
			if r.status != 401 {
				t.Fatalf("status %d, want 401; body %q", r.status, r.body)
			}
			d := r.errorDetail(t)
			if c.code != "" && d.Code != c.code {
				t.Fatalf("code %q, want %q", d.Code, c.code)
			}
			if d.Kind != shop.ErrUnauthenticated.Code() {
				t.Fatalf("kind %q", d.Kind)
			}
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Fatalf("WWW-Authenticate %q", got)
			}
		})
	}
	if n := e.ups["order"].hits.Load(); n != 0 {
		t.Fatalf("order got %d requests with bad tokens", n)
	}
	t.Run("valid token forwarded unchanged", func(t *testing.T) {
		h := "Bearer " + e.token("u1", shop.RoleCustomer)
		s := e.do("GET", "/orders", nil, "Authorization", h).seen(t)
		if s.Authorization != h {
			t.Fatalf("upstream saw Authorization %q, want %q", s.Authorization, h)
		}
	})
	t.Run("public route with a bad token goes on", func(t *testing.T) {
		// The upstream decides what a bad token on a public route means.
		r := e.do("GET", "/products", nil, "Authorization", "Bearer "+forged)
		if s := r.seen(t); s.Authorization != "Bearer "+forged {
			t.Fatalf("upstream saw %q", s.Authorization)
		}
	})
}

func TestBodiesStreamBothWays(t *testing.T) {
	const chunk = 1 << 20
	gotFirst := make(chan struct{})
	sentFirst := make(chan struct{})
	readFirst := make(chan struct{})
	u := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/products/upload":
			// Reads the first chunk, says so, then hashes the rest.
			h := sha256.New()
			if _, err := io.CopyN(h, r.Body, chunk); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			close(gotFirst)
			n, _ := io.Copy(h, r.Body)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"bytes":%d,"sha256":"%x"}`, n+chunk, h.Sum(nil))
		case "/products/download":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(bytes.Repeat([]byte("a"), chunk))
			http.NewResponseController(w).Flush()
			close(sentFirst)
			select { // the rest only once the client has the first chunk
			case <-readFirst:
			case <-r.Context().Done():
				return
			}
			w.Write(bytes.Repeat([]byte("b"), chunk))
		}
	})
	e := newEnv(t, map[string][]string{"catalog": {u.URL}}, func(c *Config) {
		c.Routes = []Route{
			{Method: "POST", Pattern: "/products/upload", Service: "catalog", Class: ClassWrite},
			{Method: "GET", Pattern: "/products/download", Service: "catalog", Class: ClassRead},
		}
	})

	t.Run("request", func(t *testing.T) {
		pr, pw := io.Pipe()
		want := sha256.New()
		done := make(chan error, 1)
		go func() {
			first := bytes.Repeat([]byte{1}, chunk)
			want.Write(first)
			if _, err := pw.Write(first); err != nil {
				done <- err
				return
			}
			// The upstream must have the first chunk before the rest is
			// even written: the gateway does not wait for the whole body.
			select {
			case <-gotFirst:
			case <-time.After(20 * time.Second):
				pw.CloseWithError(fmt.Errorf("the upstream never got the first chunk"))
				done <- fmt.Errorf("the upstream never got the first chunk while the body was open")
				return
			}
			rest := bytes.Repeat([]byte{2}, 7*chunk)
			want.Write(rest)
			_, err := pw.Write(rest)
			pw.Close()
			done <- err
		}()
		req, _ := http.NewRequest("POST", e.srv.URL+"/products/upload", pr)
		r := e.send(req)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"bytes":%d,"sha256":"%x"}`, 8*chunk, want.Sum(nil)); string(r.body) != want {
			t.Fatalf("status %d, body %q, want %q", r.status, r.body, want)
		}
	})

	t.Run("response", func(t *testing.T) {
		resp, err := e.srv.Client().Get(e.srv.URL + "/products/download")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		<-sentFirst
		first := make([]byte, chunk)
		if _, err := io.ReadFull(resp.Body, first); err != nil {
			t.Fatalf("first chunk: %v", err)
		}
		close(readFirst)
		rest, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, bytes.Repeat([]byte("a"), chunk)) || !bytes.Equal(rest, bytes.Repeat([]byte("b"), chunk)) {
			t.Fatalf("body changed on the way: %d + %d bytes", len(first), len(rest))
		}
	})
}

func TestGETRetriedOnAnotherInstancePOSTNever(t *testing.T) {
	t.Run("refused connection", func(t *testing.T) {
		live := echoUpstream(t, "catalog", nil)
		e := newEnv(t, map[string][]string{"catalog": {deadAddr(t), live.URL}}, func(c *Config) {
			c.Breakers = discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: 1000})
		})
		for i := range 6 {
			if r := e.do("GET", "/products/p1", nil); r.status != 200 || r.seen(t).Service != "catalog" {
				t.Fatalf("GET %d: status %d, body %q", i, r.status, r.body)
			}
		}
		if n := live.hits.Load(); n != 6 {
			t.Fatalf("live instance got %d GETs, want 6", n)
		}
	})

	t.Run("503 and broken connections", func(t *testing.T) {
		// One instance answers 503 to GETs and breaks the connection of
		// POSTs; the other works.
		bad := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "GET" {
				w.WriteHeader(503)
				return
			}
			io.Copy(io.Discard, r.Body)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		good := echoUpstream(t, "catalog", nil)
		e := newEnv(t, map[string][]string{"catalog": {bad.URL, good.URL}}, func(c *Config) {
			c.Breakers = discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: 1000})
		})
		for i := range 6 {
			if r := e.do("GET", "/products/p1", nil); r.status != 200 {
				t.Fatalf("GET %d: status %d, body %q", i, r.status, r.body)
			}
		}
		if bad.hits.Load() == 0 || good.hits.Load() != 6 {
			t.Fatalf("GETs: bad instance %d, good %d; want some and 6", bad.hits.Load(), good.hits.Load())
		}

		admin := "Bearer " + e.token("a1", shop.RoleAdmin)
		bad.hits.Store(0)
		good.hits.Store(0)
		failed := 0
		const posts = 6
		for range posts {
			r := e.do("POST", "/products", strings.NewReader(`{"sku":"x"}`), "Authorization", admin, "Content-Type", "application/json")
			switch r.status {
			case 200:
			case 502:
				wantError(t, r, 502, "upstream_bad_response")
				failed++
			default:
				t.Fatalf("POST: status %d, body %q", r.status, r.body)
			}
		}
		// Each POST reached exactly one instance: the broken ones were not
		// sent again to the good one.
		if got := bad.hits.Load() + good.hits.Load(); got != posts || failed != int(bad.hits.Load()) || failed == 0 {
			t.Fatalf("POSTs: bad instance %d, good %d, failed %d; want %d in all, each failure once", bad.hits.Load(), good.hits.Load(), failed, posts)
		}
	})
}

func TestBreakerOpensAndReadyzSaysSo(t *testing.T) {
	broken := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" { // the process is up; its routes fail
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(500)
		io.WriteString(w, "<html><body>panic: runtime error at 10.1.2.3</body></html>")
	})
	e := newEnv(t, map[string][]string{"catalog": {broken.URL}}, func(c *Config) {
		c.Breakers = discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: 3, OpenTimeout: time.Hour})
	})
	if r := e.do("GET", "/readyz", nil); r.status != 200 {
		t.Fatalf("/readyz before: %d %s", r.status, r.body)
	}
	for range 3 {
		wantError(t, e.do("GET", "/products/p1", nil), 502, "upstream_bad_response")
	}
	// Open: answered at once, without reaching the instance.
	for range 3 {
		wantError(t, e.do("GET", "/products/p1", nil), 503, "catalog_unavailable")
	}
	if n := broken.hits.Load(); n != 3 {
		t.Fatalf("the broken instance got %d requests, want 3 (then the breaker opened)", n)
	}
	r := e.do("GET", "/readyz", nil)
	if r.status != 503 || !strings.Contains(string(r.body), `"failing":["catalog"]`) {
		t.Fatalf("/readyz: %d %s, want 503 naming catalog only", r.status, r.body)
	}
	if m := e.metricsText(); !strings.Contains(m, `kitshop_gateway_breaker_state{instance="catalog-1",service="catalog"} 2`) {
		t.Fatalf("breaker gauge not open:\n%s", grepLines(m, "breaker_state"))
	}
	if !strings.Contains(e.logs.String(), "circuit breaker open") {
		t.Fatalf("no log of the breaker opening:\n%s", e.logs)
	}
	// The other services still work.
	if r := e.do("GET", "/inventory/p1", nil); r.status != 200 {
		t.Fatalf("inventory: %d", r.status)
	}
}

func TestTimeoutIs504(t *testing.T) {
	release := make(chan struct{})
	slow := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	e := newEnv(t, map[string][]string{"catalog": {slow.URL}}, func(c *Config) {
		c.Timeouts = map[string]time.Duration{ClassRead: 100 * time.Millisecond}
	})
	wantError(t, e.do("GET", "/products/p1", nil), 504, "upstream_timeout")
	if n := slow.hits.Load(); n != 1 {
		t.Fatalf("the slow instance got %d requests, want 1 (a timeout is not retried)", n)
	}
	if m := e.metricsText(); !strings.Contains(m, `kitshop_gateway_upstream_errors_total{reason="timeout",service="catalog"} 1`) {
		t.Fatalf("no timeout counted:\n%s", grepLines(m, "upstream_errors"))
	}
}

func TestRefusedAndMissingInstancesAre503(t *testing.T) {
	e := newEnv(t, map[string][]string{"inventory": {deadAddr(t)}}, nil)
	r := e.do("GET", "/inventory/p1", nil)
	wantError(t, r, 503, "inventory_unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After on 503")
	}
	// A POST refused at the connection is not sent anywhere else either.
	r = e.do("POST", "/inventory/p1", strings.NewReader(`{"quantity":1}`), "Authorization", "Bearer "+e.token("a", shop.RoleAdmin))
	wantError(t, r, 503, "inventory_unavailable")

	t.Run("no instance known", func(t *testing.T) {
		ups := map[string]sd.Instancer{"catalog": sd.FixedInstancer{}}
		gw, err := New(Config{Upstreams: ups, Routes: []Route{{Method: "GET", Pattern: "/products", Service: "catalog", Class: ClassRead}}, Registry: e.reg2()})
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Close()
		e2 := &env{t: t, srv: newServer(t, gw)}
		wantError(t, e2.do("GET", "/products", nil), 503, "catalog_unavailable")
		r := e2.do("GET", "/readyz", nil)
		if r.status != 503 || !strings.Contains(string(r.body), `"failing":["catalog"]`) {
			t.Fatalf("/readyz: %d %s", r.status, r.body)
		}
	})
}

func TestUpstreamErrorPagesBecomeTheShopsShape(t *testing.T) {
	for _, c := range []struct {
		status     int
		wantStatus int
		code       string
	}{
		{502, 502, "upstream_bad_response"},
		{500, 502, "upstream_bad_response"},
		{503, 503, "catalog_unavailable"},
		{504, 504, "upstream_timeout"},
	} {
		t.Run(strconv.Itoa(c.status), func(t *testing.T) {
			u := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Server", "nginx/1.25.3")
				w.Header().Set("X-Powered-By", "PHP/8.3")
				w.WriteHeader(c.status)
				io.WriteString(w, "<html><head><title>Bad Gateway</title></head><body>nginx at 10.0.0.7:5002</body></html>")
			})
			e := newEnv(t, map[string][]string{"catalog": {u.URL}}, nil)
			r := e.do("POST", "/products", strings.NewReader("{}"), "Authorization", "Bearer "+e.token("a", shop.RoleAdmin))
			wantError(t, r, c.wantStatus, c.code)
			if r.header.Get("Server") != "" || r.header.Get("X-Powered-By") != "" {
				t.Fatalf("upstream headers passed: %v", r.header)
			}
		})
	}
	t.Run("a JSON error passes as the service wrote it", func(t *testing.T) {
		u := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
			shophttp.EncodeError(r.Context(), shop.E(shop.ErrUnavailable, "inventory_unavailable", "the inventory service is unavailable"), w)
		})
		e := newEnv(t, map[string][]string{"catalog": {u.URL}}, nil)
		wantError(t, e.do("GET", "/products", nil), 503, "inventory_unavailable")
	})
}

func TestRateLimits(t *testing.T) {
	slow := rate.Limit(1.0 / 3600) // no refill within the test
	t.Run("per IP", func(t *testing.T) {
		e := newEnv(t, nil, func(c *Config) {
			c.Limits = map[string]ClassLimits{ClassAuth: {PerIP: Limit{Rate: slow, Burst: 3}}}
			c.ClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-Client") }
		})
		for i := range 3 {
			if r := e.do("POST", "/login", nil, "X-Test-Client", "10.0.0.1"); r.status != 200 {
				t.Fatalf("login %d: %d", i, r.status)
			}
		}
		r := e.do("POST", "/login", nil, "X-Test-Client", "10.0.0.1")
		wantError(t, r, 429, "rate_limited")
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		if n := e.ups["user"].hits.Load(); n != 3 {
			t.Fatalf("user got %d logins, want 3", n)
		}
		// Another IP has its own bucket; another class is not limited.
		if r := e.do("POST", "/login", nil, "X-Test-Client", "10.0.0.2"); r.status != 200 {
			t.Fatalf("other IP: %d", r.status)
		}
		if r := e.do("GET", "/products", nil, "X-Test-Client", "10.0.0.1"); r.status != 200 {
			t.Fatalf("other class: %d", r.status)
		}
		if m := e.metricsText(); !strings.Contains(m, `kitshop_gateway_rate_limited_total{class="auth",scope="ip"} 1`) {
			t.Fatalf("rejection not counted:\n%s", grepLines(m, "rate_limited"))
		}
	})
	t.Run("per user", func(t *testing.T) {
		e := newEnv(t, nil, func(c *Config) {
			c.Limits = map[string]ClassLimits{ClassRead: {PerIP: Limit{Rate: slow, Burst: 100}, PerUser: Limit{Rate: slow, Burst: 2}}}
		})
		alice, bob := "Bearer "+e.token("alice", shop.RoleCustomer), "Bearer "+e.token("bob", shop.RoleCustomer)
		for range 2 {
			if r := e.do("GET", "/orders", nil, "Authorization", alice); r.status != 200 {
				t.Fatalf("alice: %d", r.status)
			}
		}
		wantError(t, e.do("GET", "/orders", nil, "Authorization", alice), 429, "rate_limited")
		// The same user on a public route is limited too (the token is valid).
		wantError(t, e.do("GET", "/products", nil, "Authorization", alice), 429, "rate_limited")
		// Bob, from the same IP, and anonymous callers are not.
		if r := e.do("GET", "/orders", nil, "Authorization", bob); r.status != 200 {
			t.Fatalf("bob: %d", r.status)
		}
		if r := e.do("GET", "/products", nil); r.status != 200 {
			t.Fatalf("anonymous: %d", r.status)
		}
		if m := e.metricsText(); !strings.Contains(m, `kitshop_gateway_rate_limited_total{class="read",scope="user"} 2`) {
			t.Fatalf("rejections not counted:\n%s", grepLines(m, "rate_limited"))
		}
	})
}

func TestCORS(t *testing.T) {
	e := newEnv(t, nil, func(c *Config) { c.CORSOrigins = []string{"https://shop.example.com"} })
	preflight := func(origin string) response {
		return e.do("OPTIONS", "/orders", nil, "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization,content-type,idempotency-key")
	}
	r := preflight("https://shop.example.com")
	if r.status != 204 {
		t.Fatalf("preflight: %d", r.status)
	}
	h := r.header
	if h.Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "PATCH") ||
		h.Get("Access-Control-Allow-Headers") != CORSAllowHeaders ||
		!strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
		t.Fatalf("preflight headers: %v", h)
	}
	if n := e.ups["order"].hits.Load(); n != 0 {
		t.Fatalf("a preflight reached the upstream")
	}
	r = preflight("https://evil.example.com")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("unknown origin's preflight: %d %v", r.status, r.header)
	}

	r = e.do("GET", "/products", nil, "Origin", "https://shop.example.com")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
		!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Request-ID") ||
		!strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
		t.Fatalf("simple request: %d %v", r.status, r.header)
	}
	r = e.do("GET", "/products", nil, "Origin", "https://evil.example.com")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("unknown origin: %d %v", r.status, r.header)
	}
	t.Run("the upstream's CORS headers are dropped", func(t *testing.T) {
		u := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.WriteHeader(200)
		})
		e := newEnv(t, map[string][]string{"catalog": {u.URL}}, func(c *Config) { c.CORSOrigins = []string{"https://shop.example.com"} })
		r := e.do("GET", "/products", nil, "Origin", "https://evil.example.com")
		if got := r.header.Values("Access-Control-Allow-Origin"); len(got) != 0 {
			t.Fatalf("Access-Control-Allow-Origin %q", got)
		}
	})
}

func TestRequestIDs(t *testing.T) {
	e := newEnv(t, nil, nil)
	r := e.do("GET", "/products", nil)
	id := r.header.Get(shophttp.RequestIDHeader)
	if len(r.header.Values(shophttp.RequestIDHeader)) != 1 || len(id) < 16 || r.seen(t).RequestID != id {
		t.Fatalf("generated ID: response %q, upstream %q", r.header.Values(shophttp.RequestIDHeader), r.seen(t).RequestID)
	}
	r = e.do("GET", "/products", nil, shophttp.RequestIDHeader, "abc-123")
	if r.header.Get(shophttp.RequestIDHeader) != "abc-123" || r.seen(t).RequestID != "abc-123" {
		t.Fatalf("passed ID: response %q, upstream %q", r.header.Get(shophttp.RequestIDHeader), r.seen(t).RequestID)
	}
	r = e.do("GET", "/products", nil, shophttp.RequestIDHeader, strings.Repeat("x", 200))
	if got := r.seen(t).RequestID; got == strings.Repeat("x", 200) || got != r.header.Get(shophttp.RequestIDHeader) || got == "" {
		t.Fatalf("an overlong ID was passed on: %q", got)
	}
	// Errors answered at the door carry it too.
	if r := e.do("GET", "/internal/x", nil, shophttp.RequestIDHeader, "door-1"); r.header.Get(shophttp.RequestIDHeader) != "door-1" {
		t.Fatalf("404 without the request ID: %v", r.header)
	}
}

func TestHopByHopHeadersStripped(t *testing.T) {
	u := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Upstream-Hop")
		w.Header().Set("X-Upstream-Hop", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Server", "catalog/1.0")
		w.Header().Set("X-Powered-By", "Go")
		writeSeen(w, "catalog", r)
	})
	e := newEnv(t, map[string][]string{"catalog": {u.URL}}, nil)
	r := e.do("GET", "/products", nil,
		"Connection", "X-Client-Hop", "X-Client-Hop", "secret", "Proxy-Authorization", "Basic eA==",
		"Te", "gzip", "X-Forwarded-For", "6.6.6.6", "X-Kept", "yes")
	s := r.seen(t)
	for _, h := range []string{"Connection", "X-Client-Hop", "Proxy-Authorization", "Te"} {
		if v := s.Header.Get(h); v != "" {
			t.Errorf("upstream got %s: %q", h, v)
		}
	}
	if s.Header.Get("X-Kept") != "yes" {
		t.Error("an end-to-end header was dropped")
	}
	if xff := s.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want the client's address only (a caller's own is not trusted)", xff)
	}
	for _, h := range []string{"X-Upstream-Hop", "Keep-Alive", "Server", "X-Powered-By"} {
		if v := r.header.Get(h); v != "" {
			t.Errorf("client got %s: %q", h, v)
		}
	}
}

func TestAccessLogLine(t *testing.T) {
	e := newEnv(t, nil, nil)
	r := e.do("GET", "/products/p1", nil, shophttp.RequestIDHeader, "log-1")
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		rec := map[string]any{}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec["request_id"] == "log-1" {
			if line != nil {
				t.Fatalf("two access-log lines for one request:\n%s", e.logs)
			}
			line = rec
		}
	}
	if line == nil {
		t.Fatalf("no access-log line:\n%s", e.logs)
	}
	want := map[string]string{
		"msg": "request", "route": "GET /products/{id}", "service": "catalog", "instance": e.ups["catalog"].URL,
		"method": "GET", "path": "/products/p1", "status": "200", "bytes": strconv.Itoa(len(r.body)),
	}
	for k, v := range want {
		if got := fmt.Sprint(line[k]); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if _, err := time.ParseDuration(fmt.Sprint(line["latency"])); err != nil {
		t.Errorf("latency=%q: %v", line["latency"], err)
	}
}

func TestMetricsAfterTraffic(t *testing.T) {
	e := newEnv(t, map[string][]string{"inventory": {deadAddr(t)}}, func(c *Config) {
		c.Limits = map[string]ClassLimits{ClassAuth: {PerIP: Limit{Rate: 1.0 / 3600, Burst: 1}}}
	})
	e.do("GET", "/products/p1", nil)
	e.do("GET", "/inventory/p1", nil)
	e.do("POST", "/login", nil)
	e.do("POST", "/login", nil)
	e.do("GET", "/internal/x", nil)
	m := e.metricsText()
	for _, want := range []string{
		`kitshop_gateway_requests_total{route="GET /products/{id}",status="200"} 1`,
		`kitshop_gateway_requests_total{route="unmatched",status="404"} 1`,
		`kitshop_gateway_requests_total{route="POST /login",status="429"} 1`,
		`kitshop_gateway_request_duration_seconds_bucket{route="GET /products/{id}",status="200",le="+Inf"} 1`,
		`kitshop_gateway_upstream_errors_total{reason="refused",service="inventory"} 1`,
		`kitshop_gateway_breaker_state{instance="catalog-1",service="catalog"} 0`,
		`kitshop_gateway_rate_limited_total{class="auth",scope="ip"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(m, "127.0.0.1") {
		t.Errorf("/metrics shows upstream addresses:\n%s", grepLines(m, "127.0.0.1"))
	}
	if t.Failed() {
		t.Log(grepLines(m, "kitshop_gateway"))
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t, map[string][]string{"order": {deadAddr(t)}}, nil)
	if r := e.do("GET", "/healthz", nil); r.status != 200 {
		t.Fatalf("/healthz: %d", r.status)
	}
	// The only instance listed refuses connections: not ready, though its
	// breaker is still closed, and the body names the service.
	if r := e.do("GET", "/readyz", nil); r.status != 503 || !strings.Contains(string(r.body), `"failing":["order"]`) {
		t.Fatalf("/readyz with the order service down: %d %s, want 503 naming order", r.status, r.body)
	}
	live := echoUpstream(t, "order", nil)
	e = newEnv(t, map[string][]string{"order": {deadAddr(t), live.URL}}, nil)
	if r := e.do("GET", "/readyz", nil); r.status != 200 {
		t.Fatalf("/readyz with one of two order instances up: %d %s, want 200", r.status, r.body)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	in, _ := discovery.NewStaticInstancer("127.0.0.1:1")
	base := func() Config {
		return Config{Upstreams: map[string]sd.Instancer{"catalog": in}, Routes: []Route{{Method: "GET", Pattern: "/products", Service: "catalog", Class: ClassRead}}, Registry: newRegistry()}
	}
	for _, c := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no upstreams", func(c *Config) { c.Upstreams = nil }, "Config.Upstreams"},
		{"nil instancer", func(c *Config) { c.Upstreams["user"] = nil }, `Config.Upstreams["user"]`},
		{"unknown service", func(c *Config) { c.Routes[0].Service = "billing" }, "Config.Routes[0].Service"},
		{"bad method", func(c *Config) { c.Routes[0].Method = "get" }, "Config.Routes[0].Method"},
		{"bad pattern", func(c *Config) { c.Routes[0].Pattern = "products" }, "Config.Routes[0].Pattern"},
		{"no class", func(c *Config) { c.Routes[0].Class = "" }, "Config.Routes[0].Class"},
		{"twice", func(c *Config) { c.Routes = append(c.Routes, c.Routes[0]) }, "Config.Routes[1]"},
		{"auth without verifier", func(c *Config) { c.Routes[0].Auth = true }, "Config.Verifier"},
		{"default routes need every service", func(c *Config) { c.Routes = nil }, "Config.Routes[0].Service"},
		{"burst 0", func(c *Config) { c.Limits = map[string]ClassLimits{"read": {PerUser: Limit{Rate: 1}}} }, `Config.Limits["read"].PerUser`},
		{"timeout", func(c *Config) { c.Timeouts = map[string]time.Duration{"read": -1} }, `Config.Timeouts["read"]`},
		{"attempts", func(c *Config) { c.Attempts = -1 }, "Config.Attempts"},
		{"origin", func(c *Config) { c.CORSOrigins = []string{"shop.example.com"} }, "Config.CORSOrigins[0]"},
		{"registry", func(c *Config) { c.Registry = nil }, "Config.Registry"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			c.mod(&cfg)
			gw, err := New(cfg)
			if err == nil {
				gw.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not name %s", err, c.want)
			}
		})
	}
	t.Run("a second gateway on the same registry", func(t *testing.T) {
		cfg := base()
		gw, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(cfg); err == nil {
			t.Fatal("two gateways registered the same metrics")
		}
		gw.Close()
		gw2, err := New(cfg) // Close took its metrics off
		if err != nil {
			t.Fatal(err)
		}
		gw2.Close()
	})
}

func TestLimitersStayBounded(t *testing.T) {
	ls := newLimiters(100, time.Hour)
	now := time.Now()
	l := Limit{Rate: 1, Burst: 5}
	for i := range 10_000 {
		if d := ls.allow(fmt.Sprint("ip", i), l, now); d != 0 {
			t.Fatalf("a fresh bucket refused: %v", d)
		}
	}
	if n := ls.size(); n > 100 {
		t.Fatalf("%d buckets kept, want at most 100", n)
	}
	// A bucket that has had time to refill is dropped at the next sweep.
	later := now.Add(2 * time.Minute)
	ls.allow("new", l, later)
	if n := ls.size(); n != 1 {
		t.Fatalf("%d buckets after every old one refilled, want 1", n)
	}
	// A drained bucket is kept, and refuses.
	for range 5 {
		ls.allow("busy", l, later)
	}
	if d := ls.allow("busy", l, later); d <= 0 || d > time.Second {
		t.Fatalf("drained bucket: wait %v, want (0, 1s]", d)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.Contains(sc.Text(), sub) {
			out = append(out, sc.Text())
		}
	}
	return strings.Join(out, "\n")
}

func TestOpenBreakerSendsEveryMethodToAnotherInstance(t *testing.T) {
	broken := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(502)
	})
	good := echoUpstream(t, "catalog", nil)
	e := newEnv(t, map[string][]string{"catalog": {broken.URL, good.URL}}, func(c *Config) {
		c.Breakers = discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Hour})
	})
	// GETs open the broken instance's breaker, retried on the good one.
	for range 6 {
		if r := e.do("GET", "/products/p1", nil); r.status != 200 {
			t.Fatalf("GET: %d %s", r.status, r.body)
		}
	}
	if n := broken.hits.Load(); n != 2 {
		t.Fatalf("the broken instance got %d GETs, want 2 (then its breaker opened)", n)
	}
	// A POST is never sent to the open instance: it all goes to the good one.
	admin := "Bearer " + e.token("a", shop.RoleAdmin)
	for range 4 {
		if r := e.do("POST", "/products", strings.NewReader("{}"), "Authorization", admin); r.status != 200 {
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
	}
	if n := broken.hits.Load(); n != 2 {
		t.Fatalf("the open instance got %d requests", n)
	}
	// One instance is still passing: ready.
	if r := e.do("GET", "/readyz", nil); r.status != 200 {
		t.Fatalf("/readyz: %d %s", r.status, r.body)
	}
}

// movingInstancer is an sd.Instancer whose instances the test changes, as
// Consul's change when instances come and go.
type movingInstancer struct {
	mu  sync.Mutex
	chs map[chan<- sd.Event]bool
	now []string
}

func (m *movingInstancer) Register(ch chan<- sd.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.chs == nil {
		m.chs = map[chan<- sd.Event]bool{}
	}
	m.chs[ch] = true
	ch <- sd.Event{Instances: slices.Clone(m.now)}
}

func (m *movingInstancer) Deregister(ch chan<- sd.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.chs, ch)
}

func (m *movingInstancer) Stop() {}

func (m *movingInstancer) set(ev sd.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = ev.Instances
	for ch := range m.chs {
		ch <- ev
	}
}

func TestInstancesFollowTheInstancer(t *testing.T) {
	a, b := echoUpstream(t, "catalog", nil), echoUpstream(t, "catalog", nil)
	in := &movingInstancer{now: []string{a.URL}}
	reg := prometheus.NewRegistry()
	gw, err := New(Config{
		Upstreams: map[string]sd.Instancer{"catalog": in},
		Routes:    []Route{{Method: "GET", Pattern: "/products/{id}", Service: "catalog", Class: ClassRead}},
		Registry:  reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	e := &env{t: t, srv: newServer(t, gw)}
	if r := e.do("GET", "/products/p1", nil); r.status != 200 || a.hits.Load() != 1 {
		t.Fatalf("first: %d, a got %d", r.status, a.hits.Load())
	}
	in.set(sd.Event{Instances: []string{b.URL}})
	waitFor(t, "the gateway to use the new instance", func() bool {
		e.do("GET", "/products/p1", nil)
		return b.hits.Load() > 0
	})
	before := a.hits.Load()
	for range 4 {
		e.do("GET", "/products/p1", nil)
	}
	if a.hits.Load() != before {
		t.Fatal("the instance that left still gets requests")
	}
	// Consul unreachable: the last instances stay.
	in.set(sd.Event{Err: fmt.Errorf("consul: connection refused")})
	if r := e.do("GET", "/products/p1", nil); r.status != 200 {
		t.Fatalf("after an instancer error: %d", r.status)
	}
	// None left: 503, and not ready.
	in.set(sd.Event{Instances: []string{}})
	waitFor(t, "the gateway to drop the instances", func() bool {
		return e.do("GET", "/readyz", nil).status == 503
	})
	wantError(t, e.do("GET", "/products/p1", nil), 503, "catalog_unavailable")
	m := string(e.do("GET", "/metrics", nil).body)
	if strings.Contains(m, `kitshop_gateway_breaker_state{instance="catalog-2"`) {
		t.Fatalf("the breaker series of an instance that left stays:\n%s", grepLines(m, "breaker_state"))
	}
}

func TestLocationOfTheInstanceBecomesRelative(t *testing.T) {
	var self string
	u := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", self+"/products/p9?x=1")
		w.WriteHeader(201)
	})
	self = u.URL
	e := newEnv(t, map[string][]string{"catalog": {u.URL}}, nil)
	r := e.do("POST", "/products", strings.NewReader("{}"), "Authorization", "Bearer "+e.token("a", shop.RoleAdmin))
	if r.status != 201 || r.header.Get("Location") != "/products/p9?x=1" {
		t.Fatalf("status %d, Location %q, want /products/p9?x=1", r.status, r.header.Get("Location"))
	}
}

func TestWithHystrixBreakers(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	broken := echoUpstream(t, "catalog", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/products/slow" {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(500)
	})
	e := newEnv(t, map[string][]string{"catalog": {broken.URL}}, func(c *Config) {
		c.Breakers = discovery.HystrixBreakers(discovery.HystrixSettings{RequestVolumeThreshold: 3, ErrorPercentThreshold: 50, SleepWindow: time.Hour})
		c.Timeouts = map[string]time.Duration{ClassRead: 100 * time.Millisecond}
	})
	wantError(t, e.do("GET", "/products/slow", nil), 504, "upstream_timeout")
	// hystrix-go counts asynchronously: the breaker opens a call or two
	// after the failures that tip it.
	waitFor(t, "the hystrix breaker to open", func() bool {
		r := e.do("GET", "/products/p1", nil)
		if r.status == 503 {
			wantError(t, r, 503, "catalog_unavailable")
			return true
		}
		wantError(t, r, 502, "upstream_bad_response")
		return false
	})
	if r := e.do("GET", "/readyz", nil); r.status != 503 {
		t.Fatalf("/readyz: %d %s", r.status, r.body)
	}
}

func TestLocalPages(t *testing.T) {
	page := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body + " " + r.URL.Path)) })
	}
	e := newEnv(t, nil, func(c *Config) {
		c.Local = map[string]http.Handler{
			"/":              page("index"),
			"/openapi.yaml":  page("document"),
			"/assets/":       page("asset"),
			"/assets/fonts/": page("font"),
			"/products/{id}": page("never: a route wins"),
		}
	})
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/", "index /"},
		{"GET", "/openapi.yaml", "document /openapi.yaml"},
		{"GET", "/assets/app.js", "asset /assets/app.js"},
		{"GET", "/assets/fonts/a.woff2", "font /assets/fonts/a.woff2"},
		{"HEAD", "/assets/app.js", ""},
	} {
		r := e.do(c.method, c.path, nil)
		if r.status != 200 || string(r.body) != c.want {
			t.Errorf("%s %s = %d %q, want 200 %q", c.method, c.path, r.status, r.body, c.want)
		}
	}
	if r := e.do("GET", "/products/p1", nil); r.status != 200 || strings.Contains(string(r.body), "never") {
		t.Errorf("a route lost to a local page: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/index.html", "/assets", "/internal/events"} {
		if r := e.do("GET", path, nil); r.status != 404 {
			t.Errorf("GET %s = %d, want 404: only the keys are served", path, r.status)
		}
	}
	if r := e.do("POST", "/openapi.yaml", nil); r.status != 404 {
		t.Errorf("POST /openapi.yaml = %d, want 404", r.status)
	}
}
