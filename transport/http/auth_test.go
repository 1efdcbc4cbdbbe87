package http_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef")
	otherKey = []byte("fedcba9876543210fedcba9876543210")
	alice    = shop.Identity{UserID: "01hzalice", Role: shop.RoleCustomer}
)

func newTokens(t *testing.T, key []byte) *user.Tokens {
	t.Helper()
	tok, err := user.NewTokens(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func issue(t *testing.T, tok *user.Tokens, id shop.Identity, ttl time.Duration) string {
	t.Helper()
	s, _, err := tok.Issue(id, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"Bearer   abc  ", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"abc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			got, ok := shophttp.BearerToken(tt.header)
			if got != tt.want || ok != tt.ok {
				t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	tok := newTokens(t, testKey)
	valid := issue(t, tok, alice, time.Hour)
	expired := issue(t, tok, alice, -time.Minute)
	auth := shophttp.Authenticate(tok)

	tests := []struct {
		name     string
		header   string
		wantID   shop.Identity
		wantCode string // from shop.Authenticated; "" for success
	}{
		{"no header is anonymous", "", shop.Identity{}, "missing_token"},
		{"basic auth", "Basic x", shop.Identity{}, "invalid_token"},
		{"bearer without token", "Bearer ", shop.Identity{}, "invalid_token"},
		{"valid", "Bearer " + valid, alice, ""},
		{"lower-case scheme", "bearer " + valid, alice, ""},
		{"expired", "Bearer " + expired, shop.Identity{}, "token_expired"},
		{"forged", "Bearer " + issue(t, newTokens(t, otherKey), shop.Identity{UserID: "x", Role: shop.RoleAdmin}, time.Hour), shop.Identity{}, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			ctx := auth(context.Background(), r)
			id, err := shop.Authenticated(ctx)
			if tt.wantCode == "" {
				if err != nil || id != tt.wantID {
					t.Fatalf("Authenticated = %+v, %v; want %+v", id, err, tt.wantID)
				}
				return
			}
			if !errors.Is(err, shop.ErrUnauthenticated) || shop.CodeOf(err) != tt.wantCode {
				t.Fatalf("Authenticated error = %v (code %q), want %q", err, shop.CodeOf(err), tt.wantCode)
			}
			if _, ok := shop.IdentityFrom(ctx); ok {
				t.Error("a failed authentication left an identity in the context")
			}
		})
	}
}

func TestPassToken(t *testing.T) {
	tests := []struct {
		name   string
		source func() (string, error)
		ctx    context.Context
		want   string
	}{
		{"from source", func() (string, error) { return "svc-token", nil }, context.Background(), "Bearer svc-token"},
		{"source fails", func() (string, error) { return "", errors.New("no key") }, context.Background(), ""},
		{"source wins over incoming", func() (string, error) { return "svc-token", nil }, shophttp.WithToken(context.Background(), "user-token"), "Bearer svc-token"},
		{"incoming token", nil, shophttp.WithToken(context.Background(), "user-token"), "Bearer user-token"},
		{"no incoming token", nil, context.Background(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			shophttp.PassToken(tt.source)(tt.ctx, r)
			if got := r.Header.Get("Authorization"); got != tt.want {
				t.Errorf("Authorization = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeepToken(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer user-token")
	ctx := shophttp.KeepToken(context.Background(), r)
	out := httptest.NewRequest(http.MethodGet, "/", nil)
	shophttp.PassToken(nil)(ctx, out)
	if got := out.Header.Get("Authorization"); got != "Bearer user-token" {
		t.Errorf("passed on %q, want Bearer user-token", got)
	}

	anon := httptest.NewRequest(http.MethodGet, "/", nil)
	anon.Header.Set("Authorization", "Basic x")
	ctx = shophttp.KeepToken(context.Background(), anon)
	out = httptest.NewRequest(http.MethodGet, "/", nil)
	shophttp.PassToken(nil)(ctx, out)
	if got := out.Header.Get("Authorization"); got != "" {
		t.Errorf("passed on %q from a non-bearer header", got)
	}
}
