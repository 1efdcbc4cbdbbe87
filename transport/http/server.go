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

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/kitshop/shop"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ServerOptions returns the go-kit server options every kitshop handler
// uses: the shop's error encoder, logging of server errors to logger, and
// bearer token authentication with v.
//
// A request answered 500 (an error without a kind, from the decoder, the
// endpoint, or inside the response as an endpoint.Failer) is logged once at
// error level with its request ID, method, path and cause, and another 5xx
// (a timeout, a service unavailable) at warn level; see EncodeError. 4xx
// answers are the caller's fault and are not logged here, so bad clients
// cannot flood the log.
func ServerOptions(logger log.Logger, v shop.Verifier) []kithttp.ServerOption {
	return []kithttp.ServerOption{
		kithttp.ServerErrorEncoder(EncodeError),
		kithttp.ServerBefore(logServerErrors(logger), Authenticate(v), KeepToken),
	}
}

// serverErrorLogKey is the context key of a request's serverErrorLog.
type serverErrorLogKey struct{}

// serverErrorLog is where EncodeError logs a request's 5xx answer.
type serverErrorLog struct {
	logger       log.Logger
	method, path string
}

// logServerErrors is a go-kit server RequestFunc that makes EncodeError log
// the request's 5xx answer to logger.
func logServerErrors(logger log.Logger) kithttp.RequestFunc {
	return func(ctx context.Context, r *http.Request) context.Context {
		return context.WithValue(ctx, serverErrorLogKey{}, &serverErrorLog{logger: logger, method: r.Method, path: r.URL.Path})
	}
}

// logServerError logs err, answered with status, if status is a 5xx and ctx
// comes from a server built with ServerOptions: a 500 at error level, another
// 5xx at warn.
func logServerError(ctx context.Context, status int, err error) {
	if status < 500 || ctx == nil {
		return
	}
	l, _ := ctx.Value(serverErrorLogKey{}).(*serverErrorLog)
	if l == nil {
		return
	}
	lvl := level.Warn
	if status == http.StatusInternalServerError {
		lvl = level.Error
	}
	lvl(l.logger).Log("msg", "request failed", "request_id", shop.RequestIDFrom(ctx),
		"method", l.method, "path", l.path, "status", status, "err", err)
}

// ClientOptions returns the go-kit client options every kitshop client uses:
// a fresh HTTP client with a 10 second timeout and enough idle connections
// for a busy service, the request ID passed on, and the bearer token from
// token (nil: the token of the incoming request, see KeepToken). Options
// given later, such as kithttp.SetClient, override these.
func ClientOptions(token func() (string, error)) []kithttp.ClientOption {
	return []kithttp.ClientOption{
		kithttp.SetClient(NewClient(10 * time.Second)),
		kithttp.ClientBefore(PassRequestID, PassToken(token), PassTraceContext),
	}
}

// PassTraceContext is a client RequestFunc that puts the trace context of
// ctx in the request's headers (W3C traceparent, with the process's
// propagator), so the called service's spans join the caller's trace. With
// tracing off it adds nothing.
func PassTraceContext(ctx context.Context, r *http.Request) context.Context {
	if trace.SpanContextFromContext(ctx).IsValid() {
		otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(r.Header))
	}
	return ctx
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
