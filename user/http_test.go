package user_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

type testServer struct {
	*httptest.Server
	svc    user.Service
	tokens *user.Tokens
}

func newTestServer(t *testing.T, opts ...user.Option) *testServer {
	t.Helper()
	svc, _, tok := newService(t, opts...)
	srv := httptest.NewServer(shophttp.WithRequestID(user.NewHTTPHandler(user.MakeServerEndpoints(svc), tok, log.NewNopLogger())))
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, svc: svc, tokens: tok}
}

func (ts *testServer) token(t *testing.T, id string, role shop.Role) string {
	t.Helper()
	s, _, err := ts.tokens.Issue(shop.Identity{UserID: id, Role: role}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// client returns a Service talking HTTP to ts, sending token (if not empty).
func (ts *testServer) client(t *testing.T, token string) user.Service {
	t.Helper()
	var source func() (string, error)
	if token != "" {
		source = func() (string, error) { return token, nil }
	}
	e, err := user.MakeClientEndpoints(ts.URL, source)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type rawResponse struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (ts *testServer) do(t *testing.T, method, path, token, body string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
	json.Unmarshal(b, &r.json)
	return r
}

func (r rawResponse) errorCode() string {
	e, _ := r.json["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestHTTPClientRoundTrip(t *testing.T) {
	ts := newTestServer(t, user.WithLoginThrottle(3, time.Hour))
	ctx := context.Background()
	anon := ts.client(t, "")

	ada, err := anon.Register(ctx, user.Registration{Email: "Ada@Example.com", Password: "correct horse", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if ada.Email != "ada@example.com" || ada.Role != shop.RoleCustomer || ada.CreatedAt.IsZero() {
		t.Fatalf("registered %+v", ada)
	}
	bob, err := anon.Register(ctx, user.Registration{Email: "bob@example.com", Password: "correct horse", Name: "Bob"})
	if err != nil {
		t.Fatal(err)
	}

	// Errors raised in the service arrive with their kind and code.
	_, err = anon.Register(ctx, user.Registration{Email: "ada@example.com", Password: "correct horse", Name: "Ada"})
	wantErr(t, err, shop.ErrConflict, "email_taken")
	_, err = anon.Register(ctx, user.Registration{Email: "nope", Password: "correct horse", Name: "X"})
	wantErr(t, err, shop.ErrInvalid, "invalid_email")
	_, err = anon.Login(ctx, "ada@example.com", "wrong")
	wantErr(t, err, shop.ErrUnauthenticated, "invalid_credentials")
	_, err = anon.Me(ctx)
	wantErr(t, err, shop.ErrUnauthenticated, "missing_token")

	sess, err := anon.Login(ctx, "ada@example.com", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if sess.User != ada || sess.TokenType != "Bearer" || sess.ExpiresAt.Before(time.Now()) {
		t.Fatalf("session %+v", sess)
	}

	asAda := ts.client(t, sess.Token)
	me, err := asAda.Me(ctx)
	if err != nil || me != ada {
		t.Fatalf("me: %+v, %v", me, err)
	}
	got, err := asAda.GetUser(ctx, ada.ID)
	if err != nil || got != ada {
		t.Fatalf("get self: %+v, %v", got, err)
	}
	_, err = asAda.GetUser(ctx, bob.ID)
	wantErr(t, err, shop.ErrNotFound, "user_not_found")
	_, err = asAda.GetUser(ctx, "a/b?c#d")
	wantErr(t, err, shop.ErrNotFound, "user_not_found")
	for _, id := range []string{"", ".", "..", "me"} {
		_, err = asAda.GetUser(ctx, id)
		wantErr(t, err, shop.ErrNotFound, "user_not_found")
	}
	_, err = asAda.ListUsers(ctx, shop.PageRequest{})
	wantErr(t, err, shop.ErrForbidden, "forbidden")

	asAdmin := ts.client(t, ts.token(t, "admin-1", shop.RoleAdmin))
	got, err = asAdmin.GetUser(ctx, bob.ID)
	if err != nil || got != bob {
		t.Fatalf("admin gets bob: %+v, %v", got, err)
	}
	page, err := asAdmin.ListUsers(ctx, shop.PageRequest{Limit: 1})
	if err != nil || len(page.Items) != 1 || page.Items[0] != ada || page.NextCursor == "" {
		t.Fatalf("page 1: %+v, %v", page, err)
	}
	page, err = asAdmin.ListUsers(ctx, shop.PageRequest{Limit: 1, Cursor: page.NextCursor})
	if err != nil || len(page.Items) != 1 || page.Items[0] != bob || page.NextCursor != "" {
		t.Fatalf("page 2: %+v, %v", page, err)
	}
	_, err = asAdmin.ListUsers(ctx, shop.PageRequest{Cursor: "garbage"})
	wantErr(t, err, shop.ErrInvalid, "invalid_cursor")

	bad := ts.client(t, sess.Token+"x")
	_, err = bad.Me(ctx)
	wantErr(t, err, shop.ErrUnauthenticated, "invalid_token")

	// The throttle's Retry-After survives the trip.
	for range 3 {
		anon.Login(ctx, "bob@example.com", "wrong")
	}
	_, err = anon.Login(ctx, "bob@example.com", "correct horse")
	wantErr(t, err, shop.ErrTooManyRequests, "too_many_attempts")
	var se *shop.Error
	if !errors.As(err, &se) || se.RetryAfter < 59*time.Minute || se.RetryAfter > time.Hour {
		t.Fatalf("RetryAfter %v, want about 1h", se.RetryAfter)
	}
}

func TestHTTPRoutes(t *testing.T) {
	ts := newTestServer(t, user.WithLoginThrottle(2, time.Minute))

	r := ts.do(t, "POST", "/register", "", `{"email":"ada@example.com","password":"correct horse","name":"Ada"}`)
	if r.status != http.StatusCreated || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	for _, k := range []string{"id", "email", "name", "role", "created_at", "disabled"} {
		if _, ok := r.json[k]; !ok {
			t.Errorf("register response %s lacks %q", r.body, k)
		}
	}
	if len(r.json) != 6 || r.json["role"] != "customer" || r.json["disabled"] != false {
		t.Errorf("register response %s", r.body)
	}
	adaID, _ := r.json["id"].(string)

	r = ts.do(t, "POST", "/users", "", `{"email":"bob@example.com","password":"correct horse","name":"Bob"}`)
	if r.status != http.StatusCreated || r.json["email"] != "bob@example.com" {
		t.Fatalf("POST /users: %d %s", r.status, r.body)
	}
	// A role in the body is an unknown field, not a way to become admin.
	r = ts.do(t, "POST", "/register", "", `{"email":"eve@example.com","password":"correct horse","name":"Eve","role":"admin"}`)
	if r.status != http.StatusBadRequest || r.errorCode() != "unknown_field" {
		t.Fatalf("role in body: %d %s", r.status, r.body)
	}

	r = ts.do(t, "POST", "/login", "", `{"email":"ada@example.com","password":"correct horse"}`)
	if r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	for _, k := range []string{"token", "token_type", "expires_at", "user"} {
		if _, ok := r.json[k]; !ok {
			t.Errorf("login response %s lacks %q", r.body, k)
		}
	}
	if _, err := time.Parse(time.RFC3339, r.json["expires_at"].(string)); err != nil {
		t.Errorf("expires_at: %v", err)
	}
	token, _ := r.json["token"].(string)

	// /users/me is not /users/{id} with id "me".
	r = ts.do(t, "GET", "/users/me", token, "")
	if r.status != http.StatusOK || r.json["id"] != adaID {
		t.Fatalf("GET /users/me: %d %s", r.status, r.body)
	}
	r = ts.do(t, "GET", "/users/"+adaID, token, "")
	if r.status != http.StatusOK || r.json["email"] != "ada@example.com" {
		t.Fatalf("GET /users/{id}: %d %s", r.status, r.body)
	}

	admin := ts.token(t, "admin-1", shop.RoleAdmin)
	expired, _, _ := ts.tokens.Issue(shop.Identity{UserID: adaID, Role: shop.RoleCustomer}, -time.Minute)
	tests := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"bad json", "POST", "/register", "", `{"email":`, 400, "bad_json"},
		{"wrong type", "POST", "/register", "", `{"email":1}`, 400, "bad_json"},
		{"empty body", "POST", "/login", "", ``, 400, "bad_json"},
		{"oversized body", "POST", "/register", "", `{"name":"` + strings.Repeat("x", shophttp.MaxBodyBytes) + `"}`, 413, "body_too_large"},
		{"invalid email", "POST", "/register", "", `{"email":"x","password":"correct horse","name":"X"}`, 400, "invalid_email"},
		{"duplicate", "POST", "/register", "", `{"email":"ADA@example.com","password":"correct horse","name":"A"}`, 409, "email_taken"},
		{"wrong password", "POST", "/login", "", `{"email":"ada@example.com","password":"nope"}`, 401, "invalid_credentials"},
		{"me anonymous", "GET", "/users/me", "", "", 401, "missing_token"},
		{"me expired", "GET", "/users/me", expired, "", 401, "token_expired"},
		{"me tampered", "GET", "/users/me", token[:len(token)-2] + "xy", "", 401, "invalid_token"},
		{"list anonymous", "GET", "/users", "", "", 401, "missing_token"},
		{"list customer", "GET", "/users", token, "", 403, "forbidden"},
		{"list bad limit", "GET", "/users?limit=ten", admin, "", 400, "invalid_limit"},
		{"list limit too big", "GET", "/users?limit=1000", admin, "", 400, "invalid_limit"},
		{"list bad cursor", "GET", "/users?cursor=%21%21", admin, "", 400, "invalid_cursor"},
		{"other user", "GET", "/users/someone-else", token, "", 404, "user_not_found"},
		{"unknown route", "GET", "/nowhere", "", "", 404, "route_not_found"},
		{"wrong method", "DELETE", "/users/me", admin, "", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(t, tt.method, tt.path, tt.token, tt.body)
			if r.status != tt.status || r.errorCode() != tt.code {
				t.Fatalf("got %d %s, want %d %q", r.status, r.body, tt.status, tt.code)
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
			}
			if tt.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}

	r = ts.do(t, "GET", "/users?limit=1", admin, "")
	items, _ := r.json["items"].([]any)
	if r.status != 200 || len(items) != 1 || r.json["next_cursor"] == nil {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	r = ts.do(t, "GET", "/users?limit=1&cursor="+r.json["next_cursor"].(string), admin, "")
	items, _ = r.json["items"].([]any)
	if r.status != 200 || len(items) != 1 || items[0].(map[string]any)["email"] != "bob@example.com" {
		t.Fatalf("list page 2: %d %s", r.status, r.body)
	}

	// One failure was made above ("wrong password"); the second locks.
	ts.do(t, "POST", "/login", "", `{"email":"ada@example.com","password":"nope"}`)
	r = ts.do(t, "POST", "/login", "", `{"email":"ada@example.com","password":"correct horse"}`)
	if r.status != http.StatusTooManyRequests || r.errorCode() != "too_many_attempts" || r.header.Get("Retry-After") != "60" {
		t.Fatalf("throttled login: %d Retry-After=%q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
}

func TestMakeClientEndpointsInstance(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	hostPort := strings.TrimPrefix(ts.URL, "http://")
	for _, instance := range []string{hostPort, ts.URL, ts.URL + "/"} {
		e, err := user.MakeClientEndpoints(instance, nil)
		if err != nil {
			t.Fatalf("%q: %v", instance, err)
		}
		_, err = e.Login(ctx, "ghost@example.com", "whatever1")
		wantErr(t, err, shop.ErrUnauthenticated, "invalid_credentials")
	}
	for _, instance := range []string{"", "ftp://host", "http://"} {
		if _, err := user.MakeClientEndpoints(instance, nil); err == nil {
			t.Errorf("instance %q accepted", instance)
		}
	}
}

func TestHTTPDisableEnable(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	ada, err := ts.svc.Register(ctx, user.Registration{Email: "ada@example.com", Password: "correct horse", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	admin := ts.token(t, "admin-1", shop.RoleAdmin)
	customer := ts.token(t, ada.ID, shop.RoleCustomer)
	for _, tt := range []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"anonymous", "POST", "/users/" + ada.ID + "/disable", "", 401, "missing_token"},
		{"customer", "POST", "/users/" + ada.ID + "/disable", customer, 403, "forbidden"},
		{"customer enables", "POST", "/users/" + ada.ID + "/enable", customer, 403, "forbidden"},
		{"unknown", "POST", "/users/nobody/disable", admin, 404, "user_not_found"},
		{"unknown enable", "POST", "/users/nobody/enable", admin, 404, "user_not_found"},
		{"self", "POST", "/users/admin-1/disable", admin, 409, "cannot_disable_self"},
		{"wrong method", "GET", "/users/" + ada.ID + "/disable", admin, 405, "method_not_allowed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(t, tt.method, tt.path, tt.token, "")
			if r.status != tt.status || r.errorCode() != tt.code {
				t.Fatalf("got %d %s, want %d %q", r.status, r.body, tt.status, tt.code)
			}
		})
	}
	r := ts.do(t, "POST", "/users/"+ada.ID+"/disable", admin, "")
	if r.status != 200 || r.json["id"] != ada.ID || r.json["disabled"] != true {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	r = ts.do(t, "POST", "/login", "", `{"email":"ada@example.com","password":"correct horse"}`)
	if r.status != 401 || r.errorCode() != "invalid_credentials" {
		t.Fatalf("login while disabled: %d %s", r.status, r.body)
	}
	r = ts.do(t, "POST", "/users/"+ada.ID+"/enable", admin, "")
	if r.status != 200 || r.json["disabled"] != false {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}

	// The same through the client.
	asAdmin, asAda := ts.client(t, admin), ts.client(t, customer)
	u, err := asAdmin.DisableUser(ctx, ada.ID)
	if err != nil || !u.Disabled || u.Email != ada.Email {
		t.Fatalf("client disable: %+v, %v", u, err)
	}
	u, err = asAdmin.EnableUser(ctx, ada.ID)
	if err != nil || u.Disabled {
		t.Fatalf("client enable: %+v, %v", u, err)
	}
	_, err = asAda.DisableUser(ctx, ada.ID)
	wantErr(t, err, shop.ErrForbidden, "forbidden")
	_, err = asAdmin.DisableUser(ctx, "admin-1")
	wantErr(t, err, shop.ErrConflict, "cannot_disable_self")
	for _, id := range []string{"nobody", "a/b?c#d", "", ".", "..", "me"} {
		_, err = asAdmin.DisableUser(ctx, id)
		wantErr(t, err, shop.ErrNotFound, "user_not_found")
		_, err = asAdmin.EnableUser(ctx, id)
		wantErr(t, err, shop.ErrNotFound, "user_not_found")
	}
}
