package http

import (
	"context"
	"net/http"
	"strings"

	"github.com/kitshop/shop"
)

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
// token with v, if the request has one, and puts the caller's identity in
// the context. A request without a token is left anonymous; a bad token is
// recorded so that shop.Authenticated reports why, and routes that need no
// identity still work. Issuing and verifying tokens is not the transport's
// business: user.Tokens does it, for any transport.
func Authenticate(v shop.Verifier) func(context.Context, *http.Request) context.Context {
	return func(ctx context.Context, r *http.Request) context.Context {
		h := r.Header.Get("Authorization")
		if h == "" {
			return ctx
		}
		token, ok := BearerToken(h)
		if !ok {
			return shop.WithAuthError(ctx, shop.E(shop.ErrUnauthenticated, "invalid_token", "the Authorization header must be \"Bearer <token>\""))
		}
		return shop.Authenticate(ctx, v, token)
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
