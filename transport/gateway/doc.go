// Package gateway is the shop's public door: one HTTP handler in front of
// the services, a reverse proxy (never a redirect) that routes each request
// of the public API by method and path to the service that owns it.
//
// For every request the gateway, in this order: takes the caller's
// X-Request-ID or makes one; answers CORS preflights for the configured
// origins; answers /healthz, /readyz and /metrics itself; finds the route
// (anything not in the route table, internal routes included, is a 404
// route_not_found); checks the bearer token where the route needs one (401
// at the door; the service checks it again, and gets the Authorization
// header unchanged); applies the rate limits of the route's class, per
// client IP and per user (429 rate_limited with Retry-After); and proxies
// the request to one instance of the route's service, balanced round robin
// across the instances its sd.Instancer reports, through a circuit breaker
// per instance, within the timeout of the route's class, retrying GET and
// HEAD on another instance when one fails. Bodies are streamed both ways,
// never buffered whole. It writes one access-log line per request.
//
// It never shows what is behind it: an upstream's non-JSON error page, a
// refused connection, an open breaker or a timeout become the shop's error
// shape (502 upstream_bad_response, 503 <service>_unavailable, 504
// upstream_timeout), without an internal address or a Go error string, and
// the upstream's Server and X-Powered-By headers are dropped. Its /metrics
// names upstream instances "<service>-<n>", never by address; the log line
// "instance found" tells which is which.
//
// The gateway bounds the wait for an upstream; bounding slow clients is the
// http.Server's job: serve it with ReadHeaderTimeout and IdleTimeout set.
//
// A gateway in front of the four services on static addresses:
//
//	tokens, _ := user.NewTokens(key)
//	ups := map[string]sd.Instancer{}
//	for name, list := range map[string]string{"user": "127.0.0.1:5001", ...} {
//		ups[name], _ = discovery.ParseStaticInstancer(list)
//	}
//	gw, err := gateway.New(gateway.Config{Upstreams: ups, Verifier: tokens, Registry: prometheus.NewRegistry()})
//	...
//	defer gw.Close()
//	http.ListenAndServe(":8080", gw)
package gateway
