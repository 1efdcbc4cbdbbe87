package user_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-kit/log"
	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/order"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

// miniShop is the user and order services behind one address, as in
// examples/shop, every handler checking tokens with the same verifier.
type miniShop struct {
	*testServer
	product string
}

// newMiniShop serves users and orders on real SQLite files, with tokens
// checked by v (nil: a door check on the user store with the bound ttl).
func newMiniShop(t *testing.T, ttl time.Duration, v func(*user.SQLiteStore, *user.Tokens) shop.Verifier) *miniShop {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	svc, st, tokens := newService(t)
	cat, err := catalog.OpenSQLiteStore(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	inv, err := inventory.OpenSQLiteStore(ctx, filepath.Join(dir, "inventory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inv.Close() })
	ord, err := order.OpenSQLiteStore(ctx, filepath.Join(dir, "order.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ord.Close() })
	catalogSvc := catalog.NewService(cat)
	invSvc := inventory.NewService(inv)
	orderSvc := order.NewService(ord, catalogSvc, invSvc, order.NewDevPayments())

	asSystem := shop.WithIdentity(ctx, shop.Identity{UserID: "system", Role: shop.RoleAdmin})
	p, err := catalogSvc.CreateProduct(asSystem, catalog.NewProduct{SKU: "PEN-1", Name: "Pen", Price: 100, Currency: "USD", Category: "stationery"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := invSvc.AddStock(asSystem, p.ID, 1000); err != nil {
		t.Fatal(err)
	}

	var verifier shop.Verifier = user.CheckAccounts(tokens, user.AccountCheck(st), user.WithAccountCheckTTL(ttl))
	if v != nil {
		verifier = v(st, tokens)
	}
	mux := http.NewServeMux()
	userHandler := user.NewHTTPHandler(user.MakeServerEndpoints(svc), verifier, log.NewNopLogger())
	for _, p := range []string{"/register", "/login", "/users", "/users/"} {
		mux.Handle(p, userHandler)
	}
	orderHandler := order.NewHTTPHandler(order.MakeServerEndpoints(orderSvc), verifier, log.NewNopLogger())
	mux.Handle("/orders", orderHandler)
	mux.Handle("/orders/", orderHandler)
	srv := httptest.NewServer(shophttp.WithRequestID(mux))
	t.Cleanup(srv.Close)
	if _, err := user.EnsureAdmin(ctx, st, "root@example.com", "root-password", bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	return &miniShop{testServer: &testServer{Server: srv, svc: svc, tokens: tokens}, product: p.ID}
}

func (m *miniShop) login(t *testing.T, email, password string) string {
	t.Helper()
	r := m.do(t, "POST", "/login", "", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	if r.status != 200 {
		t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	return r.json["token"].(string)
}

// order places an order of one pen with token and returns the answer.
func (m *miniShop) order(t *testing.T, token string) rawResponse {
	t.Helper()
	return m.do(t, "POST", "/orders", token, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":1}]}`, m.product))
}

// until polls the order answer for token until it has status, and returns
// how long that took; it fails after limit.
func (m *miniShop) until(t *testing.T, token string, status int, code string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := m.order(t, token)
		if r.status == status && r.errorCode() == code {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("after %v POST /orders still answers %d %s, want %d %q", time.Since(start), r.status, r.body, status, code)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Before: a validly signed token for an account that does not exist could
// place orders, and a disabled account's tokens kept working.
func TestDoorCheckRefusesGoneAndDisabledAccounts(t *testing.T) {
	const bound = 150 * time.Millisecond
	m := newMiniShop(t, bound, nil)
	ada, err := m.svc.Register(context.Background(), user.Registration{Email: "ada@example.com", Password: "correct horse", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	adaToken := m.login(t, "ada@example.com", "correct horse")
	admin := m.login(t, "root@example.com", "root-password")

	if r := m.order(t, adaToken); r.status != 201 {
		t.Fatalf("order by ada: %d %s", r.status, r.body)
	}
	ghost := m.token(t, shop.NewID(), shop.RoleCustomer)
	if r := m.order(t, ghost); r.status != 401 || r.errorCode() != "invalid_token" {
		t.Fatalf("order with a token of no account: %d %s, want 401 invalid_token", r.status, r.body)
	}
	if r := m.do(t, "GET", "/users?limit=1", m.token(t, shop.NewID(), shop.RoleAdmin), ""); r.status != 401 || r.errorCode() != "invalid_token" {
		t.Fatalf("admin token of no account: %d %s, want 401 invalid_token", r.status, r.body)
	}
	if r := m.do(t, "GET", "/users?limit=1", m.token(t, ada.ID, shop.RoleAdmin), ""); r.status != 401 || r.errorCode() != "invalid_token" {
		t.Fatalf("admin token for a customer account: %d %s, want 401 invalid_token", r.status, r.body)
	}

	// Disabled: ada's token (its answer is remembered from the order above)
	// is refused within the bound.
	disabledAt := time.Now()
	if r := m.do(t, "POST", "/users/"+ada.ID+"/disable", admin, ""); r.status != 200 || r.json["disabled"] != true {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	m.until(t, adaToken, 401, "account_disabled", 10*bound)
	if took := time.Since(disabledAt); took > bound+100*time.Millisecond {
		t.Errorf("the disabled account's token was refused %v after disabling, bound %v", took, bound)
	}
	if r := m.do(t, "GET", "/users/me", adaToken, ""); r.status != 401 || r.errorCode() != "account_disabled" {
		t.Fatalf("me while disabled: %d %s", r.status, r.body)
	}

	// Enabled again: the token works again within the bound.
	if r := m.do(t, "POST", "/users/"+ada.ID+"/enable", admin, ""); r.status != 200 || r.json["disabled"] != false {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}
	m.until(t, adaToken, 201, "", 10*bound)
}

// A split deployment: the order side checks accounts by asking the user
// service over HTTP with a service token.
func TestDoorCheckThroughRemoteUserService(t *testing.T) {
	var users *user.SQLiteStore
	var tokens *user.Tokens
	// The user service checks its own tokens against its store.
	userSide := newMiniShop(t, time.Minute, func(st *user.SQLiteStore, tok *user.Tokens) shop.Verifier {
		users, tokens = st, tok
		return user.CheckAccounts(tok, user.AccountCheck(st))
	})
	client, err := user.MakeClientEndpoints(userSide.URL,
		tokens.TokenSource(shop.Identity{UserID: "order", Role: shop.RoleService}, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	remote := user.CheckAccounts(tokens, user.ServiceAccountCheck(client), user.WithAccountCheckTTL(20*time.Millisecond))
	ada, err := user.NewService(users, tokens, user.WithBcryptCost(bcrypt.MinCost)).
		Register(context.Background(), user.Registration{Email: "ada@example.com", Password: "correct horse", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	adaToken := userSide.token(t, ada.ID, shop.RoleCustomer)
	ctx := context.Background()
	if id, err := remote.Verify(ctx, adaToken); err != nil || id.UserID != ada.ID {
		t.Fatalf("remote check of ada: %+v, %v", id, err)
	}
	_, err = remote.Verify(ctx, userSide.token(t, shop.NewID(), shop.RoleCustomer))
	wantErr(t, err, shop.ErrUnauthenticated, "invalid_token")

	admin := userSide.login(t, "root@example.com", "root-password")
	if r := userSide.do(t, "POST", "/users/"+ada.ID+"/disable", admin, ""); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err = remote.Verify(ctx, adaToken)
		if shop.CodeOf(err) == "account_disabled" || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantErr(t, err, shop.ErrUnauthenticated, "account_disabled")

	// A client without a service credential cannot check: the request is
	// refused as unavailable, not every account as gone.
	anon, err := user.MakeClientEndpoints(userSide.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	noCredential := user.CheckAccounts(tokens, user.ServiceAccountCheck(anon))
	_, err = noCredential.Verify(ctx, userSide.token(t, shop.NewID(), shop.RoleCustomer))
	wantErr(t, err, shop.ErrUnavailable, "account_check_refused")
}
