package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// seen is what an echo upstream tells of the request it got.
type seen struct {
	Service       string      `json:"service"`
	Method        string      `json:"method"`
	Path          string      `json:"path"`
	Query         string      `json:"query"`
	Authorization string      `json:"authorization"`
	RequestID     string      `json:"request_id"`
	Header        http.Header `json:"header"`
}

// upstreamServer is a real HTTP server standing for one instance of a
// service, counting its requests.
type upstreamServer struct {
	*httptest.Server
	name string
	hits atomic.Int64
}

// echoUpstream answers every request with a JSON seen, or hands it to h
// when h is given.
func echoUpstream(t *testing.T, name string, h http.HandlerFunc) *upstreamServer {
	t.Helper()
	u := &upstreamServer{name: name}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" { // the gateway's readiness probes are not traffic
			u.hits.Add(1)
		}
		if h != nil {
			h(w, r)
			return
		}
		writeSeen(w, name, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func writeSeen(w http.ResponseWriter, name string, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(shophttp.RequestIDHeader, r.Header.Get(shophttp.RequestIDHeader))
	json.NewEncoder(w).Encode(seen{
		Service: name, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"), RequestID: r.Header.Get(shophttp.RequestIDHeader),
		Header: r.Header,
	})
}

// deadAddr returns an address nothing listens on: connections are refused.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a gateway on a real HTTP server, in front of upstreams.
type env struct {
	t      *testing.T
	gw     *Gateway
	srv    *httptest.Server
	reg    *prometheus.Registry
	logs   *syncBuffer
	tokens *user.Tokens
	ups    map[string]*upstreamServer
}

// newEnv starts echo upstreams for the four services (or the instances
// given in addrs, which replace a service's echo upstream), and a gateway
// in front of them, configured by mod.
func newEnv(t *testing.T, addrs map[string][]string, mod func(*Config)) *env {
	t.Helper()
	tokens, err := user.NewTokens(testKey)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, reg: prometheus.NewRegistry(), logs: &syncBuffer{}, tokens: tokens, ups: map[string]*upstreamServer{}}
	instancers := map[string]sd.Instancer{}
	for _, name := range []string{"user", "catalog", "inventory", "order"} {
		list, ok := addrs[name]
		if !ok {
			u := echoUpstream(t, name, nil)
			e.ups[name] = u
			list = []string{u.URL}
		}
		in, err := discovery.NewStaticInstancer(list...)
		if err != nil {
			t.Fatal(err)
		}
		instancers[name] = in
	}
	cfg := Config{
		Upstreams: instancers,
		Verifier:  tokens,
		Registry:  e.reg,
		Logger:    log.NewJSONLogger(e.logs),
		Limits:    map[string]ClassLimits{},
	}
	if mod != nil {
		mod(&cfg)
	}
	gw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gw
	e.srv = httptest.NewServer(gw)
	t.Cleanup(func() {
		e.srv.Close()
		gw.Close()
	})
	return e
}

// token returns a valid token of userID with role.
func (e *env) token(userID string, role shop.Role) string {
	e.t.Helper()
	tok, _, err := e.tokens.Issue(shop.Identity{UserID: userID, Role: role}, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) seen(t *testing.T) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatalf("status %d, body %q: not an upstream's echo: %v", r.status, r.body, err)
	}
	return s
}

// errorDetail returns the shop's error shape of the answer, failing the
// test when the body is not one.
func (r response) errorDetail(t *testing.T) shop.ErrorDetail {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d: Content-Type %q, want JSON; body %q", r.status, ct, r.body)
	}
	var b shophttp.ErrorBody
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error.Code == "" {
		t.Fatalf("status %d, body %q: not the shop's error shape (%v)", r.status, r.body, err)
	}
	return b.Error
}

// do sends a request through the gateway; headers are name, value pairs.
func (e *env) do(method, path string, body io.Reader, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) response {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// wantError checks an answer is status with code, in the shop's shape,
// and shows nothing of what is behind the gateway.
func wantError(t *testing.T, r response, status int, code string) shop.ErrorDetail {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %q", r.status, status, r.body)
	}
	d := r.errorDetail(t)
	if d.Code != code {
		t.Fatalf("code %q, want %q; body %q", d.Code, code, r.body)
	}
	for _, leak := range []string{"127.0.0.1", "dial", "refused", "EOF", "goroutine", "context", "<html", "nginx"} {
		if strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(leak)) {
			t.Fatalf("body %q shows %q", r.body, leak)
		}
	}
	return d
}

// metricsText returns what /metrics answers.
func (e *env) metricsText() string {
	e.t.Helper()
	r := e.do("GET", "/metrics", nil)
	if r.status != 200 {
		e.t.Fatalf("/metrics: %d", r.status)
	}
	return string(r.body)
}

// waitFor polls cond until it holds, failing the test after 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 15s for %s", what)
		}
	}
}

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

// reg2 returns a registry of its own, for a second gateway in a test.
func (e *env) reg2() *prometheus.Registry { return prometheus.NewRegistry() }

// newServer serves h on a real HTTP server for the test.
func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}
