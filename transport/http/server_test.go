package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
)

type greetRequest struct {
	Name string `json:"name"`
}

type greetResponse struct {
	Greeting  string `json:"greeting"`
	Caller    string `json:"caller"`
	RequestID string `json:"request_id"`
	Err       error  `json:"-"`
}

func (r greetResponse) Failed() error   { return r.Err }
func (r greetResponse) StatusCode() int { return http.StatusCreated }

// greetEndpoint needs a customer; it fails with a domain error for an empty
// name and with an unexpected error for the name "crash".
func greetEndpoint(ctx context.Context, request any) (any, error) {
	req := request.(greetRequest)
	id, err := shop.RequireRole(ctx, shop.RoleCustomer)
	if err != nil {
		return nil, err
	}
	switch req.Name {
	case "":
		return greetResponse{Err: shop.E(shop.ErrInvalid, "invalid_name", "name is required")}, nil
	case "crash":
		return nil, errors.New("nil map in greeter")
	}
	return greetResponse{Greeting: "hello " + req.Name, Caller: id.UserID, RequestID: shop.RequestIDFrom(ctx)}, nil
}

func decodeGreet(_ context.Context, r *http.Request) (any, error) {
	var req greetRequest
	err := shophttp.DecodeJSON(r, &req, 0)
	return req, err
}

// TestGoKitRoundTrip runs a go-kit server and client built from the shared
// options against each other over real HTTP.
func TestGoKitRoundTrip(t *testing.T) {
	tok := newTokens(t, testKey)
	server := kithttp.NewServer(greetEndpoint, decodeGreet, shophttp.EncodeJSON, shophttp.ServerOptions(log.NewNopLogger(), tok)...)
	mux := http.NewServeMux()
	mux.Handle("POST /greet", server)
	mux.Handle("/", shophttp.NotFound())
	srv := httptest.NewServer(shophttp.WithRequestID(mux))
	defer srv.Close()
	target, _ := url.Parse(srv.URL + "/greet")

	client := func(token func() (string, error)) func(context.Context, any) (any, error) {
		return kithttp.NewClient(http.MethodPost, target, shophttp.EncodeJSONRequest, shophttp.DecodeJSONResponse[greetResponse](),
			shophttp.ClientOptions(token)...).Endpoint()
	}
	asAlice := func() (string, error) { s, _, err := tok.Issue(alice, time.Hour); return s, err }
	ctx := shop.WithRequestID(context.Background(), "trace-123")

	t.Run("success", func(t *testing.T) {
		resp, err := client(asAlice)(ctx, greetRequest{Name: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		got := resp.(greetResponse)
		if got.Greeting != "hello bob" || got.Caller != alice.UserID {
			t.Errorf("response = %+v", got)
		}
		if got.RequestID != "trace-123" {
			t.Errorf("server saw request ID %q, want the client's trace-123", got.RequestID)
		}
	})
	t.Run("domain error", func(t *testing.T) {
		_, err := client(asAlice)(ctx, greetRequest{})
		if !errors.Is(err, shop.ErrInvalid) || shop.CodeOf(err) != "invalid_name" || err.Error() != "name is required" {
			t.Errorf("err = %v (code %q), want invalid invalid_name", err, shop.CodeOf(err))
		}
	})
	t.Run("unexpected error", func(t *testing.T) {
		_, err := client(asAlice)(ctx, greetRequest{Name: "crash"})
		if err == nil || shop.KindOf(err) != nil || strings.Contains(err.Error(), "nil map") {
			t.Errorf("err = %v, want a kindless error without the server's details", err)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		_, err := client(nil)(context.Background(), greetRequest{Name: "bob"})
		if !errors.Is(err, shop.ErrUnauthenticated) || shop.CodeOf(err) != "missing_token" {
			t.Errorf("err = %v (code %q), want unauthenticated missing_token", err, shop.CodeOf(err))
		}
	})
	t.Run("token of the incoming request", func(t *testing.T) {
		s, _ := asAlice()
		resp, err := client(nil)(shophttp.WithToken(ctx, s), greetRequest{Name: "carol"})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.(greetResponse); got.Caller != alice.UserID {
			t.Errorf("caller = %q, want %q", got.Caller, alice.UserID)
		}
	})
	t.Run("wrong role", func(t *testing.T) {
		svc := func() (string, error) {
			s, _, err := tok.Issue(shop.Identity{UserID: "order", Role: shop.RoleService}, time.Hour)
			return s, err
		}
		_, err := client(svc)(ctx, greetRequest{Name: "bob"})
		if !errors.Is(err, shop.ErrForbidden) {
			t.Errorf("err = %v, want forbidden", err)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		expired := func() (string, error) { s, _, err := tok.Issue(alice, -time.Minute); return s, err }
		_, err := client(expired)(ctx, greetRequest{Name: "bob"})
		if !errors.Is(err, shop.ErrUnauthenticated) || shop.CodeOf(err) != "token_expired" {
			t.Errorf("err = %v (code %q), want token_expired", err, shop.CodeOf(err))
		}
	})
	t.Run("bad request body", func(t *testing.T) {
		resp, err := srv.Client().Post(srv.URL+"/greet", "application/json", strings.NewReader(`{"name":"bob","admin":true}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got := shophttp.DecodeError(resp)
		if resp.StatusCode != http.StatusBadRequest || shop.CodeOf(got) != "unknown_field" || !strings.Contains(got.Error(), "admin") {
			t.Errorf("status %d, err %v (code %q); want 400 unknown_field naming admin", resp.StatusCode, got, shop.CodeOf(got))
		}
	})
	t.Run("body too large", func(t *testing.T) {
		big := `{"name":"` + strings.Repeat("x", shophttp.MaxBodyBytes) + `"}`
		resp, err := srv.Client().Post(srv.URL+"/greet", "application/json", strings.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got := shophttp.DecodeError(resp)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || shop.CodeOf(got) != "body_too_large" {
			t.Errorf("status %d, err %v (code %q); want 413 body_too_large", resp.StatusCode, got, shop.CodeOf(got))
		}
	})
	t.Run("unknown route", func(t *testing.T) {
		resp, err := srv.Client().Get(srv.URL + "/nowhere")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get(shophttp.RequestIDHeader) == "" {
			t.Errorf("status %d, request ID %q; want 404 with a request ID", resp.StatusCode, resp.Header.Get(shophttp.RequestIDHeader))
		}
	})
}

func TestNewClient(t *testing.T) {
	c := shophttp.NewClient(3 * time.Second)
	if c.Timeout != 3*time.Second {
		t.Errorf("Timeout = %v", c.Timeout)
	}
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("Transport is %T", c.Transport)
	}
	if tr.MaxIdleConnsPerHost != 256 {
		t.Errorf("MaxIdleConnsPerHost = %d, want 256", tr.MaxIdleConnsPerHost)
	}
	if tr == http.DefaultTransport {
		t.Error("NewClient shares http.DefaultTransport")
	}
	if def := http.DefaultTransport.(*http.Transport); def.MaxIdleConnsPerHost == 256 {
		t.Error("NewClient changed http.DefaultTransport")
	}
}

func TestInstanceURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5003":          "http://127.0.0.1:5003",
		"http://inv:80/":          "http://inv:80",
		"https://inv/api/?x=1#f":  "https://inv/api",
		" http://inv.local:9000 ": "http://inv.local:9000",
	} {
		u, err := shophttp.InstanceURL(in)
		if err != nil || u.String() != want {
			t.Errorf("InstanceURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, in := range []string{"", "ftp://inv", "http://", "http://[::1"} {
		if _, err := shophttp.InstanceURL(in); err == nil {
			t.Errorf("InstanceURL(%q) accepted a bad instance", in)
		}
	}
}

func TestRoutesAnswersUnknownRoutesInJSON(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(r.PathValue("id"))) })
	mux.HandleFunc("DELETE /things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(shophttp.Routes(mux))
	defer srv.Close()
	tests := []struct {
		method, path string
		status       int
		code, allow  string
		body         string
	}{
		{"GET", "/things/7", 200, "", "", "7"},
		{"PUT", "/things/7", 405, "method_not_allowed", "DELETE, GET, HEAD", ""},
		{"GET", "/nothing", 404, "route_not_found", "", ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, raw, tt.status)
			continue
		}
		if tt.body != "" && string(raw) != tt.body {
			t.Errorf("%s %s body = %q, want %q (path values must reach the handler)", tt.method, tt.path, raw, tt.body)
		}
		if tt.code == "" {
			continue
		}
		var body shophttp.ErrorBody
		if err := json.Unmarshal(raw, &body); err != nil || body.Error.Code != tt.code {
			t.Errorf("%s %s body = %s, want code %s", tt.method, tt.path, raw, tt.code)
		}
		if got := resp.Header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s Allow = %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

type thingResponse struct {
	Name string `json:"name"`
	Err  error  `json:"-"`
}

// TestDecodeResponseKeepsBusinessErrorsOutOfTheEndpoint checks that a
// client endpoint fails only for transport trouble: business errors ride in
// the response, so a breaker around the endpoint never counts them.
func TestDecodeResponseKeepsBusinessErrorsOutOfTheEndpoint(t *testing.T) {
	decode := shophttp.DecodeResponse(func(err error) thingResponse { return thingResponse{Err: err} })
	answer := func(status int, body string) (any, error) {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/json")
		rec.WriteHeader(status)
		rec.WriteString(body)
		return decode(context.Background(), rec.Result())
	}
	v, err := answer(200, `{"name":"mug"}`)
	if err != nil || v.(thingResponse).Name != "mug" {
		t.Fatalf("2xx = %v, %v", v, err)
	}
	for _, status := range []int{400, 401, 402, 403, 404, 409, 429} {
		v, err := answer(status, `{"error":{"code":"some_code","message":"m"}}`)
		if err != nil {
			t.Fatalf("HTTP %d became an endpoint error: %v", status, err)
		}
		if got := v.(thingResponse).Err; shop.KindOf(got) == nil || shop.CodeOf(got) != "some_code" {
			t.Fatalf("HTTP %d: response error %v lost its kind or code", status, got)
		}
	}
	for _, status := range []int{500, 502, 503} {
		if _, err := answer(status, `{"error":{"code":"x","message":"m"}}`); err == nil {
			t.Fatalf("HTTP %d was not an endpoint error", status)
		}
	}
}

// lockedLog collects log lines from concurrent requests.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the logged lines that contain every one of substrings.
func (l *lockedLog) lines(substrings ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.Lines(l.b.String()) {
		all := true
		for _, s := range substrings {
			all = all && strings.Contains(line, s)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// TestServerErrorsAreLoggedOnce checks that every 500, however the
// unexpected error reaches the transport (from the decoder, from the
// endpoint, or as a business error inside the response), is logged exactly
// once at error level with the request ID and the cause, and answered
// without it; 4xx answers log nothing at warn or error.
func TestServerErrorsAreLoggedOnce(t *testing.T) {
	var logs lockedLog
	logger := log.NewLogfmtLogger(&logs)
	opts := shophttp.ServerOptions(logger, newTokens(t, testKey))
	decodeNothing := func(context.Context, *http.Request) (any, error) { return nil, nil }
	answer := func(resp any, err error) func(context.Context, any) (any, error) {
		return func(context.Context, any) (any, error) { return resp, err }
	}
	mux := http.NewServeMux()
	mux.Handle("GET /decoder", kithttp.NewServer(answer(greetResponse{}, nil),
		func(context.Context, *http.Request) (any, error) {
			return nil, errors.New("decoder cause: bad pointer")
		},
		shophttp.EncodeJSON, opts...))
	mux.Handle("GET /endpoint", kithttp.NewServer(answer(nil, errors.New("endpoint cause: nil map")), decodeNothing, shophttp.EncodeJSON, opts...))
	mux.Handle("GET /response", kithttp.NewServer(answer(greetResponse{Err: fmt.Errorf("query orders: %w", errors.New("response cause: disk I/O error"))}, nil),
		decodeNothing, shophttp.EncodeJSON, opts...))
	mux.Handle("GET /missing", kithttp.NewServer(answer(greetResponse{Err: shop.E(shop.ErrNotFound, "thing_not_found", "no such thing")}, nil),
		decodeNothing, shophttp.EncodeJSON, opts...))
	mux.Handle("GET /endpoint-missing", kithttp.NewServer(answer(nil, shop.E(shop.ErrNotFound, "thing_not_found", "no such thing")), decodeNothing, shophttp.EncodeJSON, opts...))
	mux.Handle("GET /slow", kithttp.NewServer(answer(nil, fmt.Errorf("query: %w", context.DeadlineExceeded)), decodeNothing, shophttp.EncodeJSON, opts...))
	mux.Handle("POST /greet", kithttp.NewServer(greetEndpoint, decodeGreet, shophttp.EncodeJSON, opts...))
	mux.Handle("/", shophttp.NotFound())
	srv := httptest.NewServer(shophttp.WithRequestID(mux))
	defer srv.Close()

	do := func(method, path, requestID, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set(shophttp.RequestIDHeader, requestID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}

	for _, c := range []struct{ path, cause string }{
		{"/decoder", "decoder cause: bad pointer"},
		{"/endpoint", "endpoint cause: nil map"},
		{"/response", "response cause: disk I/O error"},
	} {
		t.Run(c.path, func(t *testing.T) {
			id := "req" + strings.ReplaceAll(c.path, "/", "-")
			status, body := do("GET", c.path, id, "")
			if status != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", status)
			}
			if strings.Contains(body, "cause") || !strings.Contains(body, `"internal error"`) {
				t.Errorf("body %q must say only \"internal error\"", body)
			}
			all := logs.lines("request_id=" + id + " ")
			errorLines := logs.lines("request_id="+id+" ", "level=error")
			if len(errorLines) != 1 || len(all) != 1 {
				t.Fatalf("want one line, at error level, for request %s; got %q", id, all)
			}
			if !strings.Contains(errorLines[0], c.cause) {
				t.Errorf("log line %q does not hold the cause %q", errorLines[0], c.cause)
			}
		})
	}

	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/missing", "", http.StatusNotFound},
		{"GET", "/endpoint-missing", "", http.StatusNotFound},
		{"GET", "/no-such-route", "", http.StatusNotFound},
		{"POST", "/greet", `{"name":`, http.StatusBadRequest},
		{"POST", "/greet", `{"name":"bob"}`, http.StatusUnauthorized},
		{"POST", "/greet", strings.Repeat(" ", shophttp.MaxBodyBytes+1), http.StatusRequestEntityTooLarge},
	} {
		id := "req-" + strconv.Itoa(c.status) + strings.ReplaceAll(c.path, "/", "-")
		if status, body := do(c.method, c.path, id, c.body); status != c.status {
			t.Errorf("%s %s = %d %s, want %d", c.method, c.path, status, body, c.status)
		}
		for _, lvl := range []string{"level=warn", "level=error"} {
			if got := logs.lines("request_id="+id+" ", lvl); len(got) > 0 {
				t.Errorf("%s %s (%d) logged %q", c.method, c.path, c.status, got)
			}
		}
	}
	t.Run("timeout is a warning", func(t *testing.T) {
		if status, _ := do("GET", "/slow", "req-slow", ""); status != http.StatusGatewayTimeout {
			t.Fatalf("status %d, want 504", status)
		}
		if got := logs.lines("request_id=req-slow "); len(got) != 1 || !strings.Contains(got[0], "level=warn") {
			t.Errorf("want one warn line for the timeout, got %q", got)
		}
	})
	if got := logs.lines("level=error"); len(got) != 3 {
		t.Errorf("%d error lines, want one per 500:\n%s", len(got), strings.Join(got, ""))
	}
}
