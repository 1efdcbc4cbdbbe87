package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/user"
)

// httpFixture serves a fixture's service over real HTTP, public and
// internal routes on one server as a service binary mounts them.
type httpFixture struct {
	fixture
	srv    *httptest.Server
	tokens *user.Tokens
}

func newHTTPFixture(t *testing.T) httpFixture {
	t.Helper()
	f := newFixture(t)
	tokens, err := user.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	e := MakeServerEndpoints(f.svc)
	mux := http.NewServeMux()
	mux.Handle("/internal/", NewInternalHTTPHandler(e, tokens, log.NewNopLogger()))
	mux.Handle("/", NewHTTPHandler(e, tokens, log.NewNopLogger()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return httpFixture{fixture: f, srv: srv, tokens: tokens}
}

func (h httpFixture) token(t testing.TB, role shop.Role) string {
	t.Helper()
	tok, _, err := h.tokens.Issue(shop.Identity{UserID: "u-" + string(role), Role: role}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client returns client endpoints presenting a token of role (none for "").
func (h httpFixture) client(t testing.TB, role shop.Role) Endpoints {
	t.Helper()
	var source func() (string, error)
	if role != "" {
		source = h.tokens.TokenSource(shop.Identity{UserID: "u-" + string(role), Role: role}, time.Hour)
	} else {
		source = func() (string, error) { return "", fmt.Errorf("no token") }
	}
	e, err := MakeClientEndpoints(h.srv.URL, source)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// do sends a raw request and returns the status and decoded JSON body.
func (h httpFixture) do(t testing.TB, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestHTTPPublicRoutes(t *testing.T) {
	h := newHTTPFixture(t)
	admin, customer := h.token(t, shop.RoleAdmin), h.token(t, shop.RoleCustomer)

	status, body := h.do(t, "GET", "/inventory/p1", "", "")
	if status != 404 || errCode(body) != CodeStockNotFound {
		t.Fatalf("GET unknown stock = %d %v", status, body)
	}
	status, body = h.do(t, "POST", "/inventory/p1", admin, `{"quantity":7}`)
	if status != 200 || fmt.Sprint(body) != "map[available:7 on_hand:7 product_id:p1 reserved:0]" {
		t.Fatalf("POST stock = %d %v", status, body)
	}
	status, body = h.do(t, "DELETE", "/inventory/p1", admin, `{"quantity":2}`)
	if status != 200 || fmt.Sprint(body) != "map[available:5 on_hand:5 product_id:p1 reserved:0]" {
		t.Fatalf("DELETE stock = %d %v", status, body)
	}
	status, body = h.do(t, "GET", "/inventory/p1", "", "")
	if status != 200 || fmt.Sprint(body) != "map[available:5 on_hand:5 product_id:p1 reserved:0]" {
		t.Fatalf("GET stock = %d %v", status, body)
	}

	tests := []struct {
		method, path, token, body string
		status                    int
		code                      string
	}{
		{"POST", "/inventory/p1", "", `{"quantity":1}`, 401, "missing_token"},
		{"POST", "/inventory/p1", "garbage", `{"quantity":1}`, 401, "invalid_token"},
		{"POST", "/inventory/p1", customer, `{"quantity":1}`, 403, "forbidden"},
		{"DELETE", "/inventory/p1", customer, `{"quantity":1}`, 403, "forbidden"},
		{"POST", "/inventory/p1", admin, `{"quantity":0}`, 400, CodeInvalidQuantity},
		{"POST", "/inventory/p1", admin, `{}`, 400, CodeInvalidQuantity},
		{"POST", "/inventory/p1", admin, `{"quantity":1000000001}`, 400, CodeInvalidQuantity},
		{"POST", "/inventory/p1", admin, `{"quantity":"5"}`, 400, "bad_json"},
		{"POST", "/inventory/p1", admin, `{"quantity":1,"product_id":"p2"}`, 400, "unknown_field"},
		{"DELETE", "/inventory/p1", admin, `{"quantity":6}`, 409, CodeInsufficientStock},
		{"DELETE", "/inventory/p9", admin, `{"quantity":1}`, 404, CodeStockNotFound},
		{"PUT", "/inventory/p1", admin, `{"quantity":1}`, 405, "method_not_allowed"},
		{"GET", "/inventory", "", "", 404, "route_not_found"},
		{"POST", "/internal/nothing", "", "", 404, "route_not_found"},
	}
	for _, tc := range tests {
		status, body := h.do(t, tc.method, tc.path, tc.token, tc.body)
		if status != tc.status || errCode(body) != tc.code {
			t.Errorf("%s %s %s: %d %v, want %d %s", tc.method, tc.path, tc.body, status, body, tc.status, tc.code)
		}
	}
	wantStock(t, h.svc, "p1", 5, 0)
}

func TestHTTPInternalRoutes(t *testing.T) {
	h := newHTTPFixture(t)
	h.add(t, "p1", 5)
	svc, customer, admin := h.token(t, shop.RoleService), h.token(t, shop.RoleCustomer), h.token(t, shop.RoleAdmin)
	exp := h.expires().Format(time.RFC3339Nano)
	reserve := `{"order_id":"o1","lines":[{"product_id":"p1","quantity":2}],"expires_at":"` + exp + `"}`

	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		code                      string
	}{
		{"POST", "/internal/reservations", "", reserve, 401, "missing_token"},
		{"POST", "/internal/reservations", customer, reserve, 403, "forbidden"},
		{"POST", "/internal/reservations", admin, reserve, 403, "forbidden"},
		{"POST", "/internal/reservations/o1/commit", "", "", 401, "missing_token"},
		{"POST", "/internal/reservations/o1/commit", customer, "", 403, "forbidden"},
		{"POST", "/internal/reservations/o1/release", customer, "", 403, "forbidden"},
		{"POST", "/internal/reservations", svc, `{"order_id":"o1","lines":[]}`, 400, CodeInvalidLines},
		{"POST", "/internal/reservations", svc, `{"order_id":"o1","lines":[{"product_id":"p1","quantity":1}],"expires_at":"soon"}`, 400, "bad_json"},
		{"POST", "/internal/reservations/o1/commit", svc, "", 404, CodeReservationNotFound},
		{"PUT", "/internal/reservations", svc, "", 405, "method_not_allowed"},
		{"GET", "/internal/reservations?status=held&created_before=" + url.QueryEscape(exp), customer, "", 403, "forbidden"},
		{"GET", "/internal/reservations?status=committed&created_before=" + url.QueryEscape(exp), svc, "", 400, "invalid_status"},
		{"GET", "/internal/reservations?status=held&created_before=yesterday", svc, "", 400, "invalid_created_before"},
		{"POST", "/internal/reservations/o1/return", customer, "", 403, "forbidden"},
	} {
		status, body := h.do(t, tc.method, tc.path, tc.token, tc.body)
		if status != tc.status || errCode(body) != tc.code {
			t.Errorf("%s %s as %q: %d %v, want %d %s", tc.method, tc.path, tc.token, status, body, tc.status, tc.code)
		}
	}
	wantStock(t, h.svc, "p1", 5, 0)

	status, body := h.do(t, "POST", "/internal/reservations", svc, reserve)
	if status != 201 || body["order_id"] != "o1" || body["status"] != "held" || body["expires_at"] != exp ||
		fmt.Sprint(body["lines"]) != "[map[product_id:p1 quantity:2]]" || body["created"] != true {
		t.Fatalf("first reserve = %d %v", status, body)
	}
	status, body = h.do(t, "POST", "/internal/reservations", svc, reserve)
	if status != 200 || body["status"] != "held" || body["created"] != false {
		t.Fatalf("repeated reserve = %d %v, want 200 and created false", status, body)
	}
	wantStock(t, h.svc, "p1", 5, 2)
	status, body = h.do(t, "GET", "/internal/reservations?status=held&created_before="+url.QueryEscape(exp), svc, "")
	if items, _ := body["items"].([]any); status != 200 || len(items) != 1 || items[0].(map[string]any)["order_id"] != "o1" {
		t.Fatalf("list held = %d %v, want o1", status, body)
	}
	status, body = h.do(t, "POST", "/internal/reservations/o1/return", svc, "")
	if status != 409 || errCode(body) != CodeReservationNotCommitted {
		t.Fatalf("return before commit = %d %v", status, body)
	}
	status, body = h.do(t, "POST", "/internal/reservations/o1/commit", svc, "")
	if status != 200 || body["status"] != "committed" {
		t.Fatalf("commit = %d %v", status, body)
	}
	status, body = h.do(t, "POST", "/internal/reservations/o1/release", svc, "")
	if status != 409 || errCode(body) != CodeReservationCommitted {
		t.Fatalf("release after commit = %d %v", status, body)
	}
	wantStock(t, h.svc, "p1", 3, 0)
	status, body = h.do(t, "POST", "/internal/reservations/o1/return", svc, "")
	if status != 200 || body["status"] != "returned" {
		t.Fatalf("return = %d %v", status, body)
	}
	wantStock(t, h.svc, "p1", 5, 0)
}

// TestClientErrorRoundTrip checks that every error the service raises
// reaches the client's caller with the same kind and code.
func TestClientErrorRoundTrip(t *testing.T) {
	h := newHTTPFixture(t)
	admin, orders, customer, anon := h.client(t, shop.RoleAdmin), h.client(t, shop.RoleService), h.client(t, shop.RoleCustomer), h.client(t, "")
	ctx := context.Background()
	exp := h.expires()
	if _, err := admin.AddStock(ctx, "p1", 3); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		call func() error
		kind *shop.Kind
		code string
	}{
		{"unknown stock", func() error { _, err := anon.GetStock(ctx, "p9"); return err }, shop.ErrNotFound, CodeStockNotFound},
		{"bad quantity", func() error { _, err := admin.AddStock(ctx, "p1", 0); return err }, shop.ErrInvalid, CodeInvalidQuantity},
		{"no token", func() error { _, err := anon.AddStock(ctx, "p1", 1); return err }, shop.ErrUnauthenticated, "missing_token"},
		{"customer adds", func() error { _, err := customer.AddStock(ctx, "p1", 1); return err }, shop.ErrForbidden, "forbidden"},
		{"remove too many", func() error { _, err := admin.RemoveStock(ctx, "p1", 4); return err }, shop.ErrConflict, CodeInsufficientStock},
		{"customer reserves", func() error { _, _, err := customer.Reserve(ctx, "o1", []Line{{"p1", 1}}, exp); return err }, shop.ErrForbidden, "forbidden"},
		{"too much", func() error { _, _, err := orders.Reserve(ctx, "o1", []Line{{"p1", 4}}, exp); return err }, shop.ErrConflict, CodeInsufficientStock},
		{"no lines", func() error { _, _, err := orders.Reserve(ctx, "o1", nil, exp); return err }, shop.ErrInvalid, CodeInvalidLines},
		{"commit unknown", func() error { _, err := orders.Commit(ctx, "o9"); return err }, shop.ErrNotFound, CodeReservationNotFound},
		{"release unknown", func() error { _, err := orders.Release(ctx, "o9"); return err }, shop.ErrNotFound, CodeReservationNotFound},
	} {
		err := tc.call()
		wantErr(t, err, tc.kind, tc.code)
	}

	// The message survives the trip as well.
	_, _, err := orders.Reserve(ctx, "o1", []Line{{"p1", 4}}, exp)
	if !strings.Contains(err.Error(), "p1") {
		t.Fatalf("insufficient_stock message %q lost the product", err.Error())
	}

	// Reserve through the client reports creation like the local service.
	r, created, err := orders.Reserve(ctx, "o1", []Line{{"p1", 2}}, exp)
	if err != nil || !created || r.Status != ReservationHeld || !r.ExpiresAt.Equal(exp) || len(r.Lines) != 1 {
		t.Fatalf("Reserve = %+v, created %v, err %v", r, created, err)
	}
	if _, created, err := orders.Reserve(ctx, "o1", []Line{{"p1", 2}}, exp); err != nil || created {
		t.Fatalf("repeated Reserve: created %v, err %v", created, err)
	}
	_, _, err = orders.Reserve(ctx, "o1", []Line{{"p1", 1}}, exp)
	wantErr(t, err, shop.ErrConflict, CodeReservationMismatch)
	if r, err := orders.Commit(ctx, "o1"); err != nil || r.Status != ReservationCommitted {
		t.Fatalf("Commit = %+v, %v", r, err)
	}
	_, err = orders.Release(ctx, "o1")
	wantErr(t, err, shop.ErrConflict, CodeReservationCommitted)
	st, err := anon.GetStock(ctx, "p1")
	if err != nil || st != (Stock{ProductID: "p1", OnHand: 1, Available: 1}) {
		t.Fatalf("GetStock = %+v, %v", st, err)
	}
}

func TestClientEscapesIDs(t *testing.T) {
	h := newHTTPFixture(t)
	admin, orders := h.client(t, shop.RoleAdmin), h.client(t, shop.RoleService)
	ctx := context.Background()
	const product, order = "a/b c?d#e%", "ord/1?x"
	st, err := admin.AddStock(ctx, product, 2)
	if err != nil || st.ProductID != product {
		t.Fatalf("AddStock(%q) = %+v, %v", product, st, err)
	}
	if _, _, err := orders.Reserve(ctx, order, []Line{{product, 1}}, h.expires()); err != nil {
		t.Fatal(err)
	}
	r, err := orders.Release(ctx, order)
	if err != nil || r.OrderID != order || r.Status != ReservationReleased {
		t.Fatalf("Release(%q) = %+v, %v", order, r, err)
	}
	wantStock(t, h.svc, product, 2, 0)
}

func TestClientUsesTokenSourceOnEveryCall(t *testing.T) {
	h := newHTTPFixture(t)
	var calls atomic.Int64
	tok := h.token(t, shop.RoleAdmin)
	e, err := MakeClientEndpoints(strings.TrimPrefix(h.srv.URL, "http://"), func() (string, error) {
		calls.Add(1)
		return tok, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := e.AddStock(context.Background(), "p1", 1); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("token source called %d times for 3 calls", calls.Load())
	}
	wantStock(t, h.svc, "p1", 3, 0)
}

// The client learns that Reserve created the reservation from a 201 or from
// the response's created field, so it understands servers with or without
// the field.
func TestClientReadsCreatedFromStatusOrField(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		created bool
	}{
		{"201 and the field", 201, `{"order_id":"o1","status":"held","created":true}`, true},
		{"201 without the field", 201, `{"order_id":"o1","status":"held"}`, true},
		{"200 with the field", 200, `{"order_id":"o1","status":"held","created":true}`, true},
		{"200 and false", 200, `{"order_id":"o1","status":"held","created":false}`, false},
		{"200 without the field", 200, `{"order_id":"o1","status":"held"}`, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tc.status)
			io.WriteString(w, tc.body)
		}))
		e, err := MakeClientEndpoints(srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, created, err := e.Reserve(context.Background(), "o1", []Line{{"p1", 1}}, time.Now().Add(time.Hour))
		srv.Close()
		if err != nil || created != tc.created || r.OrderID != "o1" || r.Status != ReservationHeld {
			t.Errorf("%s: Reserve = %+v, created %v, err %v; want created %v", tc.name, r, created, err, tc.created)
		}
	}
}

// MakeServerEndpoints wraps every endpoint in the middlewares given, the
// first outermost, and Wrap adds one around an existing set.
func TestServerEndpointMiddleware(t *testing.T) {
	f := newFixture(t)
	var order []string
	mark := func(name string) endpoint.Middleware {
		return func(next endpoint.Endpoint) endpoint.Endpoint {
			return func(ctx context.Context, req any) (any, error) {
				order = append(order, name)
				return next(ctx, req)
			}
		}
	}
	e := MakeServerEndpoints(f.svc, mark("outer"), mark("inner")).Wrap(mark("wrapped"))
	calls := map[string]func() error{
		"GetStock":    func() error { _, err := e.GetStock(anonCtx, "p1"); return err },
		"AddStock":    func() error { _, err := e.AddStock(adminCtx, "p1", 5); return err },
		"RemoveStock": func() error { _, err := e.RemoveStock(adminCtx, "p1", 1); return err },
		"Reserve": func() error {
			_, _, err := e.Reserve(serviceCtx, "o1", []Line{{"p1", 1}}, f.expires())
			return err
		},
		"Commit":   func() error { _, err := e.Commit(serviceCtx, "o1"); return err },
		"Release":  func() error { _, err := e.Release(serviceCtx, "o1"); return err },
		"Return":   func() error { _, err := e.Return(serviceCtx, "o1"); return err },
		"ListHeld": func() error { _, err := e.ListHeld(serviceCtx, f.expires(), shop.PageRequest{}); return err },
	}
	for _, name := range []string{"AddStock", "GetStock", "RemoveStock", "Reserve", "Commit", "Release", "Return", "ListHeld"} {
		order = nil
		calls[name]()
		if fmt.Sprint(order) != "[wrapped outer inner]" {
			t.Errorf("%s passed through %v, want [wrapped outer inner]", name, order)
		}
	}
	wantStock(t, f.svc, "p1", 4, 0)
}
