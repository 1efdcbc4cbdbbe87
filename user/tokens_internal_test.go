package user

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kitshop/shop"
)

// clock is a settable time source for Tokens.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func tokensAt(t *testing.T, start time.Time) (*Tokens, *clock) {
	t.Helper()
	tok, err := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: start}
	tok.now = c.now
	return tok, c
}

func TestVerifyExpiryWithLeeway(t *testing.T) {
	start := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	id := shop.Identity{UserID: "u1", Role: shop.RoleCustomer}
	tests := []struct {
		after    time.Duration
		wantCode string // "" for valid
	}{
		{0, ""},
		{59 * time.Minute, ""},
		{time.Hour, ""},
		{time.Hour + 4*time.Second, ""}, // within the leeway for clock skew
		{time.Hour + 6*time.Second, "token_expired"},
		{48 * time.Hour, "token_expired"},
	}
	for _, tt := range tests {
		t.Run(tt.after.String(), func(t *testing.T) {
			tok, c := tokensAt(t, start)
			s, exp, err := tok.Issue(id, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if !exp.Equal(start.Add(time.Hour)) {
				t.Errorf("expiry = %v, want %v", exp, start.Add(time.Hour))
			}
			c.advance(tt.after)
			got, err := tok.Verify(context.Background(), s)
			if tt.wantCode == "" {
				if err != nil || got != id {
					t.Fatalf("Verify = %+v, %v; want %+v", got, err, id)
				}
				return
			}
			if shop.KindOf(err) != shop.ErrUnauthenticated || shop.CodeOf(err) != tt.wantCode {
				t.Fatalf("Verify = %v (code %q), want %q", err, shop.CodeOf(err), tt.wantCode)
			}
		})
	}
}

func TestTokenSourceRenewsAtHalfLife(t *testing.T) {
	start := time.Date(2030, 1, 1, 12, 0, 0, 500_000_000, time.UTC)
	tok, c := tokensAt(t, start)
	svc := shop.Identity{UserID: "order", Role: shop.RoleService}
	src := tok.TokenSource(svc, time.Hour)

	get := func() string {
		t.Helper()
		s, err := src()
		if err != nil {
			t.Fatal(err)
		}
		if id, err := tok.Verify(context.Background(), s); err != nil || id != svc {
			t.Fatalf("source token does not verify at %v: %+v, %v", c.now(), id, err)
		}
		return s
	}

	first := get()
	c.advance(10 * time.Minute)
	if get() != first {
		t.Fatal("token renewed after 10 of its 60 minutes")
	}
	c.advance(19 * time.Minute) // 29 minutes in
	if get() != first {
		t.Fatal("token renewed before half its life")
	}
	c.advance(2 * time.Minute) // 31 minutes in
	second := get()
	if second == first {
		t.Fatal("token not renewed after half its life")
	}
	c.advance(20 * time.Minute) // 20 minutes into the second token
	if get() != second {
		t.Fatal("renewed token replaced before half its life")
	}
	c.advance(11 * time.Minute) // 31 minutes into the second token
	if third := get(); third == second || third == first {
		t.Fatal("renewed token not renewed in its turn")
	}
}

func TestTokenSourceConcurrentUse(t *testing.T) {
	tok, c := tokensAt(t, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	src := tok.TokenSource(shop.Identity{UserID: "order", Role: shop.RoleService}, time.Hour)
	var wg sync.WaitGroup
	tokens := make([]string, 16)
	for i := range tokens {
		wg.Go(func() {
			s, err := src()
			if err != nil {
				t.Error(err)
			}
			tokens[i] = s
		})
	}
	wg.Wait()
	for _, s := range tokens {
		if s != tokens[0] {
			t.Fatal("concurrent callers of a fresh source got different tokens")
		}
	}
	c.advance(time.Hour)
	if s, _ := src(); s == tokens[0] {
		t.Error("token not renewed an hour later")
	}
}
