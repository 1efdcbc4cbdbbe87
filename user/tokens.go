package user

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/kitshop/shop"
)

// MinKeyBytes is the shortest signing key Tokens accepts.
const MinKeyBytes = 32

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

// Verify checks the token's signature (HS256 only), expiry and claims. It
// implements shop.Verifier; the context is not needed.
func (t *Tokens) Verify(_ context.Context, token string) (shop.Identity, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
		jwt.WithLeeway(5*time.Second),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return shop.Identity{}, shop.E(shop.ErrUnauthenticated, CodeTokenExpired, "the token has expired; log in again")
	case err != nil:
		return shop.Identity{}, shop.E(shop.ErrUnauthenticated, CodeInvalidToken, "the token is not valid")
	}
	id := shop.Identity{UserID: c.Subject, Role: shop.Role(c.Role)}
	if id.UserID == "" || !id.Role.Valid() {
		return shop.Identity{}, shop.E(shop.ErrUnauthenticated, CodeInvalidToken, "the token is not valid")
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

var _ shop.Verifier = (*Tokens)(nil)
