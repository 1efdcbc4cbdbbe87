package user

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kitshop/shop"
)

// Defaults of CheckAccounts.
const (
	// DefaultAccountCheckTTL is how long CheckAccounts remembers the answer
	// for an account, and so the longest a disabled or deleted account's
	// tokens keep working.
	DefaultAccountCheckTTL = 5 * time.Second
	// DefaultAccountCacheSize is how many accounts CheckAccounts remembers at
	// most.
	DefaultAccountCacheSize = 10000
)

// accountCheckTimeout bounds one account check, which runs on behalf of every
// request waiting for the same account and so ignores the cancellation of
// the request that started it.
const accountCheckTimeout = 10 * time.Second

// AccountCheckFunc decides whether the account of a verified token may still
// use it: nil if it may, an error of kind ErrUnauthenticated (such as
// "account_disabled" or "invalid_token") if it may not. Any other error means
// the check could not be made (a database or a service is down). The user
// package provides one for a local store (user.AccountCheck) and one that
// asks a user.Service, local or remote (user.ServiceAccountCheck).
type AccountCheckFunc func(ctx context.Context, id shop.Identity) error

// AccountCheckOption changes a default of CheckAccounts. As with Option, a
// value the option cannot use makes CheckAccounts panic with a message
// naming the option.
type AccountCheckOption func(*AccountVerifier)

// WithAccountCheckTTL sets how long an answer is remembered (default
// DefaultAccountCheckTTL): a disabled account's tokens stop working at most
// d after it was disabled, and each account is checked at most once per d
// while it is in use. A d that is not positive makes CheckAccounts panic.
func WithAccountCheckTTL(d time.Duration) AccountCheckOption {
	return func(a *AccountVerifier) {
		if d <= 0 {
			panic(fmt.Sprintf("user.CheckAccounts: WithAccountCheckTTL(%v): the time an answer is remembered must be positive", d))
		}
		a.ttl = d
	}
}

// WithAccountCacheSize sets how many accounts are remembered at most
// (default DefaultAccountCacheSize); when more are in use at once, some are
// checked again sooner. A size below 1 makes CheckAccounts panic.
func WithAccountCacheSize(n int) AccountCheckOption {
	return func(a *AccountVerifier) {
		if n < 1 {
			panic(fmt.Sprintf("user.CheckAccounts: WithAccountCacheSize(%d): at least 1 account must be remembered", n))
		}
		a.size = n
	}
}

// AccountVerifier is the shop.Verifier CheckAccounts returns: it verifies tokens
// with another Verifier, then checks that their account may still use them,
// remembering each answer for a short time.
type AccountVerifier struct {
	next  shop.Verifier
	check AccountCheckFunc
	ttl   time.Duration
	size  int
	now   func() time.Time

	mu        sync.RWMutex
	answers   map[shop.Identity]*accountAnswer
	lastSweep time.Time
}

// accountAnswer is one remembered check, or one under way (ready false:
// wait for done). Its fields change only under the verifier's lock, and err
// is written before done is closed.
type accountAnswer struct {
	ready bool
	err   error     // the check's answer; nil: the account may use its tokens
	until time.Time // the answer is used until then
	done  chan struct{}
}

// CheckAccounts returns a shop.Verifier that verifies tokens with v and then asks
// check whether their account may still use them: a token whose account does
// not exist or is disabled is refused with check's ErrUnauthenticated error
// (a 401 such as "invalid_token" or "account_disabled"), even though its
// signature is valid. Tokens of RoleService identities are not checked:
// they are credentials of services, not user accounts.
//
// Each answer is remembered per identity (user ID and role) for
// DefaultAccountCheckTTL (see WithAccountCheckTTL), so a disabled account's
// tokens stop working within that bound, and a request for an account seen
// recently costs one map lookup under a read lock. Concurrent requests for
// an account not remembered share one check. At most DefaultAccountCacheSize
// answers are kept (see WithAccountCacheSize), about 200 bytes each (300 for
// a refusal, which keeps its error), so under 3 MB: when the table is full,
// answers past their time are dropped first, then arbitrary ones, which are
// only checked again sooner. A check that fails for any other reason is not
// remembered and the request is refused with ErrUnavailable (503
// "account_check_failed", or check's own ErrUnavailable error), so a broken
// database or user service fails closed.
//
// Give every handler of a process the same AccountVerifier, so they share
// its cache. A nil v or check, or an option given a value it cannot use,
// makes CheckAccounts panic.
func CheckAccounts(v shop.Verifier, check AccountCheckFunc, opts ...AccountCheckOption) *AccountVerifier {
	if v == nil || check == nil {
		panic("user.CheckAccounts: the verifier and the check must not be nil")
	}
	a := &AccountVerifier{next: v, check: check, ttl: DefaultAccountCheckTTL, size: DefaultAccountCacheSize,
		now: time.Now, answers: make(map[shop.Identity]*accountAnswer)}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Verify verifies token with the wrapped Verifier, then, unless it is a
// service's, checks its account (or uses the answer remembered for it). It
// implements shop.Verifier.
func (a *AccountVerifier) Verify(ctx context.Context, token string) (shop.Identity, error) {
	id, err := a.next.Verify(ctx, token)
	if err != nil {
		return shop.Identity{}, err
	}
	if id.Role == shop.RoleService {
		return id, nil
	}
	if err := a.account(ctx, id); err != nil {
		return shop.Identity{}, err
	}
	return id, nil
}

// account returns the answer for id: remembered, shared with a check under
// way, or from a new check.
func (a *AccountVerifier) account(ctx context.Context, id shop.Identity) error {
	now := a.now()
	a.mu.RLock()
	ans := a.answers[id]
	if ans != nil && ans.ready && now.Before(ans.until) {
		err := ans.err
		a.mu.RUnlock()
		return err
	}
	a.mu.RUnlock()

	a.mu.Lock()
	ans = a.answers[id]
	switch {
	case ans != nil && ans.ready && now.Before(ans.until):
		err := ans.err
		a.mu.Unlock()
		return err
	case ans != nil && !ans.ready:
		done := ans.done
		a.mu.Unlock()
		select {
		case <-done:
			return ans.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if ans == nil && len(a.answers) >= a.size {
		a.makeRoom(now)
	}
	ans = &accountAnswer{done: make(chan struct{})}
	a.answers[id] = ans
	a.mu.Unlock()

	// Run the check for every request that waits for it: not cancelled with
	// this one, but bounded.
	checkCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), accountCheckTimeout)
	err := a.check(checkCtx, id)
	cancel()
	remember := err == nil || errors.Is(err, shop.ErrUnauthenticated)
	if !remember && !errors.Is(err, shop.ErrUnavailable) {
		err = shop.E(shop.ErrUnavailable, CodeAccountCheckFailed, "the account of this token cannot be checked right now; try again")
	}

	a.mu.Lock()
	ans.err = err
	ans.ready = true
	// From when the check started, so the bound holds from the moment the
	// account was read.
	ans.until = now.Add(a.ttl)
	done := ans.done
	ans.done = nil
	if !remember && a.answers[id] == ans {
		delete(a.answers, id)
	}
	a.mu.Unlock()
	close(done)
	return err
}

// makeRoom frees room in a full table: answers past their time go first,
// at most once per ttl; if none did, a sixteenth of the table, chosen
// arbitrarily, so a burst of new accounts pays for one scan per many of
// them. The caller holds the write lock.
func (a *AccountVerifier) makeRoom(now time.Time) {
	if now.Sub(a.lastSweep) >= a.ttl {
		a.lastSweep = now
		for id, ans := range a.answers {
			if ans.ready && !now.Before(ans.until) {
				delete(a.answers, id)
			}
		}
		if len(a.answers) < a.size {
			return
		}
	}
	n := max(a.size/16, 1)
	for id := range a.answers {
		if n == 0 {
			break
		}
		delete(a.answers, id)
		n--
	}
}

// cached returns how many answers are remembered.
func (a *AccountVerifier) cached() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.answers)
}

var _ shop.Verifier = (*AccountVerifier)(nil)
