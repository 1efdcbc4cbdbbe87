package user_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/user"
)

var (
	otherKey = []byte("fedcba9876543210fedcba9876543210")
	tokAlice = shop.Identity{UserID: "01hzalice", Role: shop.RoleCustomer}
)

func tokensWithKey(t *testing.T, key []byte) *user.Tokens {
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

func TestNewTokensKeyLength(t *testing.T) {
	short := []byte("a-secret-that-is-31-bytes-long!")
	if len(short) != user.MinKeyBytes-1 {
		t.Fatalf("test key has %d bytes", len(short))
	}
	_, err := user.NewTokens(short)
	if err == nil {
		t.Fatal("NewTokens accepted a 31-byte key")
	}
	if strings.Contains(err.Error(), string(short)) {
		t.Errorf("error %q contains the key", err)
	}
	if _, err := user.NewTokens(nil); err == nil {
		t.Error("NewTokens accepted no key")
	}
	if _, err := user.NewTokens(testKey); err != nil {
		t.Errorf("NewTokens(32 bytes) = %v", err)
	}
}

func TestTokensRoundTrip(t *testing.T) {
	tok := tokensWithKey(t, testKey)
	for _, id := range []shop.Identity{
		tokAlice,
		{UserID: "01hzadmin", Role: shop.RoleAdmin},
		{UserID: "order-service", Role: shop.RoleService},
	} {
		t.Run(string(id.Role), func(t *testing.T) {
			before := time.Now()
			s, exp, err := tok.Issue(id, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if exp.Before(before.Add(time.Hour-time.Second)) || exp.After(before.Add(time.Hour+time.Second)) {
				t.Errorf("expiry %v is not an hour from %v", exp, before)
			}
			got, err := tok.Verify(context.Background(), s)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != id {
				t.Errorf("Verify = %+v, want %+v", got, id)
			}
		})
	}
}

func TestTokensKeepACopyOfTheKey(t *testing.T) {
	key := append([]byte(nil), testKey...)
	tok := tokensWithKey(t, key)
	s := issue(t, tok, tokAlice, time.Hour)
	for i := range key {
		key[i] = 'x'
	}
	if _, err := tok.Verify(context.Background(), s); err != nil {
		t.Errorf("changing the caller's key slice broke Verify: %v", err)
	}
}

// sign makes an HS256 token with arbitrary claims, as a forger holding the
// key (or a buggy issuer) could.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tamperPayload(t *testing.T, token string, change func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", token, len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	change(payload)
	raw, err = json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestTokensVerifyRejects(t *testing.T) {
	tok := tokensWithKey(t, testKey)
	good := issue(t, tok, tokAlice, time.Hour)
	future := time.Now().Add(time.Hour).Unix()
	parts := strings.Split(good, ".")

	tests := []struct {
		name  string
		token string
		code  string
	}{
		{"expired", issue(t, tok, tokAlice, -time.Minute), "token_expired"},
		{"other key", issue(t, tokensWithKey(t, otherKey), tokAlice, time.Hour), "invalid_token"},
		{"payload made admin", tamperPayload(t, good, func(p map[string]any) { p["role"] = "admin" }), "invalid_token"},
		{"payload expiry extended", tamperPayload(t, issue(t, tok, tokAlice, -time.Minute), func(p map[string]any) { p["exp"] = future }), "invalid_token"},
		{"signature changed", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), "invalid_token"},
		{"signature removed", parts[0] + "." + parts[1] + ".", "invalid_token"},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "u1", "role": "admin", "exp": future}), "invalid_token"},
		{"HS512 with the right key", sign(t, jwt.SigningMethodHS512, testKey, jwt.MapClaims{"sub": "u1", "role": "admin", "exp": future}), "invalid_token"},
		{"unknown role", sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"sub": "u1", "role": "root", "exp": future}), "invalid_token"},
		{"no role", sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"sub": "u1", "exp": future}), "invalid_token"},
		{"no subject", sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"role": "admin", "exp": future}), "invalid_token"},
		{"no expiry", sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"sub": "u1", "role": "admin"}), "invalid_token"},
		{"role of the wrong type", sign(t, jwt.SigningMethodHS256, testKey, jwt.MapClaims{"sub": "u1", "role": 7, "exp": future}), "invalid_token"},
		{"garbage", "not.a.token", "invalid_token"},
		{"empty", "", "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := tok.Verify(context.Background(), tt.token)
			if !errors.Is(err, shop.ErrUnauthenticated) || shop.CodeOf(err) != tt.code {
				t.Fatalf("Verify = %+v, %v (code %q); want ErrUnauthenticated %q", id, err, shop.CodeOf(err), tt.code)
			}
			if id != (shop.Identity{}) {
				t.Errorf("Verify returned identity %+v with its error", id)
			}
		})
	}
}

func TestTokenSourceIssuesValidTokens(t *testing.T) {
	tok := tokensWithKey(t, testKey)
	svc := shop.Identity{UserID: "order", Role: shop.RoleService}
	src := tok.TokenSource(svc, time.Hour)
	first, err := src()
	if err != nil {
		t.Fatal(err)
	}
	if id, err := tok.Verify(context.Background(), first); err != nil || id != svc {
		t.Fatalf("Verify(source token) = %+v, %v", id, err)
	}
	second, err := src()
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Error("a fresh token was replaced straight away")
	}
}
