// Package testkit holds the few helpers the repository's tests share, so
// that no test file carries a copy of another's: a log destination safe for
// concurrent writers, the conformance harnesses' way of acting as someone
// over an HTTP client, and readers of a store's outbox and of the events a
// relay delivered (outbox.go).
package testkit

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
)

// SyncBuffer is a bytes.Buffer that loggers on several goroutines may write
// to while a test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Reset forgets everything written so far.
func (s *SyncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// Issuer signs tokens; *user.Tokens is one.
type Issuer interface {
	Issue(id shop.Identity, ttl time.Duration) (string, time.Time, error)
}

// BearerAs returns a conformance harness's As for an HTTP client made with
// a nil token func: the context carries a token for the identity
// (shophttp.WithToken), which the client sends.
func BearerAs(tokens Issuer) func(ctx context.Context, id shop.Identity) context.Context {
	return func(ctx context.Context, id shop.Identity) context.Context {
		token, _, err := tokens.Issue(id, time.Hour)
		if err != nil {
			panic("testkit: issuing a token: " + err.Error()) // a valid key cannot fail
		}
		return shophttp.WithToken(ctx, token)
	}
}
