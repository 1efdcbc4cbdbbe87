package user

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kitshop/shop"
)

// accountsFixture is a CheckAccounts verifier on a settable clock whose
// check counts its calls and answers from a table.
type accountsFixture struct {
	tokens *Tokens
	clock  *clock
	v      *AccountVerifier
	calls  atomic.Int64

	mu      sync.Mutex
	answers map[string]error // by user ID; missing: nil
}

func newAccountsFixture(t *testing.T, opts ...AccountCheckOption) *accountsFixture {
	t.Helper()
	tok, c := tokensAt(t, time.Now())
	f := &accountsFixture{tokens: tok, clock: c, answers: map[string]error{}}
	f.v = CheckAccounts(tok, func(ctx context.Context, id shop.Identity) error {
		f.calls.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.answers[id.UserID]
	}, opts...)
	f.v.now = c.now
	return f
}

func (f *accountsFixture) set(userID string, err error) {
	f.mu.Lock()
	f.answers[userID] = err
	f.mu.Unlock()
}

func (f *accountsFixture) token(t *testing.T, id shop.Identity) string {
	t.Helper()
	s, _, err := f.tokens.Issue(id, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantCode(t *testing.T, err error, kind *shop.Kind, code string) {
	t.Helper()
	if shop.KindOf(err) != kind || shop.CodeOf(err) != code {
		t.Fatalf("got %v (kind %v, code %q), want kind %v, code %q", err, shop.KindOf(err), shop.CodeOf(err), kind, code)
	}
}

func TestCheckAccountsRemembersAnswersForTheBound(t *testing.T) {
	f := newAccountsFixture(t, WithAccountCheckTTL(time.Second))
	ada := shop.Identity{UserID: "ada", Role: shop.RoleCustomer}
	token := f.token(t, ada)
	for range 100 {
		if id, err := f.v.Verify(context.Background(), token); err != nil || id != ada {
			t.Fatalf("Verify = %+v, %v", id, err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d checks for 100 requests within the bound, want 1", n)
	}
	// Disabled: still accepted until the bound, refused from then on.
	f.set("ada", shop.E(shop.ErrUnauthenticated, "account_disabled", "disabled"))
	f.clock.advance(999 * time.Millisecond)
	if _, err := f.v.Verify(context.Background(), token); err != nil {
		t.Fatalf("within the bound: %v", err)
	}
	f.clock.advance(time.Millisecond)
	_, err := f.v.Verify(context.Background(), token)
	wantCode(t, err, shop.ErrUnauthenticated, "account_disabled")
	// The refusal is remembered as well.
	for range 10 {
		_, err = f.v.Verify(context.Background(), token)
		wantCode(t, err, shop.ErrUnauthenticated, "account_disabled")
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d checks, want 2", n)
	}
	f.set("ada", nil)
	f.clock.advance(time.Second)
	if _, err := f.v.Verify(context.Background(), token); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
}

func TestCheckAccountsPerIdentity(t *testing.T) {
	f := newAccountsFixture(t)
	f.set("bob", shop.E(shop.ErrUnauthenticated, "invalid_token", "gone"))
	if _, err := f.v.Verify(context.Background(), f.token(t, shop.Identity{UserID: "ada", Role: shop.RoleCustomer})); err != nil {
		t.Fatal(err)
	}
	_, err := f.v.Verify(context.Background(), f.token(t, shop.Identity{UserID: "bob", Role: shop.RoleCustomer}))
	wantCode(t, err, shop.ErrUnauthenticated, "invalid_token")
	// The same user with another role is its own question.
	if _, err := f.v.Verify(context.Background(), f.token(t, shop.Identity{UserID: "ada", Role: shop.RoleAdmin})); err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("%d checks, want 3", n)
	}
}

func TestCheckAccountsSkipsServicesAndBadTokens(t *testing.T) {
	f := newAccountsFixture(t)
	f.set("order", shop.E(shop.ErrUnauthenticated, "invalid_token", "no such account"))
	svc := shop.Identity{UserID: "order", Role: shop.RoleService}
	if id, err := f.v.Verify(context.Background(), f.token(t, svc)); err != nil || id != svc {
		t.Fatalf("service token: %+v, %v", id, err)
	}
	_, err := f.v.Verify(context.Background(), "not-a-token")
	wantCode(t, err, shop.ErrUnauthenticated, "invalid_token")
	expired, _, _ := f.tokens.Issue(shop.Identity{UserID: "ada", Role: shop.RoleCustomer}, -time.Hour)
	_, err = f.v.Verify(context.Background(), expired)
	wantCode(t, err, shop.ErrUnauthenticated, "token_expired")
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("%d checks, want none", n)
	}
}

func TestCheckAccountsFailuresAreNotRemembered(t *testing.T) {
	f := newAccountsFixture(t)
	token := f.token(t, shop.Identity{UserID: "ada", Role: shop.RoleCustomer})
	f.set("ada", errors.New("sql: database is closed"))
	_, err := f.v.Verify(context.Background(), token)
	wantCode(t, err, shop.ErrUnavailable, "account_check_failed")
	if err.Error() == "sql: database is closed" {
		t.Fatal("the internal error reaches the caller")
	}
	f.set("ada", shop.E(shop.ErrUnavailable, "user_service_down", "down"))
	_, err = f.v.Verify(context.Background(), token)
	wantCode(t, err, shop.ErrUnavailable, "user_service_down")
	f.set("ada", nil)
	if _, err := f.v.Verify(context.Background(), token); err != nil {
		t.Fatalf("after the failure: %v", err)
	}
	if n := f.calls.Load(); n != 3 || f.v.cached() != 1 {
		t.Fatalf("%d checks and %d answers remembered, want 3 and 1", n, f.v.cached())
	}
}

func TestCheckAccountsSharesOneCheck(t *testing.T) {
	tok, _ := tokensAt(t, time.Now())
	release := make(chan struct{})
	var calls atomic.Int64
	v := CheckAccounts(tok, func(ctx context.Context, id shop.Identity) error {
		calls.Add(1)
		<-release
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return shop.E(shop.ErrUnauthenticated, "account_disabled", "disabled")
	})
	token, _, _ := tok.Issue(shop.Identity{UserID: "ada", Role: shop.RoleCustomer}, time.Hour)

	// The request that starts the check goes away; the others still get
	// its answer.
	first, cancelFirst := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	wg.Go(func() { _, err := v.Verify(first, token); errs <- err })
	for calls.Load() == 0 {
		runtime.Gosched()
	}
	for range 49 {
		wg.Go(func() { _, err := v.Verify(context.Background(), token); errs <- err })
	}
	// A waiter whose own request ends stops waiting.
	gone, cancelGone := context.WithCancel(context.Background())
	cancelGone()
	if _, err := v.Verify(gone, token); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	cancelFirst()
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			wantCode(t, err, shop.ErrUnauthenticated, "account_disabled")
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d checks for 50 concurrent requests, want 1", n)
	}
}

func TestCheckAccountsIsBounded(t *testing.T) {
	f := newAccountsFixture(t, WithAccountCacheSize(32), WithAccountCheckTTL(time.Minute))
	for i := range 1000 {
		if _, err := f.v.Verify(context.Background(), f.token(t, shop.Identity{UserID: fmt.Sprint("user", i), Role: shop.RoleCustomer})); err != nil {
			t.Fatal(err)
		}
		if n := f.v.cached(); n > 32 {
			t.Fatalf("%d answers remembered, size 32", n)
		}
	}
	// Past their time, answers are dropped first.
	f.clock.advance(time.Minute)
	f.v.Verify(context.Background(), f.token(t, shop.Identity{UserID: "late", Role: shop.RoleCustomer}))
	if n := f.v.cached(); n != 1 {
		t.Fatalf("%d answers after their time passed, want only the new one", n)
	}
}

// The documented bound: about 200 bytes per remembered account, so about
// 2 MB for DefaultAccountCacheSize.
func TestCheckAccountsMemory(t *testing.T) {
	f := newAccountsFixture(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range DefaultAccountCacheSize {
		// IDs as long as the shop's ULIDs, in fresh memory as a parsed
		// token's claims are.
		id := shop.Identity{UserID: fmt.Sprintf("01jabcdefghjkmnpqrst%06d", i), Role: shop.Role(string([]byte("customer")))}
		if err := f.v.account(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d remembered accounts: %d bytes of heap, %d per account", f.v.cached(), used, used/int64(f.v.cached()))
	if used > 2<<20 {
		t.Fatalf("the cache takes %d bytes, more than the documented 2 MB", used)
	}
	runtime.KeepAlive(f.v)
}

func TestCheckUsesTheRequestContext(t *testing.T) {
	tok, _ := tokensAt(t, time.Now())
	type key struct{}
	var seen any
	v := CheckAccounts(tok, func(ctx context.Context, id shop.Identity) error {
		seen = ctx.Value(key{})
		return shop.E(shop.ErrUnauthenticated, "account_disabled", "this account is disabled")
	})
	token, _, _ := tok.Issue(shop.Identity{UserID: "ada", Role: shop.RoleCustomer}, time.Hour)
	_, err := v.Verify(context.WithValue(context.Background(), key{}, "request value"), token)
	wantCode(t, err, shop.ErrUnauthenticated, "account_disabled")
	if seen != "request value" {
		t.Fatalf("the check saw %v, not the request's context", seen)
	}
}

func BenchmarkCheckAccountsHit(b *testing.B) {
	tok, err := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	v := CheckAccounts(tok, func(context.Context, shop.Identity) error { return nil })
	id := shop.Identity{UserID: "01jabcdefghjkmnpqrstvwxyz0", Role: shop.RoleCustomer}
	ctx := context.Background()
	v.account(ctx, id)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := v.account(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}
