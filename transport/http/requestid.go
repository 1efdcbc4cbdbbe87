package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/kitshop/shop"
)

// RequestIDHeader carries the request ID between clients, gateway and services.
const RequestIDHeader = "X-Request-ID"

// WithRequestID wraps a handler so every request has an ID: the caller's
// X-Request-ID when it is a sane token (at most 128 printable ASCII
// characters), a new random one otherwise. The ID is put in the request's
// context (shop.RequestIDFrom) and echoed in the response header.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = NewRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(shop.WithRequestID(r.Context(), id)))
	})
}

// NewRequestID returns a fresh random request ID.
func NewRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// PassRequestID is a go-kit client RequestFunc that sends the context's
// request ID on the outgoing request, so one ID follows a request across
// services.
func PassRequestID(ctx context.Context, r *http.Request) context.Context {
	if id := shop.RequestIDFrom(ctx); id != "" {
		r.Header.Set(RequestIDHeader, id)
	}
	return ctx
}
