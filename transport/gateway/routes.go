package gateway

import (
	"fmt"
	"net/http"
	"strings"
)

// The route classes of DefaultRoutes. A class groups routes that share a
// timeout and rate limits; Config may use classes of its own.
const (
	// ClassAuth is logging in and registering: the strictest limits, since
	// a password guesser works there.
	ClassAuth = "auth"
	// ClassRead is the reads (GET).
	ClassRead = "read"
	// ClassWrite is the other changes (POST, PATCH, DELETE).
	ClassWrite = "write"
)

// Route is one entry of the route table: requests with Method on a path
// matching Pattern go to the service Service.
type Route struct {
	// Method is the HTTP method ("GET", "POST", ...). A GET route also
	// takes HEAD.
	Method string
	// Pattern is the path, with "{name}" for a segment that takes any
	// non-empty value: "/products/{id}". It matches whole paths only: no
	// trailing slash, no prefix matching.
	Pattern string
	// Service names the upstream, a key of Config.Upstreams ("catalog").
	Service string
	// Class is the route's class (ClassAuth, ClassRead, ClassWrite or one
	// of Config's own): it chooses the timeout and the rate limits.
	Class string
	// Auth says the route needs a valid bearer token: a request without
	// one is answered 401 at the door.
	Auth bool
}

// String returns "METHOD PATTERN", the route's name in logs and metrics.
func (r Route) String() string { return r.Method + " " + r.Pattern }

// DefaultRoutes returns the shop's public API (the README's table) as a
// route table: user's /register, /login and /users..., catalog's
// /products..., inventory's /inventory/... and order's /orders.... The
// services' internal routes (reservations, events, dead letters) are not in
// it, so the gateway answers them 404.
func DefaultRoutes() []Route {
	r := func(method, pattern, service, class string, auth bool) Route {
		return Route{Method: method, Pattern: pattern, Service: service, Class: class, Auth: auth}
	}
	return []Route{
		r("POST", "/register", "user", ClassAuth, false),
		r("POST", "/users", "user", ClassAuth, false),
		r("POST", "/login", "user", ClassAuth, false),
		r("GET", "/users", "user", ClassRead, true),
		r("GET", "/users/me", "user", ClassRead, true),
		r("GET", "/users/{id}", "user", ClassRead, true),
		r("POST", "/users/{id}/disable", "user", ClassWrite, true),
		r("POST", "/users/{id}/enable", "user", ClassWrite, true),

		r("GET", "/products", "catalog", ClassRead, false),
		r("POST", "/products", "catalog", ClassWrite, true),
		r("GET", "/products/{id}", "catalog", ClassRead, false),
		r("PATCH", "/products/{id}", "catalog", ClassWrite, true),
		r("DELETE", "/products/{id}", "catalog", ClassWrite, true),

		r("GET", "/inventory/{product_id}", "inventory", ClassRead, false),
		r("POST", "/inventory/{product_id}", "inventory", ClassWrite, true),
		r("DELETE", "/inventory/{product_id}", "inventory", ClassWrite, true),

		r("POST", "/orders", "order", ClassWrite, true),
		r("GET", "/orders", "order", ClassRead, true),
		r("GET", "/orders/{id}", "order", ClassRead, true),
		r("POST", "/orders/{id}/pay", "order", ClassWrite, true),
		r("POST", "/orders/{id}/cancel", "order", ClassWrite, true),
		r("POST", "/orders/{id}/refund", "order", ClassWrite, true),
	}
}

// route is a Route ready to match.
type route struct {
	Route
	name     string   // Route.String()
	segments []string // the pattern's segments; "" is a wildcard
	up       *upstream
	class    *class
}

// parsePattern splits a pattern into segments, "" standing for "{name}".
func parsePattern(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("pattern %q must start with /", p)
	}
	if p == "/" {
		return []string{}, nil
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		switch {
		case s == "":
			return nil, fmt.Errorf("pattern %q has an empty segment", p)
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && len(s) > 2:
			parts[i] = ""
		case strings.ContainsAny(s, "{}"):
			return nil, fmt.Errorf("pattern %q: segment %q must be a literal or a whole {name}", p, s)
		case s == "." || s == "..":
			return nil, fmt.Errorf("pattern %q has a %q segment", p, s)
		}
	}
	return parts, nil
}

// match reports whether path (cleaned, starting with /) matches the
// route's segments.
func (r *route) match(path string) bool {
	rest := path[1:]
	if len(r.segments) == 0 {
		return rest == ""
	}
	for i, seg := range r.segments {
		var part string
		if i == len(r.segments)-1 {
			part, rest = rest, ""
			if strings.IndexByte(part, '/') >= 0 {
				return false
			}
		} else {
			var ok bool
			part, rest, ok = strings.Cut(rest, "/")
			if !ok {
				return false
			}
		}
		if seg == "" {
			if part == "" {
				return false
			}
		} else if part != seg {
			return false
		}
	}
	return true
}

// safePath reports whether the request's path is one the gateway routes:
// absolute, clean (no "." or ".." segment, no empty segment, no trailing
// slash) and without an escaped slash, so that the upstream sees exactly
// the path the route table matched.
func safePath(r *http.Request) bool {
	p := r.URL.Path
	if p == "" || p[0] != '/' {
		return false
	}
	if len(p) > 1 && p[len(p)-1] == '/' {
		return false
	}
	if strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") {
		return false
	}
	if raw := r.URL.RawPath; raw != "" && (strings.Contains(raw, "%2f") || strings.Contains(raw, "%2F")) {
		return false
	}
	return true
}

// find returns the route of method and path, or nil and whether the path
// matched a route of another method.
func findRoute(routes []*route, method, path string) (*route, bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	other := false
	for _, rt := range routes {
		if rt.match(path) {
			if rt.Method == method {
				return rt, false
			}
			other = true
		}
	}
	return nil, other
}
