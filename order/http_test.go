package order_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/order"
	"github.com/kitshop/shop/user"
)

type httpFixture struct {
	*fixture
	srv    *httptest.Server
	tokens *user.Tokens
}

func newHTTPFixture(t *testing.T) *httpFixture {
	f := newFixture(t)
	tokens, err := user.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(order.NewHTTPHandler(order.MakeServerEndpoints(f.orders), tokens, log.NewNopLogger()))
	t.Cleanup(srv.Close)
	return &httpFixture{fixture: f, srv: srv, tokens: tokens}
}

func (h *httpFixture) token(id shop.Identity) string {
	h.t.Helper()
	tok, _, err := h.tokens.Issue(id, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// do sends a raw request and returns the status and the decoded JSON body.
func (h *httpFixture) do(method, path, token, body string, header ...string) (int, map[string]any) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			h.t.Fatalf("%s %s: body %q is not a JSON object", method, path, raw)
		}
	}
	if ct := resp.Header.Get("Content-Type"); len(raw) > 0 && !strings.HasPrefix(ct, "application/json") {
		h.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestHTTPRoutes(t *testing.T) {
	h := newHTTPFixture(t)
	p := h.product("HTTP", 700, "USD", 5)
	alice, bob, admin := h.token(alice), h.token(bob), h.token(admin)
	body := `{"items":[{"product_id":"` + p + `","quantity":2}]}`

	cases := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"no token", "POST", "/orders", "", body, 401, "missing_token"},
		{"bad token", "POST", "/orders", "x.y.z", body, 401, "invalid_token"},
		{"malformed JSON", "POST", "/orders", alice, `{"items":[`, 400, "bad_json"},
		{"unknown field", "POST", "/orders", alice, `{"items":[],"coupon":"FREE"}`, 400, "unknown_field"},
		// The key travels in the Idempotency-Key header only.
		{"key in the body", "POST", "/orders", alice, `{"items":[{"product_id":"` + p + `","quantity":1}],"idempotency_key":"k"}`, 400, "unknown_field"},
		{"wrong type", "POST", "/orders", alice, `{"items":[{"product_id":"` + p + `","quantity":"2"}]}`, 400, "bad_json"},
		{"oversized body", "POST", "/orders", alice, `{"items":[{"product_id":"` + strings.Repeat("x", 70<<10) + `","quantity":1}]}`, 413, "body_too_large"},
		{"unknown product", "POST", "/orders", alice, `{"items":[{"product_id":"nope","quantity":1}]}`, 400, "unknown_product"},
		{"too many", "POST", "/orders", alice, `{"items":[{"product_id":"` + p + `","quantity":6}]}`, 409, "insufficient_stock"},
		{"admin may not order", "POST", "/orders", admin, body, 403, "forbidden"},
		{"missing order", "GET", "/orders/nope", alice, "", 404, "order_not_found"},
		{"bad limit", "GET", "/orders?limit=abc", alice, "", 400, "invalid_limit"},
		{"unknown route", "GET", "/orders/x/y/z", alice, "", 404, "route_not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, m := h.do(c.method, c.path, c.token, c.body)
			if status != c.status || errCode(m) != c.code {
				t.Fatalf("%s %s = %d %v, want %d %s", c.method, c.path, status, m, c.status, c.code)
			}
		})
	}
	wantStock(t, h.stock(p), 5, 0)

	status, created := h.do("POST", "/orders", alice, body, "Idempotency-Key", "k1")
	if status != 201 || created["status"] != "pending" || created["total"] != float64(1400) {
		t.Fatalf("POST /orders = %d %v", status, created)
	}
	id := created["id"].(string)
	status, again := h.do("POST", "/orders", alice, body, "Idempotency-Key", "k1")
	if status != 201 || again["id"] != id {
		t.Fatalf("retry = %d %v, want the first order %s", status, again, id)
	}
	status, m := h.do("POST", "/orders", alice, `{"items":[{"product_id":"`+p+`","quantity":1}]}`, "Idempotency-Key", "k1")
	if status != 409 || errCode(m) != "idempotency_key_reused" {
		t.Fatalf("reused key = %d %v", status, m)
	}
	wantStock(t, h.stock(p), 5, 2)

	if status, m := h.do("GET", "/orders/"+id, bob, ""); status != 404 || errCode(m) != "order_not_found" {
		t.Fatalf("bob reads alice's order: %d %v", status, m)
	}
	if status, m := h.do("GET", "/orders/"+id, admin, ""); status != 200 || m["id"] != id {
		t.Fatalf("admin reads alice's order: %d %v", status, m)
	}
	// The order to pay is the path's; a body cannot name another.
	if status, m := h.do("POST", "/orders/"+id+"/pay", alice, `{"id":"other","card_number":"4242 4242 4242 4242"}`); status != 400 || errCode(m) != "unknown_field" {
		t.Fatalf("an ID in the pay body: %d %v", status, m)
	}
	if status, m := h.do("POST", "/orders/"+id+"/pay", alice, `{"card_number":"1234"}`); status != 400 || errCode(m) != "invalid_card" {
		t.Fatalf("bad card: %d %v", status, m)
	}
	if status, m := h.do("POST", "/orders/"+id+"/pay", alice, `{"card_number":"4000 0000 0000 0002"}`); status != 402 || errCode(m) != "card_declined" {
		t.Fatalf("declined card: %d %v", status, m)
	}
	if status, m := h.do("POST", "/orders/"+id+"/pay", alice, `{"card_number":"4242 4242 4242 4242"}`); status != 200 || m["status"] != "paid" {
		t.Fatalf("pay: %d %v", status, m)
	}
	if status, m := h.do("POST", "/orders/"+id+"/pay", alice, `{"card_number":"4242 4242 4242 4242"}`); status != 409 || errCode(m) != "invalid_transition" {
		t.Fatalf("pay twice: %d %v", status, m)
	}
	if status, m := h.do("POST", "/orders/"+id+"/cancel", alice, ""); status != 409 || errCode(m) != "invalid_transition" {
		t.Fatalf("cancel paid: %d %v", status, m)
	}
	if status, m := h.do("POST", "/orders/"+id+"/refund", alice, ""); status != 403 || errCode(m) != "forbidden" {
		t.Fatalf("customer refunds: %d %v", status, m)
	}
	if status, m := h.do("POST", "/orders/"+id+"/refund", admin, ""); status != 200 || m["status"] != "refunded" || m["refund_id"] == nil {
		t.Fatalf("refund: %d %v", status, m)
	}
	if status, m := h.do("POST", "/orders/"+id+"/refund", admin, "{}"); status != 409 || errCode(m) != "invalid_transition" {
		t.Fatalf("refund twice: %d %v", status, m)
	}
	status, list := h.do("GET", "/orders?limit=10", alice, "")
	if items, _ := list["items"].([]any); status != 200 || len(items) != 1 {
		t.Fatalf("GET /orders = %d %v", status, list)
	}
	if status, list := h.do("GET", "/orders", bob, ""); status != 200 || len(list["items"].([]any)) != 0 {
		t.Fatalf("bob's list = %d %v", status, list)
	}
}

// TestClientRoundTrip drives the service through the HTTP client: a remote
// order service is used like a local one, and its errors keep their kind
// and code.
func TestClientRoundTrip(t *testing.T) {
	h := newHTTPFixture(t)
	p := h.product("CLIENT", 300, "USD", 2)
	aliceToken := h.token(alice)
	client, err := order.MakeClientEndpoints(h.srv.URL, func() (string, error) { return aliceToken, nil })
	if err != nil {
		t.Fatal(err)
	}
	var svc order.Service = client
	ctx := context.Background()

	o, err := svc.PlaceOrder(ctx, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}, IdempotencyKey: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.PlaceOrder(ctx, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}, IdempotencyKey: "c1"})
	if err != nil || again.ID != o.ID {
		t.Fatalf("idempotent retry through the client = %v, %v", again.ID, err)
	}
	_, err = svc.PlaceOrder(ctx, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 5}}})
	wantErr(t, err, shop.ErrConflict, "insufficient_stock")
	_, err = svc.PayOrder(ctx, o.ID, order.TestCardDeclined)
	wantErr(t, err, shop.ErrPaymentRequired, "card_declined")
	_, err = svc.GetOrder(ctx, "missing")
	wantErr(t, err, shop.ErrNotFound, "order_not_found")

	got, err := svc.GetOrder(ctx, o.ID)
	if err != nil || got.ID != o.ID || len(got.Lines) != 1 || got.Lines[0].UnitPrice != 300 || !got.CreatedAt.Equal(o.CreatedAt) {
		t.Fatalf("GetOrder = %+v, %v", got, err)
	}
	page, err := svc.ListOrders(ctx, shop.PageRequest{Limit: 5})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListOrders = %+v, %v", page, err)
	}
	paid, err := svc.PayOrder(ctx, o.ID, order.TestCardOK)
	if err != nil || paid.Status != order.StatusPaid {
		t.Fatalf("PayOrder = %+v, %v", paid, err)
	}
	o2, err := svc.PlaceOrder(ctx, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := svc.CancelOrder(ctx, o2.ID)
	if err != nil || cancelled.Status != order.StatusCancelled {
		t.Fatalf("CancelOrder = %+v, %v", cancelled, err)
	}
	_, err = svc.RefundOrder(ctx, o.ID)
	wantErr(t, err, shop.ErrForbidden, "forbidden")
	adminToken := h.token(admin)
	asAdminClient, _ := order.MakeClientEndpoints(h.srv.URL, func() (string, error) { return adminToken, nil })
	refunded, err := asAdminClient.RefundOrder(ctx, o.ID)
	if err != nil || refunded.Status != order.StatusRefunded || refunded.RefundID == "" {
		t.Fatalf("RefundOrder = %+v, %v", refunded, err)
	}

	anonymous, _ := order.MakeClientEndpoints(h.srv.URL, nil)
	_, err = anonymous.ListOrders(ctx, shop.PageRequest{})
	wantErr(t, err, shop.ErrUnauthenticated, "missing_token")
}
