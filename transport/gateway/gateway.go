package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
)

// Gateway is the public door: an http.Handler that answers /healthz,
// /readyz and /metrics, and proxies the routes of its table to the
// upstream services. Make one with New; Close it when done.
type Gateway struct {
	cfg      Config
	routes   []*route
	ups      []*upstream // sorted by name
	proxy    *httputil.ReverseProxy
	limits   *limiters
	m        *metrics
	ready    http.Handler
	health   http.Handler
	metrics  http.Handler
	cors     []string   // allowed origins; "*" for any
	corsMeth string     // Access-Control-Allow-Methods
	info     log.Logger // nil: no access log (Config.Logger unset)
	warn     log.Logger

	closeOnce sync.Once
}

// class is a route class as the gateway applies it.
type class struct {
	name    string
	timeout time.Duration
	limits  ClassLimits
}

// CORSAllowHeaders are the request headers a browser may send from an
// allowed origin.
const CORSAllowHeaders = "Authorization, Content-Type, Idempotency-Key, X-Request-ID"

// corsExposeHeaders are the response headers scripts of an allowed origin
// may read.
const corsExposeHeaders = "X-Request-ID, Retry-After, Location"

// New returns a gateway configured by cfg (see Config for what is required
// and the defaults), following every upstream's instancer at once. The
// error names the field of cfg that is wrong.
func New(cfg Config) (*Gateway, error) {
	logs := cfg.Logger != nil
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	g := &Gateway{
		cfg:     cfg,
		m:       m,
		limits:  newLimiters(cfg.MaxLimiterKeys, cfg.LimiterIdle),
		health:  shophttp.HealthHandler(),
		metrics: shophttp.MetricsHandler(cfg.Registry),
		cors:    slices.Clone(cfg.CORSOrigins),
	}
	if logs {
		g.info, g.warn = level.Info(cfg.Logger), level.Warn(cfg.Logger)
	}
	names := make([]string, 0, len(cfg.Upstreams))
	for name := range cfg.Upstreams {
		names = append(names, name)
	}
	slices.Sort(names)
	byName := map[string]*upstream{}
	checks := make([]shophttp.Check, 0, len(names))
	probe := &http.Client{Transport: cfg.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, name := range names {
		up := newUpstream(name, cfg.Upstreams[name], cfg.Breakers, cfg.maxTimeout(name), cfg.Logger, m)
		g.ups = append(g.ups, up)
		byName[name] = up
		checks = append(checks, shophttp.Check{Name: name, Func: func(ctx context.Context) error {
			return up.ready(ctx, probe, cfg.HealthPath)
		}})
	}
	g.ready = shophttp.ReadyHandler(checks...)
	classes := map[string]*class{}
	var methods []string
	for _, r := range cfg.Routes {
		segs, _ := parsePattern(r.Pattern) // checked by withDefaults
		c := classes[r.Class]
		if c == nil {
			c = &class{name: r.Class, timeout: DefaultTimeout, limits: cfg.Limits[r.Class]}
			if d, ok := cfg.Timeouts[r.Class]; ok {
				c.timeout = d
			}
			classes[r.Class] = c
		}
		g.routes = append(g.routes, &route{Route: r, name: r.String(), segments: segs, up: byName[r.Service], class: c})
		if !slices.Contains(methods, r.Method) {
			methods = append(methods, r.Method)
		}
		if r.Method == http.MethodGet && !slices.Contains(methods, http.MethodHead) {
			methods = append(methods, http.MethodHead)
		}
	}
	slices.Sort(methods)
	g.corsMeth = strings.Join(methods, ", ")
	g.proxy = &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      &balancer{next: cfg.Transport, attempts: cfg.Attempts},
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.errorHandler,
		// The proxy's own complaints (a body cut off mid-copy) go to the
		// gateway's logger, never to the standard library's global one.
		ErrorLog:   stdlog.New(log.NewStdlibAdapter(level.Warn(log.With(cfg.Logger, "component", "reverseproxy"))), "", 0),
		BufferPool: newBufferPool(),
	}
	return g, nil
}

// Close stops following the instancers (which stay the caller's to stop),
// closes the idle connections to the upstreams and takes the gateway's
// metrics off the registry. Requests in flight finish.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		for _, up := range g.ups {
			up.close()
		}
		if t, ok := g.cfg.Transport.(interface{ CloseIdleConnections() }); ok {
			t.CloseIdleConnections()
		}
		g.m.unregister(g.cfg.Registry)
	})
	return nil
}

// local returns the handler of Config.Local for path and its key: the exact
// path, else the longest directory key holding it; nil when none does.
func (g *Gateway) local(path string) (http.Handler, string) {
	if h, ok := g.cfg.Local[path]; ok {
		return h, path
	}
	var best string
	for key := range g.cfg.Local {
		if key != "/" && strings.HasSuffix(key, "/") && strings.HasPrefix(path, key) && len(key) > len(best) {
			best = key
		}
	}
	if best == "" {
		return nil, ""
	}
	return g.cfg.Local[best], best
}

// ServeHTTP answers one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get(shophttp.RequestIDHeader)
	if !validRequestID(id) {
		id = shophttp.NewRequestID()
	}
	w.Header().Set(shophttp.RequestIDHeader, id)
	lw := &logWriter{ResponseWriter: w}
	st := &state{requestID: id}
	ctx := shop.WithRequestID(r.Context(), id)
	r = r.WithContext(context.WithValue(ctx, stateKey{}, st))
	defer g.finish(lw, r, st, start)
	g.serve(lw, r, st)
}

// serve is ServeHTTP after the request ID.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, st *state) {
	if len(g.cors) > 0 && g.corsAnswered(w, r, st) {
		return
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		switch r.URL.Path {
		case "/healthz":
			st.label = "GET /healthz"
			g.health.ServeHTTP(w, r)
			return
		case "/readyz":
			st.label = "GET /readyz"
			g.ready.ServeHTTP(w, r)
			return
		case "/metrics":
			st.label = "GET /metrics"
			g.metrics.ServeHTTP(w, r)
			return
		}
	}
	if !safePath(r) {
		shophttp.EncodeError(r.Context(), shop.E(shop.ErrNotFound, "route_not_found", "no route for %s %s", r.Method, r.URL.EscapedPath()), w)
		return
	}
	rt, other := findRoute(g.routes, r.Method, r.URL.Path)
	if rt == nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if h, key := g.local(r.URL.Path); h != nil {
			st.label = "GET " + key
			h.ServeHTTP(w, r)
			return
		}
	}
	if rt == nil {
		if other {
			w.Header().Set("Allow", g.allow(r.URL.Path))
			shophttp.EncodeError(r.Context(), fmt.Errorf("%w: %s does not serve %s", shophttp.ErrMethodNotAllowed, r.URL.Path, r.Method), w)
			return
		}
		shophttp.EncodeError(r.Context(), shop.E(shop.ErrNotFound, "route_not_found", "no route for %s %s", r.Method, r.URL.Path), w)
		return
	}
	st.rt = rt

	// The token: required where the route says so; otherwise checked only
	// to find the user of the per-user limits (the upstream decides).
	var who shop.Identity
	authz := r.Header.Get("Authorization")
	token, bearer := shophttp.BearerToken(authz)
	switch {
	case rt.Auth && authz == "":
		shophttp.EncodeError(r.Context(), shop.E(shop.ErrUnauthenticated, "missing_token", "authentication required: send Authorization: Bearer <token>"), w)
		return
	case rt.Auth && !bearer:
		shophttp.EncodeError(r.Context(), shop.E(shop.ErrUnauthenticated, "invalid_token", "the Authorization header must be \"Bearer <token>\""), w)
		return
	case bearer && g.cfg.Verifier != nil:
		id, err := g.cfg.Verifier.Verify(r.Context(), token)
		if err != nil && rt.Auth {
			if shop.KindOf(err) == nil {
				err = shop.E(shop.ErrUnauthenticated, "invalid_token", "the token is not valid")
			}
			shophttp.EncodeError(r.Context(), err, w)
			return
		}
		if err == nil {
			who = id
		}
	}

	if l := rt.class.limits; !l.PerIP.none() || !l.PerUser.none() {
		now := time.Now()
		if !l.PerIP.none() {
			if d := g.limits.allow("ip\x00"+rt.Class+"\x00"+g.cfg.ClientIP(r), l.PerIP, now); d > 0 {
				g.limited(w, r, rt, "ip", d)
				return
			}
		}
		if !l.PerUser.none() && who.UserID != "" {
			if d := g.limits.allow("user\x00"+rt.Class+"\x00"+who.UserID, l.PerUser, now); d > 0 {
				g.limited(w, r, rt, "user", d)
				return
			}
		}
	}
	g.proxy.ServeHTTP(w, r)
}

// limited answers 429 rate_limited.
func (g *Gateway) limited(w http.ResponseWriter, r *http.Request, rt *route, scope string, wait time.Duration) {
	g.m.rateLimited.WithLabelValues(rt.Class, scope).Inc()
	secs := int((wait + time.Second - 1) / time.Second)
	shophttp.EncodeError(r.Context(), &shop.Error{
		Kind: shop.ErrTooManyRequests, Code: "rate_limited",
		Message:    fmt.Sprintf("too many requests; try again in %d s", secs),
		RetryAfter: wait,
	}, w)
}

// allow returns the methods path is routed for, for an Allow header.
func (g *Gateway) allow(path string) string {
	var ms []string
	for _, rt := range g.routes {
		if rt.match(path) && !slices.Contains(ms, rt.Method) {
			ms = append(ms, rt.Method)
			if rt.Method == http.MethodGet {
				ms = append(ms, http.MethodHead)
			}
		}
	}
	slices.Sort(ms)
	return strings.Join(ms, ", ")
}

// corsAnswered sets the CORS headers of an allowed origin, and answers a
// preflight (reporting true).
func (g *Gateway) corsAnswered(w http.ResponseWriter, r *http.Request, st *state) bool {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
	allowed := origin != "" && g.originAllowed(origin)
	if preflight {
		st.label = "OPTIONS (preflight)"
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", g.corsMeth)
			h.Set("Access-Control-Allow-Headers", CORSAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
		}
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	if allowed {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	}
	return false
}

func (g *Gateway) originAllowed(origin string) bool {
	for _, o := range g.cors {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// rewrite makes the outgoing request: the balancer fills in the instance.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	st, _ := pr.In.Context().Value(stateKey{}).(*state)
	pr.Out.URL.Scheme = "http"
	if st != nil && st.rt != nil {
		pr.Out.URL.Host = st.rt.Service
		pr.Out.Header.Set(shophttp.RequestIDHeader, st.requestID)
	}
	pr.Out.Host = ""
	pr.SetXForwarded()
}

// modifyResponse hides what is behind the gateway in an upstream's answer:
// its Server and X-Powered-By headers, a Location naming the instance, its
// own CORS headers (the gateway answers for CORS) and a non-JSON 5xx body.
func (g *Gateway) modifyResponse(resp *http.Response) error {
	h := resp.Header
	h.Del("Server")
	h.Del("X-Powered-By")
	h.Del(shophttp.RequestIDHeader) // the gateway sets it
	if loc := h.Get("Location"); loc != "" && resp.Request != nil {
		// A redirect to the instance itself becomes one to the gateway.
		if u, err := url.Parse(loc); err == nil && u.Host != "" && strings.EqualFold(u.Host, resp.Request.URL.Host) {
			u.Scheme, u.Host, u.User = "", "", nil
			h.Set("Location", u.String())
		}
	}
	if len(g.cors) > 0 {
		for k := range h {
			if strings.HasPrefix(k, "Access-Control-") {
				delete(h, k) // the gateway answers for CORS
			}
		}
	}
	if resp.StatusCode < 500 || isJSON(h) {
		return nil
	}
	st, _ := resp.Request.Context().Value(stateKey{}).(*state)
	service := "upstream"
	if st != nil && st.rt != nil {
		service = st.rt.Service
	}
	status, kind, code, msg := http.StatusBadGateway, shop.ErrUnavailable, "upstream_bad_response", fmt.Sprintf("the %s service answered with an error; try again later", service)
	switch resp.StatusCode {
	case http.StatusServiceUnavailable:
		status, code, msg = http.StatusServiceUnavailable, service+"_unavailable", fmt.Sprintf("the %s service is unavailable; try again later", service)
	case http.StatusGatewayTimeout:
		status, code, msg = http.StatusGatewayTimeout, "upstream_timeout", fmt.Sprintf("the %s service did not answer in time", service)
	}
	if st != nil {
		st.upErr = fmt.Errorf("non-JSON HTTP %d from the upstream", resp.StatusCode)
	}
	resp.Body.Close()
	body := errorBody(kind, code, msg)
	for k := range h {
		if k != "Retry-After" && k != "Date" {
			delete(h, k)
		}
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	resp.StatusCode, resp.Status = status, ""
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.TransferEncoding = nil
	resp.Uncompressed = false
	return nil
}

// errorHandler answers a request the balancer could not get an answer for.
func (g *Gateway) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	st, _ := r.Context().Value(stateKey{}).(*state)
	service := "upstream"
	if st != nil && st.rt != nil {
		service = st.rt.Service
	}
	if st != nil {
		st.upErr = err
	}
	var status int
	var body []byte
	switch {
	case r.Context().Err() != nil:
		w.WriteHeader(499) // the client went away: nobody reads it, the log does
		return
	case errors.Is(err, errTimeout):
		status = http.StatusGatewayTimeout
		body = errorBody(shop.ErrUnavailable, "upstream_timeout", fmt.Sprintf("the %s service did not answer in time", service))
	case errors.Is(err, errUnavailable):
		status = http.StatusServiceUnavailable
		body = errorBody(shop.ErrUnavailable, service+"_unavailable", fmt.Sprintf("the %s service is unavailable; try again later", service))
		w.Header().Set("Retry-After", "1")
	default:
		status = http.StatusBadGateway
		body = errorBody(shop.ErrUnavailable, "upstream_bad_response", fmt.Sprintf("the %s service answered with an error; try again later", service))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}

// errorBody is the shop's error shape.
func errorBody(kind *shop.Kind, code, message string) []byte {
	b, _ := json.Marshal(shophttp.ErrorBody{Error: shop.ErrorDetail{Kind: kind.Code(), Code: code, Message: message}})
	return append(b, '\n')
}

// finish writes the access-log line and the request's metrics.
func (g *Gateway) finish(w *logWriter, r *http.Request, st *state, start time.Time) {
	latency := time.Since(start)
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	label, service := st.label, ""
	if st.rt != nil {
		label, service = st.rt.name, st.rt.Service
	}
	if label == "" {
		label = "unmatched"
	}
	code := strconv.Itoa(status)
	g.m.requests.WithLabelValues(label, code).Inc()
	g.m.latency.WithLabelValues(label, code).Observe(latency.Seconds())
	if g.info == nil {
		return
	}
	kv := []any{
		"msg", "request", "request_id", st.requestID, "method", r.Method, "path", r.URL.Path,
		"route", label, "service", service, "instance", st.instance,
		"status", status, "bytes", w.bytes, "latency", latency, "client_ip", g.cfg.ClientIP(r),
	}
	if st.upErr != nil {
		kv = append(kv, "upstream_error", st.upErr.Error())
	}
	logger := g.info
	if status >= 500 {
		logger = g.warn
	}
	logger.Log(kv...)
}

// logWriter records the status and size of an answer.
type logWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends what is buffered to the client, for streamed answers.
func (w *logWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// validRequestID is shophttp's rule for a caller's X-Request-ID: at most
// 128 printable ASCII characters.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// bufferPool is the reverse proxy's pool of copy buffers (32 KiB each).
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(p []byte) { b.p.Put(&p) }
