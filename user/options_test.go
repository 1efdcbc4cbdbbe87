package user_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop/user"
)

// wantPanic fails t unless f panics with a message containing every one of
// want.
func wantPanic(t *testing.T, f func(), want ...string) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one naming %q", want)
		}
		msg := fmt.Sprint(r)
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Fatalf("panic %q does not name %q", msg, w)
			}
		}
	}()
	f()
}

// Before: WithTokenTTL(0), WithBcryptCost(3), WithLoginThrottle(0, ...) and
// WithClock(nil) were silently ignored.
func TestNewServicePanicsOnUnusableOptions(t *testing.T) {
	st := newStore(t)
	tok := newTokens(t)
	for _, tt := range []struct {
		opt  user.Option
		want string
	}{
		{user.WithTokenTTL(0), "WithTokenTTL(0s)"},
		{user.WithTokenTTL(-time.Hour), "WithTokenTTL(-1h0m0s)"},
		{user.WithBcryptCost(bcrypt.MinCost - 1), "WithBcryptCost(3)"},
		{user.WithBcryptCost(bcrypt.MaxCost + 1), "WithBcryptCost(32)"},
		{user.WithLoginThrottle(0, time.Minute), "WithLoginThrottle(0, 1m0s)"},
		{user.WithLoginThrottle(5, 0), "WithLoginThrottle(5, 0s)"},
		{user.WithLoginThrottle(5, -time.Second), "WithLoginThrottle(5, -1s)"},
		{user.WithClock(nil), "WithClock(nil)"},
		{user.WithLogger(nil), "WithLogger(nil)"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			wantPanic(t, func() { user.NewService(st, tok, tt.opt) }, "user.NewService", tt.want)
			wantPanic(t, func() { user.New(st, tok, log.NewNopLogger(), testMetrics(t), tt.opt) }, tt.want)
		})
	}
	// The limits themselves are usable.
	user.NewService(st, tok, user.WithTokenTTL(time.Nanosecond), user.WithBcryptCost(bcrypt.MinCost),
		user.WithBcryptCost(bcrypt.MaxCost), user.WithLoginThrottle(1, time.Nanosecond), user.WithClock(time.Now),
		user.WithLogger(log.NewNopLogger()))
}

func TestCheckAccountsPanicsOnUnusableOptions(t *testing.T) {
	tok := newTokens(t)
	ok := user.AccountCheck(newStore(t))
	for _, tt := range []struct {
		opt  user.AccountCheckOption
		want string
	}{
		{user.WithAccountCheckTTL(0), "WithAccountCheckTTL(0s)"},
		{user.WithAccountCheckTTL(-time.Second), "WithAccountCheckTTL(-1s)"},
		{user.WithAccountCacheSize(0), "WithAccountCacheSize(0)"},
	} {
		wantPanic(t, func() { user.CheckAccounts(tok, ok, tt.opt) }, "user.CheckAccounts", tt.want)
	}
	wantPanic(t, func() { user.CheckAccounts(nil, ok) }, "user.CheckAccounts")
	wantPanic(t, func() { user.CheckAccounts(tok, nil) }, "user.CheckAccounts")
	user.CheckAccounts(tok, ok, user.WithAccountCheckTTL(time.Nanosecond), user.WithAccountCacheSize(1))
}
