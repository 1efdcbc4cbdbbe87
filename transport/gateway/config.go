package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
)

// The defaults of Config.
const (
	// DefaultTimeout is a route class's timeout when Config.Timeouts names
	// none for it.
	DefaultTimeout = 10 * time.Second
	// DefaultAttempts is how many instances a GET or HEAD tries at most.
	DefaultAttempts = 3
	// DefaultMaxLimiterKeys bounds the rate limiters kept at once.
	DefaultMaxLimiterKeys = 100_000
	// DefaultLimiterIdle is how long an unused rate limiter is kept.
	DefaultLimiterIdle = 10 * time.Minute
)

// Limit is one token bucket: Rate tokens a second, at most Burst at once.
// A request takes one token; with none left it is answered 429. The zero
// Limit limits nothing.
type Limit struct {
	// Rate is the sustained rate in requests per second (rate.Inf, or 0
	// with Burst 0, for no limit).
	Rate rate.Limit
	// Burst is how many requests may come at once after a quiet spell.
	Burst int
}

func (l Limit) none() bool { return (l.Rate == 0 && l.Burst == 0) || l.Rate == rate.Inf }

// ClassLimits are the rate limits of one route class: per client IP (every
// request) and per authenticated user (requests with a valid bearer token),
// each a bucket of its own per IP or user and class.
type ClassLimits struct {
	PerIP   Limit
	PerUser Limit
}

// DefaultLimits returns the limits Config uses when Limits is nil: per IP,
// 2 requests a second (burst 10) on ClassAuth, 100 (burst 200) on
// ClassRead, 20 (burst 40) on ClassWrite; per user, 50 (burst 100) on
// ClassRead and 10 (burst 20) on ClassWrite.
func DefaultLimits() map[string]ClassLimits {
	return map[string]ClassLimits{
		ClassAuth:  {PerIP: Limit{Rate: 2, Burst: 10}},
		ClassRead:  {PerIP: Limit{Rate: 100, Burst: 200}, PerUser: Limit{Rate: 50, Burst: 100}},
		ClassWrite: {PerIP: Limit{Rate: 20, Burst: 40}, PerUser: Limit{Rate: 10, Burst: 20}},
	}
}

// Config configures New. Upstreams is required, and so are Verifier when a
// route needs a token and Registry; every other field has a default.
type Config struct {
	// Upstreams maps each service named by a route to the instancer of its
	// instances (a discovery.StaticInstancer, a Consul instancer). The
	// instances are base URLs or host:port, as shophttp.InstanceURL reads
	// them. The instancers stay the caller's: Close does not stop them.
	Upstreams map[string]sd.Instancer
	// Routes is the route table, tried in order (default DefaultRoutes()).
	Routes []Route
	// Verifier checks the bearer tokens of routes with Auth (user.Tokens
	// with the services' key). Required when a route has Auth.
	Verifier shop.Verifier
	// Limits are the rate limits per route class (nil: DefaultLimits(); a
	// class not in the map is not limited, so an empty map limits nothing).
	Limits map[string]ClassLimits
	// Timeouts bound, per route class, the wait for an upstream's response
	// headers, every attempt and the request's body included (default
	// DefaultTimeout for a class not in the map). The response's body then
	// streams for as long as the client reads it. A timeout is a 504
	// upstream_timeout.
	Timeouts map[string]time.Duration
	// Attempts is how many instances a GET or HEAD without a body tries at
	// most, the first included, when one refuses the connection or answers
	// 502 or 503 (default DefaultAttempts; 1 never retries). Other methods
	// go to another instance only when the first was never sent anything
	// (its breaker refused the call).
	Attempts int
	// Breakers makes the circuit breaker of each upstream instance
	// (default discovery.GoBreakers with its default settings: open after 5
	// failures in a row, for 5 s; discovery.HystrixBreakers works too, but
	// keeps its circuits in hystrix-go's global tables). A failure is a refused or broken
	// connection, a timeout, or a 500, 502 or 504 answer, or a 503 that is
	// not the shop's JSON error shape; a service's own JSON 503 (its
	// dependency is down) is its answer, and counts as a success.
	Breakers discovery.BreakerFactory
	// CORSOrigins are the origins browsers may call the gateway from
	// ("https://shop.example.com"; "*" for any). Empty: no CORS headers.
	CORSOrigins []string
	// Local are pages the gateway serves itself, for GET and HEAD: a key
	// is an exact path ("/openapi.yaml", "/"), or, ending in a slash
	// other than "/", a directory whose paths it all takes ("/assets/").
	// A route of Routes wins over them; the token check and the rate limits
	// do not apply. Their label in metrics and logs is "GET <key>".
	Local map[string]http.Handler
	// Transport carries the requests to the upstreams (default
	// NewTransport(); wrap it to trace them, as otelhttp.NewTransport
	// does). Close closes its idle connections when it can.
	Transport http.RoundTripper
	// Logger gets the access log, one line a request, and the breakers'
	// changes of state (default: nowhere).
	Logger log.Logger
	// Registry is where the gateway registers its metrics and what /metrics
	// serves. Required: pass prometheus.NewRegistry(), never the global one.
	Registry *prometheus.Registry
	// ClientIP returns the client's address, the key of the per-IP limits
	// (default: the host of the request's RemoteAddr). Behind a load
	// balancer of your own, read the header it sets here; the gateway never
	// trusts X-Forwarded-For by itself.
	ClientIP func(r *http.Request) string
	// MaxLimiterKeys bounds how many IPs and users have a rate limiter at
	// once (default DefaultMaxLimiterKeys); past it, the least recently
	// used ones are dropped.
	MaxLimiterKeys int
	// HealthPath is what /readyz asks each upstream instance for: a service
	// is ready when an instance whose breaker is not open answers it with
	// 200 within a second (default "/healthz").
	HealthPath string
	// LimiterIdle is how long an unused limiter is kept before it is
	// dropped (default DefaultLimiterIdle; a limiter idle long enough to
	// have refilled its bucket is dropped anyway, since a new one is the
	// same).
	LimiterIdle time.Duration
}

// withDefaults returns c with the defaults filled in and checks it; the
// errors name the field.
func (c Config) withDefaults() (Config, error) {
	if len(c.Upstreams) == 0 {
		return c, errors.New("gateway: Config.Upstreams is empty: want the instancer of every service")
	}
	for name, in := range c.Upstreams {
		if name == "" || strings.ContainsAny(name, " /\t") {
			return c, fmt.Errorf("gateway: Config.Upstreams: service name %q must be a non-empty word", name)
		}
		if in == nil {
			return c, fmt.Errorf("gateway: Config.Upstreams[%q] is nil", name)
		}
	}
	if c.Routes == nil {
		c.Routes = DefaultRoutes()
	}
	if len(c.Routes) == 0 {
		return c, errors.New("gateway: Config.Routes is empty")
	}
	auth := false
	seen := map[string]bool{}
	for i, r := range c.Routes {
		if !validMethod(r.Method) {
			return c, fmt.Errorf("gateway: Config.Routes[%d].Method %q is not an HTTP method in upper case", i, r.Method)
		}
		if _, err := parsePattern(r.Pattern); err != nil {
			return c, fmt.Errorf("gateway: Config.Routes[%d].Pattern: %w", i, err)
		}
		if _, ok := c.Upstreams[r.Service]; !ok {
			return c, fmt.Errorf("gateway: Config.Routes[%d].Service %q (%s) is not in Config.Upstreams", i, r.Service, r)
		}
		if r.Class == "" {
			return c, fmt.Errorf("gateway: Config.Routes[%d].Class is empty (%s)", i, r)
		}
		if seen[r.String()] {
			return c, fmt.Errorf("gateway: Config.Routes[%d]: %s is listed twice", i, r)
		}
		seen[r.String()] = true
		auth = auth || r.Auth
	}
	if auth && c.Verifier == nil {
		return c, errors.New("gateway: Config.Verifier is nil, and routes need a token")
	}
	if c.Limits == nil {
		c.Limits = DefaultLimits()
	}
	for class, l := range c.Limits {
		for _, x := range []struct {
			name string
			l    Limit
		}{{"PerIP", l.PerIP}, {"PerUser", l.PerUser}} {
			if x.l.Rate < 0 || x.l.Burst < 0 || (!x.l.none() && (x.l.Burst == 0 || x.l.Rate == 0)) {
				return c, fmt.Errorf("gateway: Config.Limits[%q].%s is %v a second, burst %d: want a rate above 0 and a burst of at least 1, or both 0 for none", class, x.name, float64(x.l.Rate), x.l.Burst)
			}
		}
	}
	for class, d := range c.Timeouts {
		if d <= 0 {
			return c, fmt.Errorf("gateway: Config.Timeouts[%q] is %v, want more than 0", class, d)
		}
	}
	switch {
	case c.Attempts < 0:
		return c, fmt.Errorf("gateway: Config.Attempts is %d, want 1 or more (0 for the default)", c.Attempts)
	case c.Attempts == 0:
		c.Attempts = DefaultAttempts
	}
	if c.Breakers == nil {
		c.Breakers = discovery.GoBreakers(discovery.GoBreakerSettings{})
	}
	c.CORSOrigins = slices.Clone(c.CORSOrigins)
	for i, o := range c.CORSOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return c, fmt.Errorf("gateway: Config.CORSOrigins[%d] %q is not an origin such as https://shop.example.com", i, o)
		}
		c.CORSOrigins[i] = u.Scheme + "://" + strings.ToLower(u.Host)
	}
	if c.Transport == nil {
		c.Transport = NewTransport()
	}
	if c.Logger == nil {
		c.Logger = log.NewNopLogger()
	}
	if c.Registry == nil {
		return c, errors.New("gateway: Config.Registry is nil: want a registry such as prometheus.NewRegistry()")
	}
	if c.ClientIP == nil {
		c.ClientIP = remoteIP
	}
	switch {
	case c.MaxLimiterKeys < 0:
		return c, fmt.Errorf("gateway: Config.MaxLimiterKeys is %d, want 0 (default) or more", c.MaxLimiterKeys)
	case c.MaxLimiterKeys == 0:
		c.MaxLimiterKeys = DefaultMaxLimiterKeys
	}
	switch {
	case c.LimiterIdle < 0:
		return c, fmt.Errorf("gateway: Config.LimiterIdle is %v, want 0 (default) or more", c.LimiterIdle)
	case c.LimiterIdle == 0:
		c.LimiterIdle = DefaultLimiterIdle
	}
	switch {
	case c.HealthPath == "":
		c.HealthPath = "/healthz"
	case !strings.HasPrefix(c.HealthPath, "/"):
		return c, fmt.Errorf("gateway: Config.HealthPath is %q, want a path starting with /", c.HealthPath)
	}
	return c, nil
}

// maxTimeout returns the longest timeout of the routes to service.
func (c Config) maxTimeout(service string) time.Duration {
	longest := time.Duration(0)
	for _, r := range c.Routes {
		if r.Service != service {
			continue
		}
		d, ok := c.Timeouts[r.Class]
		if !ok {
			d = DefaultTimeout
		}
		longest = max(longest, d)
	}
	return max(longest, time.Second)
}

func validMethod(m string) bool {
	return slices.Contains([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, m)
}

// remoteIP is the host of r.RemoteAddr.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// NewTransport returns the http.Transport the gateway uses by default,
// tuned for proxying: Go's default keeps 2 idle connections per host, so a
// proxy under load keeps opening and closing connections to each upstream;
// this one keeps up to 256 per host (1024 in all) for 90 s, and bounds the
// dial and the TLS handshake.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil, // the upstreams are reached directly, never through HTTP_PROXY
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false,
	}
}
