package http

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/kitshop/shop"
)

// MinKeyBytes is the shortest signing key Tokens accepts.
const MinKeyBytes = 32

// Verifier checks a bearer token and returns who it belongs to. Errors are
// ErrUnauthenticated.
type Verifier interface {
	Verify(token string) (shop.Identity, error)
}

// Tokens issues and verifies the shop's login tokens: JWTs signed with HS256,
// carrying the claims sub (user ID), role and exp. Every service that checks
// tokens needs the same key.
type Tokens struct {
	key []byte
	now func() time.Time
}

// NewTokens returns Tokens signing with key, which must be at least
// MinKeyBytes long. The error never contains the key.
func NewTokens(key []byte) (*Tokens, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("secret key must be at least %d bytes, got %d", MinKeyBytes, len(key))
	}
	return &Tokens{key: append([]byte(nil), key...), now: time.Now}, nil
}

type claims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

// Issue signs a token for id that expires after ttl, and returns it with its
// expiry time.
func (t *Tokens) Issue(id shop.Identity, ttl time.Duration) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(ttl).Truncate(time.Second)
	c := claims{Role: string(id.Role), RegisteredClaims: jwt.RegisteredClaims{
		Subject:   id.UserID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// Verify checks the token's signature (HS256 only), expiry and claims.
func (t *Tokens) Verify(token string) (shop.Identity, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
		jwt.WithLeeway(5*time.Second),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return shop.Identity{}, shop.E(shop.ErrUnauthenticated, "token_expired", "the token has expired; log in again")
	case err != nil:
		return shop.Identity{}, shop.E(shop.ErrUnauthenticated, "invalid_token", "the token is not valid")
	}
	id := shop.Identity{UserID: c.Subject, Role: shop.Role(c.Role)}
	if id.UserID == "" || !id.Role.Valid() {
		return shop.Identity{}, shop.E(shop.ErrUnauthenticated, "invalid_token", "the token is not valid")
	}
	return id, nil
}

// TokenSource returns a function handing out a token for id, renewed well
// before it expires. Services use it for the credential they present to
// other services' internal routes.
func (t *Tokens) TokenSource(id shop.Identity, ttl time.Duration) func() (string, error) {
	var (
		mu    sync.Mutex
		token string
		exp   time.Time
	)
	return func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if token == "" || t.now().After(exp.Add(-ttl/2)) {
			s, e, err := t.Issue(id, ttl)
			if err != nil {
				return "", err
			}
			token, exp = s, e
		}
		return token, nil
	}
}

// BearerToken returns the token of an "Authorization: Bearer <token>" header
// value, and whether the header had that form.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Authenticate returns a go-kit server RequestFunc that verifies the bearer
// token, if the request has one, and puts the caller's identity in the
// context. A request without a token is left anonymous; a bad token is
// recorded so that shop.Authenticated reports why, and routes that need no
// identity still work.
func Authenticate(v Verifier) func(context.Context, *http.Request) context.Context {
	return func(ctx context.Context, r *http.Request) context.Context {
		h := r.Header.Get("Authorization")
		if h == "" {
			return ctx
		}
		token, ok := BearerToken(h)
		if !ok {
			return shop.WithAuthError(ctx, shop.E(shop.ErrUnauthenticated, "invalid_token", "the Authorization header must be \"Bearer <token>\""))
		}
		id, err := v.Verify(token)
		if err != nil {
			return shop.WithAuthError(ctx, err)
		}
		return shop.WithIdentity(ctx, id)
	}
}

// PassToken returns a go-kit client RequestFunc that sends a bearer token
// from source on every request; with a nil source it sends the token of the
// incoming request that the context came from (see KeepToken).
func PassToken(source func() (string, error)) func(context.Context, *http.Request) context.Context {
	return func(ctx context.Context, r *http.Request) context.Context {
		if source == nil {
			if t, ok := ctx.Value(tokenKey{}).(string); ok {
				r.Header.Set("Authorization", "Bearer "+t)
			}
			return ctx
		}
		if t, err := source(); err == nil {
			r.Header.Set("Authorization", "Bearer "+t)
		}
		return ctx
	}
}

type tokenKey struct{}

// KeepToken is a go-kit server RequestFunc that keeps the raw bearer token in
// the context, so a client built with PassToken(nil) can act for the same
// caller downstream.
func KeepToken(ctx context.Context, r *http.Request) context.Context {
	if t, ok := BearerToken(r.Header.Get("Authorization")); ok {
		return context.WithValue(ctx, tokenKey{}, t)
	}
	return ctx
}

// WithToken returns a context carrying a raw bearer token for PassToken(nil).
func WithToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}
