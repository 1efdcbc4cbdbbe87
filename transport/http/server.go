package http

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-kit/kit/transport"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/kitshop/shop"
)

// ServerOptions returns the go-kit server options every kitshop handler
// uses: the shop's error encoder, logging of transport errors, and bearer
// token authentication with v.
func ServerOptions(logger log.Logger, v Verifier) []kithttp.ServerOption {
	return []kithttp.ServerOption{
		kithttp.ServerErrorEncoder(EncodeError),
		kithttp.ServerErrorHandler(logUnexpected(logger)),
		kithttp.ServerBefore(Authenticate(v), KeepToken),
	}
}

// logUnexpected logs the errors a handler meets that are not the caller's
// fault: a rejected request (bad JSON, a body over the limit, any error with
// a kind) is answered, not logged, so bad clients cannot flood the log.
func logUnexpected(logger log.Logger) transport.ErrorHandler {
	return transport.ErrorHandlerFunc(func(ctx context.Context, err error) {
		if shop.KindOf(err) != nil || errors.Is(err, ErrBodyTooLarge) || errors.Is(err, context.Canceled) {
			return
		}
		logger.Log("msg", "request failed", "request_id", shop.RequestIDFrom(ctx), "err", err)
	})
}

// ClientOptions returns the go-kit client options every kitshop client uses:
// a fresh HTTP client with a 10 second timeout and enough idle connections
// for a busy service, the request ID passed on, and the bearer token from
// token (nil: the token of the incoming request, see KeepToken). Options
// given later, such as kithttp.SetClient, override these.
func ClientOptions(token func() (string, error)) []kithttp.ClientOption {
	return []kithttp.ClientOption{
		kithttp.SetClient(NewClient(10 * time.Second)),
		kithttp.ClientBefore(PassRequestID, PassToken(token)),
	}
}

// NewClient returns an HTTP client for calls between services: whole-call
// timeout, and up to 256 idle connections per host (Go's default of 2 makes a
// busy client open and close connections all the time).
func NewClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return &http.Client{Timeout: timeout, Transport: t}
}

// ErrMethodNotAllowed is the error for a known path asked with a method it
// does not serve; the error encoder answers it with 405.
var ErrMethodNotAllowed = errors.New("method not allowed")

// Routes completes mux so that a request no route matches is answered in the
// shop's JSON error shape: 404 "route_not_found" for an unknown path, and 405
// "method_not_allowed" with an Allow header for a known path asked with
// another method (net/http's ServeMux would answer both in plain text). It
// registers the catch-all pattern "/" on mux, so mux must not have one, and
// returns mux. Matched requests pay nothing extra.
func Routes(mux *http.ServeMux) http.Handler {
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if m == r.Method {
				continue
			}
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			NotFound().ServeHTTP(w, r)
			return
		}
		slices.Sort(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		EncodeError(r.Context(), fmt.Errorf("%w: %s does not serve %s", ErrMethodNotAllowed, r.URL.Path, r.Method), w)
	}))
	return mux
}

// NotFound answers any request no route matched with a JSON 404, in the same
// shape as every other error.
func NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		EncodeError(r.Context(), shop.E(shop.ErrNotFound, "route_not_found", "no route for %s %s", r.Method, r.URL.Path), w)
	})
}

// InstanceURL parses the address of a service instance, given as a base URL
// ("http://10.0.0.7:5002", "https://catalog.internal/api") or as host:port
// (taken as http), into a base URL without a trailing slash, query or
// fragment. Anything else is an error naming the address.
func InstanceURL(instance string) (*url.URL, error) {
	s := strings.TrimSpace(instance)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("instance %q is not an http(s) base URL or host:port", instance)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}
