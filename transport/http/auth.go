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

// ContextVerifier is a Verifier that can also use the context of the request
// the token came with, for its deadline and values; Authenticate prefers
// VerifyContext when a Verifier has it. Errors are ErrUnauthenticated, or
// ErrUnavailable when the verifier could not tell.
type ContextVerifier interface {
	Verifier
	VerifyContext(ctx context.Context, token string) (shop.Identity, error)
}

// verify checks token with v, through VerifyContext when v has it.
func verify(ctx context.Context, v Verifier, token string) (shop.Identity, error) {
	if cv, ok := v.(ContextVerifier); ok {
		return cv.VerifyContext(ctx, token)
	}
	return v.Verify(token)
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
// token, if the request has one (with VerifyContext when v is a
// ContextVerifier), and puts the caller's identity in the context. A request without a token is left anonymous; a bad token is
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
		id, err := verify(ctx, v, token)
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

// AccountCheckOption changes a default of CheckAccounts.
type AccountCheckOption func(*AccountVerifier)

// WithAccountCheckTTL sets how long an answer is remembered (default
// DefaultAccountCheckTTL): a disabled account's tokens stop working at most
// d after it was disabled, and each account is checked at most once per d
// while it is in use. A non-positive d keeps the default.
func WithAccountCheckTTL(d time.Duration) AccountCheckOption {
	return func(a *AccountVerifier) {
		if d > 0 {
			a.ttl = d
		}
	}
}

// WithAccountCacheSize sets how many accounts are remembered at most
// (default DefaultAccountCacheSize); when more are in use at once, some are
// checked again sooner. A size below 1 keeps the default.
func WithAccountCacheSize(n int) AccountCheckOption {
	return func(a *AccountVerifier) {
		if n >= 1 {
			a.size = n
		}
	}
}

// AccountVerifier is the Verifier CheckAccounts returns: it verifies tokens
// with another Verifier, then checks that their account may still use them,
// remembering each answer for a short time.
type AccountVerifier struct {
	next  Verifier
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

// CheckAccounts returns a Verifier that verifies tokens with v and then asks
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
// its cache.
func CheckAccounts(v Verifier, check AccountCheckFunc, opts ...AccountCheckOption) *AccountVerifier {
	a := &AccountVerifier{next: v, check: check, ttl: DefaultAccountCheckTTL, size: DefaultAccountCacheSize,
		now: time.Now, answers: make(map[shop.Identity]*accountAnswer)}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Verify is VerifyContext without a request context.
func (a *AccountVerifier) Verify(token string) (shop.Identity, error) {
	return a.VerifyContext(context.Background(), token)
}

// VerifyContext verifies token with the wrapped Verifier, then, unless it is
// a service's, checks its account (or uses the answer remembered for it).
func (a *AccountVerifier) VerifyContext(ctx context.Context, token string) (shop.Identity, error) {
	id, err := verify(ctx, a.next, token)
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
		err = shop.E(shop.ErrUnavailable, "account_check_failed", "the account of this token cannot be checked right now; try again")
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
