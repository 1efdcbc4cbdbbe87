package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

type httpFixture struct {
	svc      Service // the local service behind the server
	store    *SQLiteStore
	srv      *httptest.Server
	tokens   *user.Tokens
	admin    Service // clients over HTTP, by caller
	customer Service
	anon     Service
}

func (f *httpFixture) token(t testing.TB, role shop.Role) string {
	t.Helper()
	tok, _, err := f.tokens.Issue(shop.Identity{UserID: "u-" + string(role), Role: role}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func newHTTPFixture(t testing.TB) *httpFixture {
	t.Helper()
	tokens, err := user.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	svc, st := newTestService(t)
	srv := httptest.NewServer(NewHTTPHandler(MakeServerEndpoints(svc), tokens, log.NewNopLogger()))
	t.Cleanup(srv.Close)
	f := &httpFixture{svc: svc, store: st, srv: srv, tokens: tokens}
	client := func(instance string, role shop.Role) Service {
		var source func() (string, error)
		if role != "" {
			source = tokens.TokenSource(shop.Identity{UserID: "u-" + string(role), Role: role}, time.Hour)
		}
		e, err := MakeClientEndpoints(instance, source)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	f.admin = client(srv.URL, shop.RoleAdmin)
	f.customer = client(strings.TrimPrefix(srv.URL, "http://"), shop.RoleCustomer) // host:port form
	f.anon = client(srv.URL+"/", "")
	return f
}

// do sends a raw request and returns the status, headers and body.
func (f *httpFixture) do(t testing.TB, method, path, token, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func errorCode(t testing.TB, body string) string {
	t.Helper()
	var eb shophttp.ErrorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return eb.Error.Code
}

func TestHTTPClientRoundTrip(t *testing.T) {
	f := newHTTPFixture(t)
	ctx := context.Background()

	p, err := f.admin.CreateProduct(ctx, validProduct("HTTP-1"))
	if err != nil {
		t.Fatal(err)
	}
	local, err := f.svc.GetProduct(ctx, p.ID)
	if err != nil || !sameProduct(local, p) {
		t.Fatalf("created over HTTP %+v, stored %+v (%v)", p, local, err)
	}
	got, err := f.anon.GetProduct(ctx, p.ID)
	if err != nil || !sameProduct(got, p) {
		t.Fatalf("GetProduct over HTTP: %+v %v", got, err)
	}
	upd, err := f.admin.UpdateProduct(ctx, p.ID, ProductPatch{Price: ptr(int64(0)), Category: ptr("")})
	if err != nil || upd.Price != 0 || upd.Category != "" || upd.Name != p.Name || !upd.UpdatedAt.After(p.UpdatedAt) {
		t.Fatalf("UpdateProduct over HTTP: %+v %v", upd, err)
	}
	for i := range 4 {
		mustCreate(t, f.svc, validProduct(fmt.Sprintf("HTTP-L%d", i)))
	}
	var all []Product
	q := ListQuery{PageRequest: shop.PageRequest{Limit: 2}}
	for {
		page, err := f.customer.ListProducts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	if len(all) != 5 || !slices.ContainsFunc(all, func(x Product) bool { return x.ID == p.ID }) {
		t.Fatalf("listed %v over HTTP", ids(all))
	}
	page, err := f.anon.ListProducts(ctx, ListQuery{Q: "%", Category: "kitchen"})
	if err != nil || page.Items == nil || len(page.Items) != 0 {
		t.Fatalf("empty list over HTTP: %#v %v", page, err)
	}
	if err := f.admin.DeleteProduct(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.anon.GetProduct(ctx, p.ID)
	wantErr(t, err, shop.ErrNotFound, "product_not_found")
}

// sameProduct compares products that went through JSON, where time zones
// and monotonic readings do not survive.
func sameProduct(a, b Product) bool {
	ta, tb := a.CreatedAt, b.CreatedAt
	ua, ub := a.UpdatedAt, b.UpdatedAt
	a.CreatedAt, b.CreatedAt, a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b && ta.Equal(tb) && ua.Equal(ub)
}

// TestHTTPErrorsRoundTrip checks that every error the service raises reaches
// the HTTP client's caller with the same kind and code as a local call.
func TestHTTPErrorsRoundTrip(t *testing.T) {
	f := newHTTPFixture(t)
	p := mustCreate(t, f.svc, validProduct("ERR-1"))
	mustCreate(t, f.svc, validProduct("ERR-2"))
	missing := shop.NewID()

	type call func(s Service, ctx context.Context) error
	cases := []struct {
		name string
		call call
		kind *shop.Kind
		code string
	}{
		{"create anonymous", func(s Service, ctx context.Context) error {
			_, err := s.CreateProduct(ctx, validProduct("ERR-3"))
			return err
		}, shop.ErrUnauthenticated, "missing_token"},
		{"create invalid", func(s Service, ctx context.Context) error {
			np := validProduct("ERR-3")
			np.Price = -1
			_, err := s.CreateProduct(ctx, np)
			return err
		}, shop.ErrInvalid, "invalid_price"},
		{"create sku taken", func(s Service, ctx context.Context) error {
			_, err := s.CreateProduct(ctx, validProduct("ERR-1"))
			return err
		}, shop.ErrConflict, "sku_taken"},
		{"get missing", func(s Service, ctx context.Context) error {
			_, err := s.GetProduct(ctx, missing)
			return err
		}, shop.ErrNotFound, "product_not_found"},
		{"get id with a slash", func(s Service, ctx context.Context) error {
			_, err := s.GetProduct(ctx, "a/b c?d")
			return err
		}, shop.ErrNotFound, "product_not_found"},
		{"update empty", func(s Service, ctx context.Context) error {
			_, err := s.UpdateProduct(ctx, p.ID, ProductPatch{})
			return err
		}, shop.ErrInvalid, "empty_patch"},
		{"update sku taken", func(s Service, ctx context.Context) error {
			_, err := s.UpdateProduct(ctx, p.ID, ProductPatch{SKU: ptr("ERR-2")})
			return err
		}, shop.ErrConflict, "sku_taken"},
		{"update missing", func(s Service, ctx context.Context) error {
			_, err := s.UpdateProduct(ctx, missing, ProductPatch{Name: ptr("x")})
			return err
		}, shop.ErrNotFound, "product_not_found"},
		{"delete missing", func(s Service, ctx context.Context) error {
			return s.DeleteProduct(ctx, missing)
		}, shop.ErrNotFound, "product_not_found"},
		{"list bad limit", func(s Service, ctx context.Context) error {
			_, err := s.ListProducts(ctx, ListQuery{PageRequest: shop.PageRequest{Limit: 101}})
			return err
		}, shop.ErrInvalid, "invalid_limit"},
		{"list bad cursor", func(s Service, ctx context.Context) error {
			_, err := s.ListProducts(ctx, ListQuery{PageRequest: shop.PageRequest{Cursor: "@@"}})
			return err
		}, shop.ErrInvalid, "invalid_cursor"},
		{"list long q", func(s Service, ctx context.Context) error {
			_, err := s.ListProducts(ctx, ListQuery{Q: strings.Repeat("x", 101)})
			return err
		}, shop.ErrInvalid, "invalid_q"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			local, remote, ctx := adminCtx, f.admin, context.Background()
			if tc.kind == shop.ErrUnauthenticated {
				local, remote = anonCtx, f.anon
			}
			wantErr(t, tc.call(f.svc, local), tc.kind, tc.code)
			wantErr(t, tc.call(remote, ctx), tc.kind, tc.code)
		})
	}

	// The customer is forbidden, over HTTP as locally.
	_, err := f.customer.CreateProduct(context.Background(), validProduct("ERR-9"))
	wantErr(t, err, shop.ErrForbidden, "forbidden")
	err = f.customer.DeleteProduct(context.Background(), p.ID)
	wantErr(t, err, shop.ErrForbidden, "forbidden")
	_, err = f.anon.UpdateProduct(context.Background(), p.ID, ProductPatch{Name: ptr("x")})
	wantErr(t, err, shop.ErrUnauthenticated, "missing_token")
	if got, _ := f.svc.GetProduct(anonCtx, p.ID); got != p {
		t.Fatalf("refused calls changed the product: %+v", got)
	}
}

func TestHTTPWire(t *testing.T) {
	f := newHTTPFixture(t)
	admin, customer := f.token(t, shop.RoleAdmin), f.token(t, shop.RoleCustomer)

	// Empty list: items is [], not null, and there is no cursor.
	status, hdr, body := f.do(t, "GET", "/products", "", "")
	if status != 200 || strings.TrimSpace(body) != `{"items":[]}` || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("empty list: %d %q %v", status, body, hdr)
	}

	// Create: 201 with the product.
	status, _, body = f.do(t, "POST", "/products", admin,
		`{"sku":"W-1","name":"Wire mug","description":"d","price":1999,"currency":"USD","category":"kitchen"}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"id", "sku", "name", "description", "price", "currency", "category", "created_at", "updated_at"}
	if len(created) != len(wantKeys) {
		t.Fatalf("product JSON has keys %v, want %v", created, wantKeys)
	}
	for _, k := range wantKeys {
		if _, ok := created[k]; !ok {
			t.Fatalf("product JSON lacks %q: %s", k, body)
		}
	}
	if created["price"] != 1999.0 || created["sku"] != "W-1" {
		t.Fatalf("created %s", body)
	}
	if _, err := time.Parse(time.RFC3339Nano, created["created_at"].(string)); err != nil || !strings.HasSuffix(created["created_at"].(string), "Z") {
		t.Fatalf("created_at %v is not RFC 3339 UTC", created["created_at"])
	}
	id := created["id"].(string)

	// Get: the product object itself, for anyone, even with a bad token.
	for _, tok := range []string{"", customer, "garbage"} {
		status, _, got := f.do(t, "GET", "/products/"+id, tok, "")
		if status != 200 || got != body {
			t.Fatalf("get with token %q: %d %s, want %s", tok, status, got, body)
		}
	}

	// Who may write.
	status, hdr, body = f.do(t, "POST", "/products", "", `{"sku":"W-2","name":"n","price":1,"currency":"USD"}`)
	if status != 401 || errorCode(t, body) != "missing_token" || hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("create without token: %d %s", status, body)
	}
	status, _, body = f.do(t, "POST", "/products", "garbage", `{"sku":"W-2","name":"n","price":1,"currency":"USD"}`)
	if status != 401 || errorCode(t, body) != "invalid_token" {
		t.Fatalf("create with a bad token: %d %s", status, body)
	}
	status, _, body = f.do(t, "POST", "/products", customer, `{"sku":"W-2","name":"n","price":1,"currency":"USD"}`)
	if status != 403 || errorCode(t, body) != "forbidden" {
		t.Fatalf("create as customer: %d %s", status, body)
	}
	for _, m := range []string{"PATCH", "DELETE"} {
		status, _, body = f.do(t, m, "/products/"+id, "", `{"name":"x"}`)
		if status != 401 {
			t.Fatalf("%s without token: %d %s", m, status, body)
		}
		status, _, body = f.do(t, m, "/products/"+id, customer, `{"name":"x"}`)
		if status != 403 {
			t.Fatalf("%s as customer: %d %s", m, status, body)
		}
	}

	// Strict bodies.
	for _, tc := range []struct{ body, code string }{
		{`{"sku":"W-3","name":"n","price":1,"currency":"USD","colour":"red"}`, "unknown_field"},
		{`{"sku":"W-3","name":"n","price":"1","currency":"USD"}`, "bad_json"},
		{`{"sku":"W-3",`, "bad_json"},
		{`{"sku":"W-3","name":"n","price":1,"currency":"USD"} {}`, "bad_json"},
		{`{"sku":"","name":"n","price":1,"currency":"USD"}`, "invalid_sku"},
	} {
		status, _, body := f.do(t, "POST", "/products", admin, tc.body)
		if status != 400 || errorCode(t, body) != tc.code {
			t.Fatalf("create %s: %d %s, want 400 %s", tc.body, status, body, tc.code)
		}
	}

	// PATCH: null means unchanged; an empty or all-null patch is 400.
	status, _, body = f.do(t, "PATCH", "/products/"+id, admin, `{"name":null,"price":5,"description":null}`)
	var patched Product
	if status != 200 || json.Unmarshal([]byte(body), &patched) != nil || patched.Price != 5 || patched.Name != "Wire mug" || patched.Description != "d" {
		t.Fatalf("patch with nulls: %d %s", status, body)
	}
	for _, b := range []string{`{}`, `{"name":null}`} {
		status, _, body = f.do(t, "PATCH", "/products/"+id, admin, b)
		if status != 400 || errorCode(t, body) != "empty_patch" {
			t.Fatalf("patch %s: %d %s", b, status, body)
		}
	}
	status, _, body = f.do(t, "PATCH", "/products/"+shop.NewID(), admin, `{"price":1}`)
	if status != 404 || errorCode(t, body) != "product_not_found" {
		t.Fatalf("patch missing: %d %s", status, body)
	}

	// List parameters.
	for _, tc := range []struct{ query, code string }{
		{"limit=ten", "invalid_limit"},
		{"limit=0.5", "invalid_limit"},
		{"limit=101", "invalid_limit"},
		{"limit=-1", "invalid_limit"},
		{"cursor=%25%25", "invalid_cursor"},
		{"q=" + strings.Repeat("x", 101), "invalid_q"},
	} {
		status, _, body := f.do(t, "GET", "/products?"+tc.query, "", "")
		if status != 400 || errorCode(t, body) != tc.code {
			t.Fatalf("list ?%s: %d %s, want 400 %s", tc.query, status, body, tc.code)
		}
	}
	status, _, body = f.do(t, "GET", "/products?limit=1&category=kitchen&q="+url.QueryEscape("WIRE"), "", "")
	var page struct {
		Items      []Product `json:"items"`
		NextCursor *string   `json:"next_cursor"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &page) != nil || len(page.Items) != 1 || page.Items[0].ID != id || page.NextCursor != nil {
		t.Fatalf("filtered list: %d %s", status, body)
	}

	// Delete: 204 with no body, then 404.
	status, _, body = f.do(t, "DELETE", "/products/"+id, admin, "")
	if status != 204 || body != "" {
		t.Fatalf("delete: %d %q", status, body)
	}
	for _, m := range []string{"GET", "DELETE"} {
		status, _, body = f.do(t, m, "/products/"+id, admin, "")
		if status != 404 || errorCode(t, body) != "product_not_found" {
			t.Fatalf("%s after delete: %d %s", m, status, body)
		}
	}

	// Anything else is a JSON 404, or 405 for a known path.
	for _, r := range [][2]string{{"GET", "/nope"}, {"GET", "/products/a/b"}} {
		status, _, body = f.do(t, r[0], r[1], admin, "")
		if status != 404 || errorCode(t, body) != "route_not_found" {
			t.Fatalf("%s %s: %d %s", r[0], r[1], status, body)
		}
	}
	for _, r := range [][2]string{{"PUT", "/products/" + id}, {"POST", "/products/" + id}} {
		status, _, body = f.do(t, r[0], r[1], admin, "")
		if status != 405 || errorCode(t, body) != "method_not_allowed" {
			t.Fatalf("%s %s: %d %s", r[0], r[1], status, body)
		}
	}
}

func TestHTTPInternalError(t *testing.T) {
	f := newHTTPFixture(t)
	p := mustCreate(t, f.svc, validProduct("INT-1"))
	f.store.Close()
	status, _, body := f.do(t, "GET", "/products/"+p.ID, "", "")
	if status != 500 || strings.TrimSpace(body) != `{"error":{"kind":"internal","code":"internal","message":"internal error"}}` {
		t.Fatalf("store failure: %d %s", status, body)
	}
	_, err := f.anon.GetProduct(context.Background(), p.ID)
	if err == nil || shop.KindOf(err) != nil || strings.Contains(err.Error(), "sql") {
		t.Fatalf("client error for a 500: %v (kind %v)", err, shop.KindOf(err))
	}
}

func TestMakeClientEndpointsBadInstance(t *testing.T) {
	for _, instance := range []string{"", "ftp://host:1", "http://", "http://[::1"} {
		if _, err := MakeClientEndpoints(instance, nil); err == nil {
			t.Errorf("instance %q accepted", instance)
		}
	}
}

// BenchmarkGetProductHTTP measures the hot path: GET /products/{id} through
// the real handler over keep-alive connections.
func BenchmarkGetProductHTTP(b *testing.B) {
	svc, _ := newTestService(b)
	p := mustCreate(b, svc, validProduct("BENCH-1"))
	tokens, err := user.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(NewHTTPHandler(MakeServerEndpoints(svc), tokens, log.NewNopLogger()))
	defer srv.Close()
	benchmarkGET(b, srv.URL+"/products/"+p.ID)
}

// BenchmarkGetProductBaseline is the yardstick of BenchmarkGetProductHTTP,
// built like the shop's bare reference server: a plain net/http handler
// doing a prepared SQLite point read of the same row and encoding it as JSON,
// with no framework, auth or middleware.
func BenchmarkGetProductBaseline(b *testing.B) {
	svc, st := newTestService(b)
	p := mustCreate(b, svc, validProduct("BENCH-1"))
	stmt, err := st.db.R.Prepare(`SELECT id, sku, name, price, currency FROM products WHERE id = ?`)
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	type product struct {
		ID       string `json:"id"`
		SKU      string `json:"sku"`
		Name     string `json:"name"`
		Price    int64  `json:"price"`
		Currency string `json:"currency"`
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		var p product
		if err := stmt.QueryRow(r.PathValue("id")).Scan(&p.ID, &p.SKU, &p.Name, &p.Price, &p.Currency); err != nil {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(p)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	benchmarkGET(b, srv.URL+"/products/"+p.ID)
}

func benchmarkGET(b *testing.B, target string) {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(8) // enough requests in flight to keep the server busy
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(target)
			if err != nil {
				b.Error(err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Errorf("status %d, %v", resp.StatusCode, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
