// Package user is the shop's account service: sign-up, login with bcrypt
// password hashes and signed bearer tokens, a brute-force throttle on login,
// reading accounts under the customer and admin roles, and disabling them.
// It also owns the shop's tokens (Tokens, an HS256 JWT issuer and
// shop.Verifier) and the door check that refuses the tokens of disabled or
// deleted accounts (CheckAccounts, with AccountCheck or ServiceAccountCheck).
//
// Build it from a Store (OpenSQLiteStore, or your own) and a TokenIssuer
// (such as *Tokens) with NewService, or with New for the default logging and
// metrics; serve it over HTTP with NewHTTPHandler(MakeServerEndpoints(svc),
// ...); use a remote instance through MakeClientEndpoints, which implements
// the same Service. The package usertest checks any Service, over any
// transport and on any Store, against the behaviour documented here.
package user

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
)

// Limits on what an account may hold.
const (
	// MaxEmailLen is the longest email address accepted, in bytes (RFC 5321's path limit).
	MaxEmailLen = 254
	// MinPasswordChars is the shortest password accepted, in characters.
	MinPasswordChars = 8
	// MaxPasswordBytes is the longest password accepted, in bytes: bcrypt uses
	// only the first 72 bytes, so a longer password would be silently cut.
	MaxPasswordBytes = 72
	// MaxNameChars is the longest name accepted, in characters.
	MaxNameChars = 100
)

// Defaults of the options.
const (
	// DefaultTokenTTL is how long login tokens stay valid (WithTokenTTL).
	DefaultTokenTTL = 24 * time.Hour
	// DefaultMaxLoginFailures is how many failed logins lock an email
	// (WithLoginThrottle).
	DefaultMaxLoginFailures = 5
	// DefaultLoginWindow is how long failures count and a lock lasts
	// (WithLoginThrottle).
	DefaultLoginWindow = 15 * time.Minute
)

// The error codes of the user package, as shop.CodeOf returns them. Each
// comes with one kind, named in its comment; the Service methods say which
// they return. Errors of the shop itself ("missing_token", "forbidden",
// "invalid_limit", "invalid_cursor") keep their shop codes.
const (
	// CodeInvalidEmail (ErrInvalid): the email is not a plain address of at
	// most MaxEmailLen bytes.
	CodeInvalidEmail = "invalid_email"
	// CodeInvalidPassword (ErrInvalid): the password is shorter than
	// MinPasswordChars characters or longer than MaxPasswordBytes bytes.
	CodeInvalidPassword = "invalid_password"
	// CodeInvalidName (ErrInvalid): the name is empty, too long, or holds
	// control or invisible characters.
	CodeInvalidName = "invalid_name"
	// CodeEmailTaken (ErrConflict): an account with the email exists.
	CodeEmailTaken = "email_taken"
	// CodeInvalidCredentials (ErrUnauthenticated): a login failed, for
	// whichever reason.
	CodeInvalidCredentials = "invalid_credentials"
	// CodeTooManyAttempts (ErrTooManyRequests): too many failed logins for
	// the email; shop.Error.RetryAfter says how long to wait.
	CodeTooManyAttempts = "too_many_attempts"
	// CodeUserNotFound (ErrNotFound): no such account, or one the caller may
	// not see.
	CodeUserNotFound = "user_not_found"
	// CodeInvalidToken (ErrUnauthenticated): the token is malformed, badly
	// signed, of an account that no longer exists, or claims a role its
	// account does not have.
	CodeInvalidToken = "invalid_token"
	// CodeTokenExpired (ErrUnauthenticated): the token has expired.
	CodeTokenExpired = "token_expired"
	// CodeAccountDisabled (ErrUnauthenticated): the token's account is
	// disabled.
	CodeAccountDisabled = "account_disabled"
	// CodeCannotDisableSelf (ErrConflict): an admin tried to disable their
	// own account.
	CodeCannotDisableSelf = "cannot_disable_self"
	// CodeLastAdmin (ErrConflict): disabling the account would leave the
	// shop without an enabled admin.
	CodeLastAdmin = "last_admin"
	// CodeAccountCheckRefused (ErrUnavailable): the user service refused
	// ServiceAccountCheck's own credential.
	CodeAccountCheckRefused = "account_check_refused"
	// CodeAccountCheckFailed (ErrUnavailable): CheckAccounts could not check
	// a token's account (a database or service is down).
	CodeAccountCheckFailed = "account_check_failed"
)

// Service manages accounts. A local value (NewService) and a remote HTTP
// client (MakeClientEndpoints) both implement it; the same errors come out of
// either. The caller's identity comes from the context (shop.WithIdentity).
type Service interface {
	// Register creates a customer account; anyone may call it. Invalid input
	// is ErrInvalid with CodeInvalidEmail, CodeInvalidPassword or
	// CodeInvalidName; an email already in use is ErrConflict CodeEmailTaken.
	// Registration never grants admin.
	Register(ctx context.Context, r Registration) (User, error)
	// Login checks an email and password and returns a session with a bearer
	// token; anyone may call it. Any mismatch, and any login to a disabled
	// account, is ErrUnauthenticated CodeInvalidCredentials; too many failures
	// for one email are ErrTooManyRequests CodeTooManyAttempts with
	// RetryAfter set (see WithLoginThrottle).
	Login(ctx context.Context, email, password string) (Session, error)
	// GetUser returns an account: admins and services may read any, customers
	// only their own; someone else's ID is ErrNotFound CodeUserNotFound,
	// exactly as an unknown ID is, so IDs cannot be probed. Without a caller
	// it is ErrUnauthenticated "missing_token".
	GetUser(ctx context.Context, id string) (User, error)
	// Me returns the caller's own account (any authenticated caller). A
	// caller whose account is gone is ErrUnauthenticated CodeInvalidToken,
	// one whose account is disabled ErrUnauthenticated CodeAccountDisabled.
	Me(ctx context.Context) (User, error)
	// ListUsers returns one page of all accounts in creation order (admin
	// only: others get ErrForbidden "forbidden"). A bad page request is
	// ErrInvalid "invalid_limit" or "invalid_cursor".
	ListUsers(ctx context.Context, p shop.PageRequest) (shop.Page[User], error)
	// DisableUser disables an account (admin only) and returns it: it can no
	// longer log in, and where tokens are checked with AccountCheck (see
	// CheckAccounts) its tokens stop working too. Disabling a disabled
	// account changes nothing. An unknown ID is ErrNotFound CodeUserNotFound;
	// the caller's own account is ErrConflict CodeCannotDisableSelf, and the
	// last enabled admin ErrConflict CodeLastAdmin, so the shop never loses
	// its last admin by accident.
	DisableUser(ctx context.Context, id string) (User, error)
	// EnableUser enables a disabled account again (admin only) and returns
	// it; enabling an enabled account changes nothing. An unknown ID is
	// ErrNotFound CodeUserNotFound.
	EnableUser(ctx context.Context, id string) (User, error)
}

// User is an account as every caller sees it. The password hash stays in the
// store and is never part of it.
type User struct {
	// ID is the account's shop.NewID, which sorts by creation time.
	ID string `json:"id"`
	// Email is the login email, trimmed and lower-cased.
	Email string `json:"email"`
	// Name is what the account is called, trimmed.
	Name string `json:"name"`
	// Role is shop.RoleCustomer or shop.RoleAdmin.
	Role shop.Role `json:"role"`
	// CreatedAt is when the account was registered, in UTC.
	CreatedAt time.Time `json:"created_at"`
	// Disabled is set when an admin disabled the account (DisableUser): it
	// cannot log in, and its tokens are refused where they are checked with
	// AccountCheck.
	Disabled bool `json:"disabled"`
}

// Registration is what Register needs. Email is trimmed and lower-cased;
// Password must have at least MinPasswordChars characters and at most
// MaxPasswordBytes bytes; Name is trimmed and required, and must not hold
// control characters, line breaks or invisible formatting characters such as
// U+202E RIGHT-TO-LEFT OVERRIDE (ErrInvalid "invalid_name").
type Registration struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// String shows the registration without its password, so printing or logging
// one by mistake leaks nothing.
func (r Registration) String() string {
	return fmt.Sprintf("{Email:%s Password:[redacted] Name:%s}", r.Email, r.Name)
}

// GoString is String for the %#v verb.
func (r Registration) GoString() string { return "user.Registration" + r.String() }

// Session is the result of a successful login: send Token as
// "Authorization: Bearer <token>" until ExpiresAt.
type Session struct {
	// Token is the bearer token.
	Token string `json:"token"`
	// TokenType is always "Bearer".
	TokenType string `json:"token_type"`
	// ExpiresAt is when the token stops working, in UTC.
	ExpiresAt time.Time `json:"expires_at"`
	// User is the account that logged in.
	User User `json:"user"`
}

// TokenIssuer signs the bearer tokens handed out at login. *Tokens
// implements it.
type TokenIssuer interface {
	Issue(id shop.Identity, ttl time.Duration) (token string, expires time.Time, err error)
}

// Option changes a default of NewService. An option given a value it
// cannot use makes NewService panic with a message naming the option, as
// time.NewTicker(0) does: such a value is a bug in the wiring, so validate
// settings from users before they become options.
type Option func(*options)

type options struct {
	ttl         time.Duration
	cost        int
	maxFailures int
	window      time.Duration
	now         func() time.Time
	logger      log.Logger
	maxTracked  int
}

// WithTokenTTL sets how long login tokens stay valid (default
// DefaultTokenTTL). A d that is not positive makes NewService panic.
func WithTokenTTL(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			panic(fmt.Sprintf("user.NewService: WithTokenTTL(%v): the token lifetime must be positive", d))
		}
		o.ttl = d
	}
}

// WithBcryptCost sets the bcrypt work factor of new password hashes (default
// bcrypt.DefaultCost). Each step doubles the time a hash takes; tests use
// bcrypt.MinCost. A cost outside [bcrypt.MinCost, bcrypt.MaxCost] makes
// NewService panic.
func WithBcryptCost(cost int) Option {
	return func(o *options) {
		if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
			panic(fmt.Sprintf("user.NewService: WithBcryptCost(%d): the cost must be between %d and %d",
				cost, bcrypt.MinCost, bcrypt.MaxCost))
		}
		o.cost = cost
	}
}

// WithLoginThrottle sets the brute-force limit of Login: once an email has had
// maxFailures failed logins within window, every further attempt for it is
// refused with ErrTooManyRequests CodeTooManyAttempts (RetryAfter set),
// without checking the password, until window has passed since the failure
// that reached the limit. Only failures count (a wrong password, an unknown
// email, a disabled account); a successful login clears the count. So that
// concurrent guesses cannot slip past the limit, an email has at most as many
// logins in flight as it has failures left, and further ones wait for those
// to finish. Defaults: DefaultMaxLoginFailures failures in
// DefaultLoginWindow. A maxFailures below 1 or a window that is not positive
// makes NewService panic.
//
// The state is kept in memory per service value, so it is per process:
// behind a load balancer each instance counts on its own. It tracks at most
// 10,000 emails, about 400 bytes each at worst (a 254-byte email), so at
// most about 4 MB. A locked email is never forgotten before its lock ends:
// when the table is full, emails whose window is over go first, then
// unlocked emails with the fewest failures; if every tracked email is locked
// (50,000 failed logins within one window), logins for emails not yet
// tracked are refused with ErrTooManyRequests until the first lock ends.
// Anyone can lock an email this way for a window; that is the price of a
// per-email limit.
func WithLoginThrottle(maxFailures int, window time.Duration) Option {
	return func(o *options) {
		if maxFailures < 1 {
			panic(fmt.Sprintf("user.NewService: WithLoginThrottle(%d, %v): at least 1 failure must be allowed", maxFailures, window))
		}
		if window <= 0 {
			panic(fmt.Sprintf("user.NewService: WithLoginThrottle(%d, %v): the window must be positive", maxFailures, window))
		}
		o.maxFailures, o.window = maxFailures, window
	}
}

// WithClock sets the clock used for account creation times and the login
// throttle (default time.Now), so tests can move time forward. A nil now
// makes NewService panic.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now == nil {
			panic("user.NewService: WithClock(nil): the clock must not be nil")
		}
		o.now = now
	}
}

// WithLogger sets where the service writes what it notices itself (default:
// nowhere): a warning each time the login throttle locks an email, with the
// email (when it is a well-formed address) and the request ID. Calls
// themselves are logged by LoggingMiddleware. A nil logger makes NewService
// panic.
func WithLogger(logger log.Logger) Option {
	return func(o *options) {
		if logger == nil {
			panic("user.NewService: WithLogger(nil): the logger must not be nil; use log.NewNopLogger() for none")
		}
		o.logger = logger
	}
}

// maxTrackedEmails bounds the login throttle's memory: at most this many
// emails are tracked at once (see WithLoginThrottle).
const maxTrackedEmails = 10000

type service struct {
	store    Store
	issuer   TokenIssuer
	ttl      time.Duration
	cost     int
	now      func() time.Time
	logger   log.Logger
	throttle *throttle

	// dummy is a bcrypt hash that Login compares against when an email is
	// unknown; it is ready once dummyReady is closed.
	dummy      []byte
	dummyReady chan struct{}
}

// NewService returns the account service on store, signing login tokens with
// issuer. It panics when an option is given a value it cannot use (see each
// option). It starts computing one bcrypt hash of a random password at the
// configured cost, in the background so that start-up does not wait for it:
// Login compares against that hash when an email is unknown, so a failed
// login takes as long whether or not the email exists.
func NewService(store Store, issuer TokenIssuer, opts ...Option) Service {
	o := options{
		ttl:         DefaultTokenTTL,
		cost:        bcrypt.DefaultCost,
		maxFailures: DefaultMaxLoginFailures,
		window:      DefaultLoginWindow,
		now:         time.Now,
		logger:      log.NewNopLogger(),
		maxTracked:  maxTrackedEmails,
	}
	for _, opt := range opts {
		opt(&o)
	}
	s := &service{
		store:      store,
		issuer:     issuer,
		ttl:        o.ttl,
		cost:       o.cost,
		now:        o.now,
		logger:     o.logger,
		throttle:   newThrottle(o.maxFailures, o.window, o.maxTracked, o.now),
		dummyReady: make(chan struct{}),
	}
	go func() {
		defer close(s.dummyReady)
		var random [18]byte
		rand.Read(random[:])
		dummy, err := bcrypt.GenerateFromPassword(fmt.Appendf(nil, "%x", random), o.cost)
		if err != nil { // cannot happen: the cost is in range and the password short
			panic(fmt.Sprintf("user: bcrypt: %v", err))
		}
		s.dummy = dummy
	}()
	return s
}

func (s *service) Register(ctx context.Context, r Registration) (User, error) {
	r.Email = normalizeEmail(r.Email)
	r.Name = strings.TrimSpace(r.Name)
	if err := validateRegistration(r); err != nil {
		return User{}, err
	}
	return createAccount(ctx, s.store, r, shop.RoleCustomer, s.cost, s.now())
}

// createAccount hashes the password and stores a new account with role.
func createAccount(ctx context.Context, st Store, r Registration, role shop.Role, cost int, now time.Time) (User, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), cost)
	if err != nil {
		return User{}, fmt.Errorf("hash password: %w", err)
	}
	u := User{ID: shop.NewID(), Email: r.Email, Name: r.Name, Role: role, CreatedAt: now.UTC()}
	if err := st.Create(ctx, u, hash); err != nil {
		return User{}, err
	}
	return u, nil
}

// errInvalidCredentials is the one answer to every failed login, so it never
// tells which of email and password was wrong.
func errInvalidCredentials() error {
	return shop.E(shop.ErrUnauthenticated, CodeInvalidCredentials, "the email or password is wrong")
}

func (s *service) Login(ctx context.Context, email, password string) (Session, error) {
	email = normalizeEmail(email)
	// An email that cannot belong to an account is neither looked up nor
	// tracked (its key could be huge), but still costs one bcrypt comparison.
	plausible := email != "" && len(email) <= MaxEmailLen
	result := outcomeNeutral
	if plausible {
		wait, err := s.throttle.begin(ctx, email)
		if err != nil {
			return Session{}, err
		}
		if wait > 0 {
			e := shop.E(shop.ErrTooManyRequests, CodeTooManyAttempts,
				"too many failed logins for this email; try again in %s", wait.Round(time.Second))
			e.RetryAfter = wait
			return Session{}, e
		}
		defer func() {
			if s.throttle.finish(email, result) {
				level.Warn(s.logger).Log("msg", "too many failed logins: email locked",
					"email", loggableEmail(email), "for", s.throttle.window, "request_id", shop.RequestIDFrom(ctx))
			}
		}()
	}
	select {
	case <-s.dummyReady:
	case <-ctx.Done():
		return Session{}, ctx.Err()
	}
	hash, found := s.dummy, false
	var u User
	if plausible {
		acc, h, err := s.store.ByEmail(ctx, email)
		switch {
		case err == nil:
			u, hash, found = acc, h, true
		case !errors.Is(err, shop.ErrNotFound):
			return Session{}, err
		}
	}
	mismatch := bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil
	// bcrypt reads only 72 bytes, so a longer password could match the hash
	// of its prefix; registration never accepts one, so it never matches.
	//
	// A disabled account gets exactly the answer of a wrong password, after
	// the same bcrypt comparison, and counts as a failure even when the
	// password is right. A distinct "account_disabled" answer would tell
	// anyone that the email has an account (which unknown emails are careful
	// not to reveal), and giving it only for the right password would confirm
	// a guessed password of an account that was likely disabled for being
	// abused or taken over. The admin who disabled it can tell its owner.
	if !found || mismatch || len(password) > MaxPasswordBytes || u.Disabled {
		result = outcomeFailed
		return Session{}, errInvalidCredentials()
	}
	result = outcomeSucceeded
	token, exp, err := s.issuer.Issue(shop.Identity{UserID: u.ID, Role: u.Role}, s.ttl)
	if err != nil {
		return Session{}, fmt.Errorf("issue token: %w", err)
	}
	return Session{Token: token, TokenType: "Bearer", ExpiresAt: exp.UTC(), User: u}, nil
}

func (s *service) GetUser(ctx context.Context, id string) (User, error) {
	caller, err := shop.Authenticated(ctx)
	if err != nil {
		return User{}, err
	}
	if id == "" || (caller.Role != shop.RoleAdmin && caller.Role != shop.RoleService && caller.UserID != id) {
		return User{}, errUserNotFound()
	}
	return s.store.ByID(ctx, id)
}

func (s *service) Me(ctx context.Context) (User, error) {
	caller, err := shop.Authenticated(ctx)
	if err != nil {
		return User{}, err
	}
	u, err := s.store.ByID(ctx, caller.UserID)
	if err == nil {
		err = usable(u, caller)
	}
	if errors.Is(err, shop.ErrNotFound) {
		err = errAccountGone()
	}
	if err != nil {
		return User{}, err
	}
	return u, nil
}

func (s *service) ListUsers(ctx context.Context, p shop.PageRequest) (shop.Page[User], error) {
	if _, err := shop.RequireRole(ctx, shop.RoleAdmin); err != nil {
		return shop.Page[User]{}, err
	}
	after, err := p.Normalize()
	if err != nil {
		return shop.Page[User]{}, err
	}
	users, err := s.store.List(ctx, after, p.Limit+1)
	if err != nil {
		return shop.Page[User]{}, err
	}
	if users == nil { // a page always has a list, if empty: {"items":[]}
		users = []User{}
	}
	page := shop.Page[User]{Items: users}
	if len(users) > p.Limit {
		page.Items = users[:p.Limit]
		page.NextCursor = shop.EncodeCursor(page.Items[p.Limit-1].ID)
	}
	return page, nil
}

// EnsureAdmin makes sure an admin account with email exists in store (any
// Store, such as a *SQLiteStore); binaries call it at start with
// SHOP_ADMIN_EMAIL and SHOP_ADMIN_PASSWORD. Email and password are validated
// as in Register.
//
//   - No account has the email: it is created with role admin, the name
//     "Administrator" and a bcrypt hash of password at cost (one hash, tens of
//     milliseconds).
//   - An admin account has it: nothing changes and no hash is computed, so a
//     restart stays fast. Its password is NOT reset to password: changing the
//     configured password later does not change the account's. A disabled
//     admin stays disabled (see User.Disabled): a restart does not undo what
//     another admin decided.
//   - A customer account has it: it is promoted to admin only if password is
//     its password (one bcrypt comparison); otherwise EnsureAdmin fails, so
//     whoever registered the admin email first cannot become admin with their
//     own password.
//
// A cost outside [bcrypt.MinCost, bcrypt.MaxCost] means bcrypt.DefaultCost.
func EnsureAdmin(ctx context.Context, store Store, email, password string, cost int) (User, error) {
	r := Registration{Email: normalizeEmail(email), Password: password, Name: "Administrator"}
	if err := validateRegistration(r); err != nil {
		return User{}, fmt.Errorf("admin account: %w", err)
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		cost = bcrypt.DefaultCost
	}
	for range 2 { // a second round if another process creates the account meanwhile
		u, hash, err := store.ByEmail(ctx, r.Email)
		switch {
		case errors.Is(err, shop.ErrNotFound):
			u, err = createAccount(ctx, store, r, shop.RoleAdmin, cost, time.Now())
			if errors.Is(err, shop.ErrConflict) {
				continue
			}
			return u, err
		case err != nil:
			return User{}, err
		case u.Role == shop.RoleAdmin:
			return u, nil
		}
		if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
			return User{}, fmt.Errorf("admin account: %s is already registered as a %s with a different password; refusing to make it an admin", u.Email, u.Role)
		}
		if err := store.SetRole(ctx, u.ID, shop.RoleAdmin); err != nil {
			return User{}, err
		}
		u.Role = shop.RoleAdmin
		return u, nil
	}
	return User{}, errors.New("admin account: created and removed concurrently; try again")
}

func (s *service) DisableUser(ctx context.Context, id string) (User, error) {
	caller, err := shop.RequireRole(ctx, shop.RoleAdmin)
	if err != nil {
		return User{}, err
	}
	if id == caller.UserID {
		return User{}, shop.E(shop.ErrConflict, CodeCannotDisableSelf, "you cannot disable your own account; ask another admin")
	}
	return s.store.SetDisabled(ctx, id, true)
}

func (s *service) EnableUser(ctx context.Context, id string) (User, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleAdmin); err != nil {
		return User{}, err
	}
	return s.store.SetDisabled(ctx, id, false)
}

func errUserNotFound() error {
	return shop.E(shop.ErrNotFound, CodeUserNotFound, "no such user")
}

// normalizeEmail is the form emails are stored and looked up in.
func normalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// validateRegistration checks a registration whose email and name are
// already normalized. Messages never contain the password.
func validateRegistration(r Registration) error {
	if err := validateEmail(r.Email); err != nil {
		return err
	}
	if err := validatePassword(r.Password); err != nil {
		return err
	}
	return validateName(r.Name)
}

func validateEmail(email string) error {
	const code = CodeInvalidEmail
	switch {
	case email == "":
		return shop.E(shop.ErrInvalid, code, "email is required")
	case len(email) > MaxEmailLen:
		return shop.E(shop.ErrInvalid, code, "email must be at most %d characters", MaxEmailLen)
	}
	a, err := mail.ParseAddress(email)
	at := strings.LastIndexByte(email, '@')
	if err != nil || a.Address != email || at <= 0 || at == len(email)-1 {
		return shop.E(shop.ErrInvalid, code, "email must be a plain address such as ada@example.com")
	}
	return nil
}

func validatePassword(p string) error {
	const code = CodeInvalidPassword
	switch {
	case utf8.RuneCountInString(p) < MinPasswordChars:
		return shop.E(shop.ErrInvalid, code, "password must be at least %d characters", MinPasswordChars)
	case len(p) > MaxPasswordBytes:
		return shop.E(shop.ErrInvalid, code,
			"password must be at most %d bytes (bcrypt ignores anything longer; non-ASCII characters take 2 to 4 bytes each)", MaxPasswordBytes)
	}
	return nil
}

func validateName(name string) error {
	const code = CodeInvalidName
	switch {
	case name == "":
		return shop.E(shop.ErrInvalid, code, "name is required")
	case !utf8.ValidString(name):
		return shop.E(shop.ErrInvalid, code, "name must be valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameChars:
		return shop.E(shop.ErrInvalid, code, "name must be at most %d characters", MaxNameChars)
	case strings.IndexFunc(name, lineBreakOrControl) >= 0:
		return shop.E(shop.ErrInvalid, code, "name must not contain control characters such as line breaks")
	}
	if i := strings.IndexFunc(name, invisible); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return shop.E(shop.ErrInvalid, code,
			"name must not contain invisible formatting or text-direction characters such as U+%04X", r)
	}
	if strings.IndexFunc(name, visible) < 0 {
		return shop.E(shop.ErrInvalid, code, "name must contain a letter, digit, punctuation mark or symbol")
	}
	return nil
}

// lineBreakOrControl reports control characters (C0, DEL, C1) and the
// Unicode line and paragraph separators U+2028 and U+2029, which break lines
// as \n does.
func lineBreakOrControl(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp)
}

// invisible reports characters that change how text around them is shown
// without showing themselves, so a name holding them can display as
// something else, in the shop or in an admin's terminal: the format
// characters (Unicode category Cf, which holds every bidirectional control
// such as U+202E RIGHT-TO-LEFT OVERRIDE, the zero-width space U+200B, the
// byte order mark, soft hyphens and the invisible tag characters) and the
// other default-ignorable code points (fillers such as U+3164 that render as
// nothing). The zero-width non-joiner and joiner, U+200C and U+200D, are
// allowed: Persian and Indic names need them to be spelt right, and emoji
// sequences use them; they cannot reorder text.
func invisible(r rune) bool {
	if r == '\u200c' || r == '\u200d' {
		return false
	}
	return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point)
}

// visible reports characters that show as themselves.
func visible(r rune) bool {
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S)
}
