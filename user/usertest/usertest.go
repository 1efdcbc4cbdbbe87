// Package usertest is the conformance suite of the user domain: Run checks
// that a user.Service behaves as the user package documents it (sign-up and
// its validation, login and its throttle, disabled accounts, roles, reading
// and paging accounts), whatever is behind it: the local service on your own
// Store, or a client over your own transport. It depends on nothing but the
// user and shop packages, so it runs anywhere.
//
// A Harness says how to build a fresh service and how to act as someone over
// it. For the local service on a SQLite file, for example:
//
//	func TestUsers(t *testing.T) {
//		tokens, err := user.NewTokens([]byte("a signing key of at least 32 bytes"))
//		if err != nil {
//			t.Fatal(err)
//		}
//		usertest.Run(t, usertest.Harness{
//			New: func(t *testing.T) user.Service {
//				ctx := context.Background()
//				store, err := user.OpenSQLiteStore(ctx, filepath.Join(t.TempDir(), "user.db"))
//				if err != nil {
//					t.Fatal(err)
//				}
//				t.Cleanup(func() { store.Close() })
//				if _, err := user.EnsureAdmin(ctx, store, usertest.AdminEmail, usertest.AdminPassword, bcrypt.MinCost); err != nil {
//					t.Fatal(err)
//				}
//				return user.NewService(store, tokens, user.WithBcryptCost(bcrypt.MinCost))
//			},
//			As: shop.WithIdentity,
//			Bearer: func(ctx context.Context, token string) context.Context {
//				id, err := tokens.Verify(ctx, token)
//				if err != nil {
//					return shop.WithAuthError(ctx, err)
//				}
//				return shop.WithIdentity(ctx, id)
//			},
//		})
//	}
//
// Over HTTP, New serves such a service with
// httptest.NewServer(user.NewHTTPHandler(user.MakeServerEndpoints(svc), tokens, logger))
// and returns user.MakeClientEndpoints(server.URL, nil); As issues a token
// for the identity with tokens.Issue and returns
// shophttp.WithToken(ctx, token), which the client sends because its token
// function is nil; Bearer is shophttp.WithToken. The user package's
// conformance_test.go runs both, and this package's tests run the suite on
// an in-memory Store written with the exported API only.
package usertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/user"
)

// The admin account every service that Harness.New returns holds, and
// nothing else: make it with user.EnsureAdmin(ctx, store, AdminEmail,
// AdminPassword, cost).
const (
	AdminEmail    = "admin@example.com"
	AdminPassword = "admin-password"
)

// Harness is what Run needs to know about the service under test.
type Harness struct {
	// New returns a fresh service for one subtest: Run calls it once per
	// subtest, with that subtest's t (register clean-ups on it), and the
	// subtests run one after another. Its store holds exactly one account,
	// an enabled admin with the email AdminEmail and the password
	// AdminPassword. Give it a cheap bcrypt cost (user.WithBcryptCost with
	// bcrypt.MinCost) to keep the suite fast, and a login throttle window of
	// a minute or more (the default is fine) with MaxLoginFailures failures.
	New func(t *testing.T) user.Service
	// As returns a context in which calls to the service act as id, whether
	// or not an account with id.UserID exists: locally shop.WithIdentity;
	// over a transport, a bearer token for id (user.Tokens.Issue) put where
	// the client sends it, such as shophttp.WithToken for a client made with
	// a nil token function. The server side must verify tokens without
	// checking their accounts (user.Tokens, not user.CheckAccounts).
	As func(ctx context.Context, id shop.Identity) context.Context
	// Bearer, if set, returns a context in which calls act with a bearer
	// token that Login returned: over a transport, where the client sends
	// it (shophttp.WithToken); locally, the identity the token verifies as.
	// Without it the subtests that use login tokens are skipped.
	Bearer func(ctx context.Context, token string) context.Context
	// MaxLoginFailures is the login throttle's limit of the services New
	// returns (user.WithLoginThrottle); 0 means user.DefaultMaxLoginFailures.
	MaxLoginFailures int
}

// Run runs the suite against the services h builds, each behaviour as a
// subtest of t.
func Run(t *testing.T, h Harness) {
	if h.New == nil || h.As == nil {
		t.Fatal("usertest: Harness.New and Harness.As are required")
	}
	if h.MaxLoginFailures == 0 {
		h.MaxLoginFailures = user.DefaultMaxLoginFailures
	}
	s := suite{h: h}
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *fixture)
	}{
		{"Register", s.register},
		{"RegisterValidation", s.registerValidation},
		{"RegisterEmailTaken", s.registerEmailTaken},
		{"Login", s.login},
		{"LoginToken", s.loginToken},
		{"LoginThrottle", s.loginThrottle},
		{"LoginThrottleUnknownEmail", s.loginThrottleUnknownEmail},
		{"LoginSuccessClearsFailures", s.loginSuccessClears},
		{"Roles", s.roles},
		{"GetUser", s.getUser},
		{"Me", s.me},
		{"ListUsers", s.listUsers},
		{"DisableAndEnable", s.disableAndEnable},
		{"DisabledCannotLogIn", s.disabledCannotLogIn},
		{"LastAdmin", s.lastAdmin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, s.fixture(t))
		})
	}
}

type suite struct {
	h Harness
}

// fixture is one subtest's service with its admin.
type fixture struct {
	h     Harness
	svc   user.Service
	admin user.User
}

// password is the password of every account the suite registers.
const password = "correct horse"

func (s suite) fixture(t *testing.T) *fixture {
	t.Helper()
	svc := s.h.New(t)
	if svc == nil {
		t.Fatal("usertest: Harness.New returned nil")
	}
	sess, err := svc.Login(context.Background(), AdminEmail, AdminPassword)
	if err != nil {
		t.Fatalf("the service New returned has no admin %s with password %q (see Harness.New): %v", AdminEmail, AdminPassword, err)
	}
	return &fixture{h: s.h, svc: svc, admin: sess.User}
}

// as returns a context acting as id.
func (f *fixture) as(id string, role shop.Role) context.Context {
	return f.h.As(context.Background(), shop.Identity{UserID: id, Role: role})
}

// asAdmin returns a context acting as the fixture's admin.
func (f *fixture) asAdmin() context.Context { return f.as(f.admin.ID, shop.RoleAdmin) }

// register registers a customer with the suite's password.
func (f *fixture) register(t *testing.T, email, name string) user.User {
	t.Helper()
	u, err := f.svc.Register(context.Background(), user.Registration{Email: email, Password: password, Name: name})
	if err != nil {
		t.Fatalf("Register(%s): %v", email, err)
	}
	return u
}

// wantErr fails t unless err is of kind with code.
func wantErr(t *testing.T, what string, err error, kind *shop.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v %q", what, kind, code)
	}
	if !errors.Is(err, kind) || shop.CodeOf(err) != code {
		t.Fatalf("%s: error %v (kind %v, code %q), want kind %v, code %q", what, err, shop.KindOf(err), shop.CodeOf(err), kind, code)
	}
}

// sameUser fails t unless got and want are the same account.
func sameUser(t *testing.T, what string, got, want user.User) {
	t.Helper()
	if got.ID != want.ID || got.Email != want.Email || got.Name != want.Name || got.Role != want.Role ||
		got.Disabled != want.Disabled || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

func (suite) register(t *testing.T, f *fixture) {
	before := time.Now().Add(-time.Minute)
	u, err := f.svc.Register(context.Background(), user.Registration{Email: "  Ada@Example.COM ", Password: password, Name: "  Ada Lovelace "})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.Email != "ada@example.com" || u.Name != "Ada Lovelace" || u.Role != shop.RoleCustomer || u.Disabled {
		t.Fatalf("Register returned %+v; want a new enabled customer ada@example.com named \"Ada Lovelace\"", u)
	}
	if u.CreatedAt.Before(before) {
		t.Fatalf("created_at %v is not the time of registration", u.CreatedAt)
	}
	got, err := f.svc.GetUser(f.as(u.ID, shop.RoleCustomer), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameUser(t, "the stored account", got, u)
	other := f.register(t, "bob@example.com", "Bob")
	if other.ID == u.ID {
		t.Fatalf("two accounts share the ID %s", u.ID)
	}
}

func (suite) registerValidation(t *testing.T, f *fixture) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		reg  user.Registration
		code string
	}{
		{"empty email", user.Registration{Email: "  ", Password: "password1", Name: "Ada"}, user.CodeInvalidEmail},
		{"no at", user.Registration{Email: "ada.example.com", Password: "password1", Name: "Ada"}, user.CodeInvalidEmail},
		{"display name", user.Registration{Email: "Ada <ada@example.com>", Password: "password1", Name: "Ada"}, user.CodeInvalidEmail},
		{"too long email", user.Registration{Email: strings.Repeat("a", user.MaxEmailLen-11) + "@example.com", Password: "password1", Name: "Ada"}, user.CodeInvalidEmail},
		{"short password", user.Registration{Email: "ada@example.com", Password: strings.Repeat("p", user.MinPasswordChars-1), Name: "Ada"}, user.CodeInvalidPassword},
		{"long password", user.Registration{Email: "ada@example.com", Password: strings.Repeat("p", user.MaxPasswordBytes+1), Name: "Ada"}, user.CodeInvalidPassword},
		{"empty name", user.Registration{Email: "ada@example.com", Password: "password1", Name: " \t "}, user.CodeInvalidName},
		{"long name", user.Registration{Email: "ada@example.com", Password: "password1", Name: strings.Repeat("n", user.MaxNameChars+1)}, user.CodeInvalidName},
		{"name with newline", user.Registration{Email: "ada@example.com", Password: "password1", Name: "Ada\nadmin=true"}, user.CodeInvalidName},
		{"name with right-to-left override", user.Registration{Email: "ada@example.com", Password: "password1", Name: "Ada \u202egnp.exe"}, user.CodeInvalidName},
	} {
		_, err := f.svc.Register(ctx, tt.reg)
		wantErr(t, tt.name, err, shop.ErrInvalid, tt.code)
		if strings.Contains(err.Error(), tt.reg.Password) {
			t.Errorf("%s: the message %q contains the password", tt.name, err)
		}
	}
	// Nothing was stored: the email is free, and only the admin is listed.
	f.register(t, "ada@example.com", "Ada")
	page, err := f.svc.ListUsers(f.asAdmin(), shop.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 {
		t.Fatalf("%d accounts after the refused registrations and one valid one, want 2 (with the admin)", len(page.Items))
	}
}

func (suite) registerEmailTaken(t *testing.T, f *fixture) {
	f.register(t, "ada@example.com", "Ada")
	ctx := context.Background()
	_, err := f.svc.Register(ctx, user.Registration{Email: "ADA@example.com ", Password: "another password", Name: "Other"})
	wantErr(t, "the same email in another case", err, shop.ErrConflict, user.CodeEmailTaken)
	_, err = f.svc.Register(ctx, user.Registration{Email: AdminEmail, Password: "another password", Name: "Eve"})
	wantErr(t, "the admin's email", err, shop.ErrConflict, user.CodeEmailTaken)
}

func (suite) login(t *testing.T, f *fixture) {
	ctx := context.Background()
	ada := f.register(t, "ada@example.com", "Ada")
	sess, err := f.svc.Login(ctx, " ADA@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Token == "" || sess.TokenType != "Bearer" || !sess.ExpiresAt.After(time.Now()) {
		t.Fatalf("session %+v: want a Bearer token that has not expired", sess)
	}
	sameUser(t, "the session's user", sess.User, ada)

	_, wrongPassword := f.svc.Login(ctx, "ada@example.com", "wrong horse")
	_, unknownEmail := f.svc.Login(ctx, "nobody@example.com", password)
	_, empty := f.svc.Login(ctx, "", "")
	for what, err := range map[string]error{"wrong password": wrongPassword, "unknown email": unknownEmail, "empty": empty} {
		wantErr(t, what, err, shop.ErrUnauthenticated, user.CodeInvalidCredentials)
		if err.Error() != wrongPassword.Error() {
			t.Errorf("%s answers %q, a wrong password %q: the answer tells which was wrong", what, err, wrongPassword)
		}
	}
}

func (suite) loginToken(t *testing.T, f *fixture) {
	if f.h.Bearer == nil {
		t.Skip("Harness.Bearer is not set")
	}
	ctx := context.Background()
	ada := f.register(t, "ada@example.com", "Ada")
	sess, err := f.svc.Login(ctx, "ada@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	me, err := f.svc.Me(f.h.Bearer(ctx, sess.Token))
	if err != nil {
		t.Fatalf("Me with the login token: %v", err)
	}
	sameUser(t, "Me with the login token", me, ada)
	_, err = f.svc.ListUsers(f.h.Bearer(ctx, sess.Token), shop.PageRequest{})
	wantErr(t, "ListUsers with a customer's token", err, shop.ErrForbidden, "forbidden")

	admin, err := f.svc.Login(ctx, AdminEmail, AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ListUsers(f.h.Bearer(ctx, admin.Token), shop.PageRequest{}); err != nil {
		t.Fatalf("ListUsers with the admin's login token: %v", err)
	}
	_, err = f.svc.Me(f.h.Bearer(ctx, sess.Token+"x"))
	wantErr(t, "Me with a tampered token", err, shop.ErrUnauthenticated, user.CodeInvalidToken)
}

// lockedOut fails t unless err is the throttle's refusal with a wait.
func lockedOut(t *testing.T, what string, err error) {
	t.Helper()
	wantErr(t, what, err, shop.ErrTooManyRequests, user.CodeTooManyAttempts)
	var se *shop.Error
	if !errors.As(err, &se) || se.RetryAfter <= 0 {
		t.Fatalf("%s: %v says no time to wait (RetryAfter)", what, err)
	}
}

func (suite) loginThrottle(t *testing.T, f *fixture) {
	ctx := context.Background()
	f.register(t, "ada@example.com", "Ada")
	f.register(t, "bob@example.com", "Bob")
	for i := range f.h.MaxLoginFailures {
		_, err := f.svc.Login(ctx, "ada@example.com", "wrong horse")
		wantErr(t, fmt.Sprintf("failed login %d", i+1), err, shop.ErrUnauthenticated, user.CodeInvalidCredentials)
	}
	// Locked: even the right password is refused, in any spelling of the email.
	_, err := f.svc.Login(ctx, "ada@example.com", password)
	lockedOut(t, "the right password after the limit", err)
	_, err = f.svc.Login(ctx, " ADA@Example.com", password)
	lockedOut(t, "the email in another case", err)
	// Other emails are not affected.
	if _, err := f.svc.Login(ctx, "bob@example.com", password); err != nil {
		t.Fatalf("another account: %v", err)
	}
}

func (suite) loginThrottleUnknownEmail(t *testing.T, f *fixture) {
	// Unknown emails are throttled like known ones, or the throttle would
	// tell which emails have accounts.
	ctx := context.Background()
	for i := range f.h.MaxLoginFailures {
		_, err := f.svc.Login(ctx, "ghost@example.com", password)
		wantErr(t, fmt.Sprintf("failed login %d", i+1), err, shop.ErrUnauthenticated, user.CodeInvalidCredentials)
	}
	_, err := f.svc.Login(ctx, "ghost@example.com", password)
	lockedOut(t, "an unknown email after the limit", err)
}

func (suite) loginSuccessClears(t *testing.T, f *fixture) {
	ctx := context.Background()
	f.register(t, "ada@example.com", "Ada")
	for round := range 3 {
		for range f.h.MaxLoginFailures - 1 {
			_, err := f.svc.Login(ctx, "ada@example.com", "wrong horse")
			wantErr(t, "a failed login", err, shop.ErrUnauthenticated, user.CodeInvalidCredentials)
		}
		if _, err := f.svc.Login(ctx, "ada@example.com", password); err != nil {
			t.Fatalf("round %d: the right password after %d failures: %v (a success must clear the failures before it)",
				round+1, f.h.MaxLoginFailures-1, err)
		}
	}
}

func (suite) roles(t *testing.T, f *fixture) {
	ctx := context.Background()
	if f.admin.Role != shop.RoleAdmin || f.admin.Email != AdminEmail {
		t.Fatalf("the admin logs in as %+v", f.admin)
	}
	ada := f.register(t, "ada@example.com", "Ada")
	bob := f.register(t, "bob@example.com", "Bob")
	sess, err := f.svc.Login(ctx, "ada@example.com", password)
	if err != nil {
		t.Fatal(err)
	}
	if sess.User.Role != shop.RoleCustomer {
		t.Fatalf("a registered account logs in as %q, want customer", sess.User.Role)
	}

	customer := f.as(ada.ID, shop.RoleCustomer)
	_, err = f.svc.ListUsers(customer, shop.PageRequest{})
	wantErr(t, "ListUsers as a customer", err, shop.ErrForbidden, "forbidden")
	_, err = f.svc.DisableUser(customer, bob.ID)
	wantErr(t, "DisableUser as a customer", err, shop.ErrForbidden, "forbidden")
	_, err = f.svc.EnableUser(customer, bob.ID)
	wantErr(t, "EnableUser as a customer", err, shop.ErrForbidden, "forbidden")

	service := f.as("order", shop.RoleService)
	got, err := f.svc.GetUser(service, bob.ID)
	if err != nil {
		t.Fatalf("GetUser as a service: %v", err)
	}
	sameUser(t, "GetUser as a service", got, bob)
	_, err = f.svc.ListUsers(service, shop.PageRequest{})
	wantErr(t, "ListUsers as a service", err, shop.ErrForbidden, "forbidden")
	_, err = f.svc.DisableUser(service, bob.ID)
	wantErr(t, "DisableUser as a service", err, shop.ErrForbidden, "forbidden")

	// Another admin, with or without an account here, may read anyone.
	got, err = f.svc.GetUser(f.as("auditor", shop.RoleAdmin), bob.ID)
	if err != nil {
		t.Fatalf("GetUser as an admin: %v", err)
	}
	sameUser(t, "GetUser as an admin", got, bob)
}

func (suite) getUser(t *testing.T, f *fixture) {
	ada := f.register(t, "ada@example.com", "Ada")
	bob := f.register(t, "bob@example.com", "Bob")
	asAda := f.as(ada.ID, shop.RoleCustomer)
	got, err := f.svc.GetUser(asAda, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameUser(t, "own account", got, ada)
	got, err = f.svc.GetUser(f.asAdmin(), bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameUser(t, "admin reads bob", got, bob)

	_, other := f.svc.GetUser(asAda, bob.ID)
	_, missing := f.svc.GetUser(asAda, "no-such-id")
	_, adminMissing := f.svc.GetUser(f.asAdmin(), "no-such-id")
	for what, err := range map[string]error{"someone else's account": other, "an unknown ID": missing, "an unknown ID as admin": adminMissing} {
		wantErr(t, what, err, shop.ErrNotFound, user.CodeUserNotFound)
		if err.Error() != missing.Error() {
			t.Errorf("%s answers %q, an unknown ID %q: IDs can be probed", what, err, missing)
		}
	}
	_, err = f.svc.GetUser(context.Background(), ada.ID)
	wantErr(t, "anonymous", err, shop.ErrUnauthenticated, "missing_token")
}

func (suite) me(t *testing.T, f *fixture) {
	bob := f.register(t, "bob@example.com", "Bob")
	me, err := f.svc.Me(f.as(bob.ID, shop.RoleCustomer))
	if err != nil {
		t.Fatal(err)
	}
	sameUser(t, "Me", me, bob)
	_, err = f.svc.Me(context.Background())
	wantErr(t, "anonymous", err, shop.ErrUnauthenticated, "missing_token")
	_, err = f.svc.Me(f.as("deleted-account", shop.RoleCustomer))
	wantErr(t, "an identity without an account", err, shop.ErrUnauthenticated, user.CodeInvalidToken)
}

func (suite) listUsers(t *testing.T, f *fixture) {
	all := []user.User{f.admin}
	for i := range 6 {
		all = append(all, f.register(t, fmt.Sprintf("%c@example.com", 'a'+i), "N"))
	}
	admin := f.asAdmin()
	var got []user.User
	p := shop.PageRequest{Limit: 3}
	pages := 0
	for {
		page, err := f.svc.ListUsers(admin, p)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, page.Items...)
		if page.NextCursor == "" {
			break
		}
		if pages > len(all) {
			t.Fatal("paging does not end")
		}
		p.Cursor = page.NextCursor
	}
	if pages != 3 || len(got) != len(all) {
		t.Fatalf("%d pages of %d accounts; want 3 pages of %d", pages, len(got), len(all))
	}
	for i := range all {
		sameUser(t, fmt.Sprintf("item %d in creation order", i), got[i], all[i])
	}
	// An exact multiple of the limit ends without an empty extra page.
	page, err := f.svc.ListUsers(admin, shop.PageRequest{Limit: len(all)})
	if err != nil || len(page.Items) != len(all) || page.NextCursor != "" {
		t.Fatalf("limit %d: %d items, cursor %q, %v; want all, no cursor", len(all), len(page.Items), page.NextCursor, err)
	}

	_, err = f.svc.ListUsers(context.Background(), shop.PageRequest{})
	wantErr(t, "anonymous", err, shop.ErrUnauthenticated, "missing_token")
	_, err = f.svc.ListUsers(admin, shop.PageRequest{Limit: shop.MaxLimit + 1})
	wantErr(t, "a limit too large", err, shop.ErrInvalid, "invalid_limit")
	_, err = f.svc.ListUsers(admin, shop.PageRequest{Cursor: "not a cursor"})
	wantErr(t, "a malformed cursor", err, shop.ErrInvalid, "invalid_cursor")
}

func (suite) disableAndEnable(t *testing.T, f *fixture) {
	ada := f.register(t, "ada@example.com", "Ada")
	admin := f.asAdmin()
	_, err := f.svc.DisableUser(context.Background(), ada.ID)
	wantErr(t, "anonymous", err, shop.ErrUnauthenticated, "missing_token")
	_, err = f.svc.DisableUser(admin, "no-such-id")
	wantErr(t, "disable an unknown ID", err, shop.ErrNotFound, user.CodeUserNotFound)
	_, err = f.svc.EnableUser(admin, "no-such-id")
	wantErr(t, "enable an unknown ID", err, shop.ErrNotFound, user.CodeUserNotFound)
	_, err = f.svc.DisableUser(admin, f.admin.ID)
	wantErr(t, "disable oneself", err, shop.ErrConflict, user.CodeCannotDisableSelf)

	u, err := f.svc.DisableUser(admin, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := ada
	want.Disabled = true
	sameUser(t, "DisableUser", u, want)
	u, err = f.svc.DisableUser(admin, ada.ID)
	if err != nil {
		t.Fatalf("disabling again: %v", err)
	}
	sameUser(t, "DisableUser again", u, want)
	got, err := f.svc.GetUser(admin, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameUser(t, "the stored account", got, want)
	_, err = f.svc.Me(f.as(ada.ID, shop.RoleCustomer))
	wantErr(t, "Me of a disabled account", err, shop.ErrUnauthenticated, user.CodeAccountDisabled)

	for range 2 { // enabling an enabled account changes nothing
		u, err = f.svc.EnableUser(admin, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameUser(t, "EnableUser", u, ada)
	}
	if _, err := f.svc.Me(f.as(ada.ID, shop.RoleCustomer)); err != nil {
		t.Fatalf("Me after enabling: %v", err)
	}
}

func (suite) disabledCannotLogIn(t *testing.T, f *fixture) {
	ctx := context.Background()
	ada := f.register(t, "ada@example.com", "Ada")
	if _, err := f.svc.DisableUser(f.asAdmin(), ada.ID); err != nil {
		t.Fatal(err)
	}
	// The answer does not tell whether the password was right.
	_, right := f.svc.Login(ctx, "ada@example.com", password)
	_, wrong := f.svc.Login(ctx, "ada@example.com", "wrong horse")
	wantErr(t, "the right password of a disabled account", right, shop.ErrUnauthenticated, user.CodeInvalidCredentials)
	wantErr(t, "a wrong password of a disabled account", wrong, shop.ErrUnauthenticated, user.CodeInvalidCredentials)
	if right.Error() != wrong.Error() {
		t.Errorf("the right password answers %q, a wrong one %q", right, wrong)
	}
	if _, err := f.svc.EnableUser(f.asAdmin(), ada.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(ctx, "ada@example.com", password); err != nil {
		t.Fatalf("login after enabling: %v", err)
	}

	// Logins to a disabled account count as failures, even with the right
	// password.
	if _, err := f.svc.DisableUser(f.asAdmin(), ada.ID); err != nil {
		t.Fatal(err)
	}
	for range f.h.MaxLoginFailures {
		_, err := f.svc.Login(ctx, "ada@example.com", password)
		wantErr(t, "the right password of a disabled account", err, shop.ErrUnauthenticated, user.CodeInvalidCredentials)
	}
	_, err := f.svc.Login(ctx, "ada@example.com", password)
	lockedOut(t, "a disabled account after the limit", err)
}

func (suite) lastAdmin(t *testing.T, f *fixture) {
	// Another admin identity (with no account here) disables the only
	// enabled admin account: refused.
	_, err := f.svc.DisableUser(f.as("other-admin", shop.RoleAdmin), f.admin.ID)
	wantErr(t, "disable the last enabled admin", err, shop.ErrConflict, user.CodeLastAdmin)
	got, err := f.svc.GetUser(f.asAdmin(), f.admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameUser(t, "the admin after the refusal", got, f.admin)
	if got.Disabled {
		t.Fatal("the last admin was disabled")
	}
}
