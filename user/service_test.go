package user_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/user"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newStore(t *testing.T) *user.SQLiteStore {
	t.Helper()
	st, err := user.OpenSQLiteStore(context.Background(), filepath.Join(t.TempDir(), "user.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newTokens(t *testing.T) *user.Tokens {
	t.Helper()
	tok, err := user.NewTokens(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// newService returns a service with the cheapest bcrypt cost, its store and
// its token issuer.
func newService(t *testing.T, opts ...user.Option) (user.Service, *user.SQLiteStore, *user.Tokens) {
	t.Helper()
	st := newStore(t)
	tok := newTokens(t)
	opts = append([]user.Option{user.WithBcryptCost(bcrypt.MinCost)}, opts...)
	return user.NewService(st, tok, opts...), st, tok
}

func as(id string, role shop.Role) context.Context {
	return shop.WithIdentity(context.Background(), shop.Identity{UserID: id, Role: role})
}

func wantErr(t *testing.T, err error, kind *shop.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v %q", kind, code)
	}
	if shop.KindOf(err) != kind || shop.CodeOf(err) != code {
		t.Fatalf("got error %v (kind %v, code %q), want kind %v, code %q", err, shop.KindOf(err), shop.CodeOf(err), kind, code)
	}
}

func mustRegister(t *testing.T, s user.Service, email, name string) user.User {
	t.Helper()
	u, err := s.Register(context.Background(), user.Registration{Email: email, Password: "correct horse", Name: name})
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return u
}

func TestRegisterValidation(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	long := strings.Repeat("a", 243) + "@example.com" // 255 bytes
	tests := []struct {
		name string
		reg  user.Registration
		code string
	}{
		{"empty email", user.Registration{Email: "  ", Password: "password1", Name: "Ada"}, "invalid_email"},
		{"no at", user.Registration{Email: "ada.example.com", Password: "password1", Name: "Ada"}, "invalid_email"},
		{"no domain", user.Registration{Email: "ada@", Password: "password1", Name: "Ada"}, "invalid_email"},
		{"no local part", user.Registration{Email: "@example.com", Password: "password1", Name: "Ada"}, "invalid_email"},
		{"display name", user.Registration{Email: "Ada <ada@example.com>", Password: "password1", Name: "Ada"}, "invalid_email"},
		{"two addresses", user.Registration{Email: "a@example.com, b@example.com", Password: "password1", Name: "Ada"}, "invalid_email"},
		{"space inside", user.Registration{Email: "ada lovelace@example.com", Password: "password1", Name: "Ada"}, "invalid_email"},
		{"too long email", user.Registration{Email: long, Password: "password1", Name: "Ada"}, "invalid_email"},
		{"short password", user.Registration{Email: "ada@example.com", Password: "1234567", Name: "Ada"}, "invalid_password"},
		{"short in runes", user.Registration{Email: "ada@example.com", Password: "ééééééé", Name: "Ada"}, "invalid_password"},
		{"73 byte password", user.Registration{Email: "ada@example.com", Password: strings.Repeat("p", 73), Name: "Ada"}, "invalid_password"},
		{"37 two-byte runes", user.Registration{Email: "ada@example.com", Password: strings.Repeat("é", 37), Name: "Ada"}, "invalid_password"},
		{"empty name", user.Registration{Email: "ada@example.com", Password: "password1", Name: " \t "}, "invalid_name"},
		{"long name", user.Registration{Email: "ada@example.com", Password: "password1", Name: strings.Repeat("n", 101)}, "invalid_name"},
		{"name with newline", user.Registration{Email: "ada@example.com", Password: "password1", Name: "Ada\nadmin=true"}, "invalid_name"},
		{"name with line separator", user.Registration{Email: "ada@example.com", Password: "password1", Name: "Ada\u2028admin=true"}, "invalid_name"},
		{"name with right-to-left override", user.Registration{Email: "ada@example.com", Password: "password1", Name: "Ada \u202egnp.exe"}, "invalid_name"},
		{"name with bidi isolate", user.Registration{Email: "ada@example.com", Password: "password1", Name: "\u2067Ada\u2069"}, "invalid_name"},
		{"name with left-to-right mark", user.Registration{Email: "ada@example.com", Password: "password1", Name: "Ada\u200e"}, "invalid_name"},
		{"name with zero-width space", user.Registration{Email: "ada@example.com", Password: "password1", Name: "Ad\u200ba"}, "invalid_name"},
		{"name with byte order mark", user.Registration{Email: "ada@example.com", Password: "password1", Name: "\ufeffAda"}, "invalid_name"},
		{"name with tag characters", user.Registration{Email: "ada@example.com", Password: "password1", Name: "Ada\U000E0069\U000E0067"}, "invalid_name"},
		{"name of a Hangul filler", user.Registration{Email: "ada@example.com", Password: "password1", Name: "\u3164"}, "invalid_name"},
		{"name of joiners only", user.Registration{Email: "ada@example.com", Password: "password1", Name: "\u200d\u200c"}, "invalid_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Register(ctx, tt.reg)
			wantErr(t, err, shop.ErrInvalid, tt.code)
			if tt.reg.Password != "" && strings.Contains(err.Error(), tt.reg.Password) {
				t.Errorf("message %q contains the password", err)
			}
		})
	}
	// Bad input changes nothing: the valid form of the same email is free.
	if _, err := s.Register(ctx, user.Registration{Email: "ada@example.com", Password: "password1", Name: "Ada"}); err != nil {
		t.Fatalf("valid registration after rejected ones: %v", err)
	}
	page, err := s.ListUsers(as("root", shop.RoleAdmin), shop.PageRequest{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("want exactly one account, got %d (%v)", len(page.Items), err)
	}
}

func TestRegisterAcceptsBoundaries(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	okEmail := strings.Repeat("a", 242) + "@example.com" // 254 bytes
	for i, reg := range []user.Registration{
		{Email: okEmail, Password: "12345678", Name: strings.Repeat("n", 100)},
		{Email: "b@example.com", Password: strings.Repeat("p", 72), Name: "B"},
		{Email: "c@example.com", Password: strings.Repeat("é", 36), Name: "Çé"},
		{Email: "d@example.com", Password: "ééééééééé", Name: "D"},
		// Persian needs the zero-width non-joiner, emoji sequences the joiner.
		{Email: "e@example.com", Password: "password1", Name: "نیلوفر می\u200cخواهد"},
		{Email: "f@example.com", Password: "password1", Name: "Dev \U0001F469\u200d\U0001F4BB"},
		{Email: "g@example.com", Password: "password1", Name: "José Ñúñez-O'Brien 李"},
	} {
		if _, err := s.Register(ctx, reg); err != nil {
			t.Errorf("registration %d: %v", i, err)
			continue
		}
		if _, err := s.Login(ctx, reg.Email, reg.Password); err != nil {
			t.Errorf("login %d: %v", i, err)
		}
	}
}

func TestRegisterNormalizesAndCreatesCustomer(t *testing.T) {
	clock := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	s, _, _ := newService(t, user.WithClock(func() time.Time { return clock }))
	u, err := s.Register(context.Background(), user.Registration{Email: "  Ada@Example.COM ", Password: "password1", Name: "  Ada Lovelace "})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ada@example.com" || u.Name != "Ada Lovelace" || u.Role != shop.RoleCustomer || u.ID == "" {
		t.Fatalf("got %+v", u)
	}
	if !u.CreatedAt.Equal(clock) || u.CreatedAt.Location() != time.UTC {
		t.Fatalf("created_at %v, want %v in UTC", u.CreatedAt, clock)
	}
	got, err := s.GetUser(as(u.ID, shop.RoleCustomer), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != u {
		t.Fatalf("stored %+v, returned %+v", got, u)
	}
	// The same email in another case is taken.
	_, err = s.Register(context.Background(), user.Registration{Email: "ADA@example.com", Password: "password2", Name: "Other"})
	wantErr(t, err, shop.ErrConflict, "email_taken")
}

func TestUserJSONHasNoPasswordHash(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	u := mustRegister(t, s, "ada@example.com", "Ada")
	sess, err := s.Login(ctx, "ada@example.com", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{u, sess} {
		b, _ := json.Marshal(v)
		if strings.Contains(string(b), "$2a$") || strings.Contains(strings.ToLower(string(b)), "hash") || strings.Contains(string(b), "correct horse") {
			t.Fatalf("JSON leaks the password or its hash: %s", b)
		}
	}
	b, _ := json.Marshal(u)
	var fields map[string]any
	json.Unmarshal(b, &fields)
	for _, k := range []string{"id", "email", "name", "role", "created_at", "disabled"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("user JSON %s lacks %q", b, k)
		}
	}
	if len(fields) != 6 || fields["disabled"] != false {
		t.Errorf("user JSON %s has fields besides id, email, name, role, created_at, disabled", b)
	}
}

func TestRegisterConcurrentDuplicates(t *testing.T) {
	s, _, _ := newService(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := "same@example.com"
			if i%2 == 1 {
				email = "SAME@example.com"
			}
			_, err := s.Register(context.Background(), user.Registration{Email: email, Password: "password1", Name: "Same"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	created := 0
	for err := range errs {
		if err == nil {
			created++
			continue
		}
		wantErr(t, err, shop.ErrConflict, "email_taken")
	}
	if created != 1 {
		t.Fatalf("%d registrations succeeded, want exactly 1", created)
	}
}

func TestLogin(t *testing.T) {
	s, _, tok := newService(t, user.WithTokenTTL(time.Hour))
	ctx := context.Background()
	u := mustRegister(t, s, "ada@example.com", "Ada")

	sess, err := s.Login(ctx, " ADA@example.com", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if sess.TokenType != "Bearer" || sess.User != u || sess.Token == "" {
		t.Fatalf("session %+v", sess)
	}
	if d := time.Until(sess.ExpiresAt); d < 59*time.Minute || d > time.Hour+time.Second {
		t.Fatalf("expires in %v, want about 1h", d)
	}
	id, err := tok.Verify(context.Background(), sess.Token)
	if err != nil || id.UserID != u.ID || id.Role != shop.RoleCustomer {
		t.Fatalf("token verifies as %+v, %v", id, err)
	}

	_, wrongPassword := s.Login(ctx, "ada@example.com", "wrong horse")
	_, unknownEmail := s.Login(ctx, "nobody@example.com", "correct horse")
	_, malformed := s.Login(ctx, strings.Repeat("x", 10000), "correct horse")
	_, empty := s.Login(ctx, "", "")
	// bcrypt reads 72 bytes only: a longer password starting with a 72-byte
	// real one must not match.
	p72 := strings.Repeat("p", 72)
	if _, err := s.Register(ctx, user.Registration{Email: "long@example.com", Password: p72, Name: "Long"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "long@example.com", p72); err != nil {
		t.Fatalf("72-byte password: %v", err)
	}
	_, tooLong := s.Login(ctx, "long@example.com", p72+"extra")
	for _, err := range []error{wrongPassword, unknownEmail, malformed, empty, tooLong} {
		wantErr(t, err, shop.ErrUnauthenticated, "invalid_credentials")
		if err.Error() != wrongPassword.Error() {
			t.Errorf("messages differ: %q vs %q", err, wrongPassword)
		}
	}
}

// A failed login for an unknown email must cost a bcrypt comparison like one
// for a known email, or its speed tells which emails have accounts.
func TestLoginUnknownEmailTakesAsLong(t *testing.T) {
	const cost = 7
	st := newStore(t)
	s := user.NewService(st, newTokens(t), user.WithBcryptCost(cost), user.WithLoginThrottle(1000, time.Minute))
	mustRegister(t, s, "ada@example.com", "Ada")
	// Interleave the two and keep each one's fastest run, so a burst of load
	// on the machine slows both alike instead of one.
	known, unknown := time.Hour, time.Hour
	attempt := func(email string) time.Duration {
		start := time.Now()
		_, err := s.Login(context.Background(), email, "wrong password")
		wantErr(t, err, shop.ErrUnauthenticated, "invalid_credentials")
		return time.Since(start)
	}
	for range 5 {
		known = min(known, attempt("ada@example.com"))
		unknown = min(unknown, attempt("nobody@example.com"))
	}
	t.Logf("failed login at bcrypt cost %d: known email %v, unknown email %v", cost, known, unknown)
	if unknown < known/2 {
		t.Fatalf("unknown email took %v, known %v: the unknown path skips the bcrypt comparison", unknown, known)
	}
}

func TestLoginThrottle(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, _, _ := newService(t, user.WithLoginThrottle(3, 10*time.Minute), user.WithClock(clock))
	ctx := context.Background()
	mustRegister(t, s, "ada@example.com", "Ada")
	mustRegister(t, s, "bob@example.com", "Bob")

	for range 3 {
		_, err := s.Login(ctx, "ada@example.com", "wrong")
		wantErr(t, err, shop.ErrUnauthenticated, "invalid_credentials")
		now = now.Add(time.Minute)
	}
	// Locked: even the right password is refused, and the wait is what is
	// left of the window since the third failure.
	_, err := s.Login(ctx, "ADA@example.com", "correct horse")
	wantErr(t, err, shop.ErrTooManyRequests, "too_many_attempts")
	var se *shop.Error
	if !errors.As(err, &se) || se.RetryAfter != 9*time.Minute {
		t.Fatalf("RetryAfter = %v, want 9m", se.RetryAfter)
	}
	// Other emails are not affected.
	if _, err := s.Login(ctx, "bob@example.com", "correct horse"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	// Refused attempts do not extend the lock.
	now = now.Add(8*time.Minute + 59*time.Second)
	_, err = s.Login(ctx, "ada@example.com", "wrong")
	wantErr(t, err, shop.ErrTooManyRequests, "too_many_attempts")
	now = now.Add(time.Second)
	if _, err := s.Login(ctx, "ada@example.com", "correct horse"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestLoginThrottleSuccessClearsCount(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _, _ := newService(t, user.WithLoginThrottle(3, time.Hour), user.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	mustRegister(t, s, "ada@example.com", "Ada")
	for round := range 3 {
		for range 2 {
			_, err := s.Login(ctx, "ada@example.com", "wrong")
			wantErr(t, err, shop.ErrUnauthenticated, "invalid_credentials")
		}
		if _, err := s.Login(ctx, "ada@example.com", "correct horse"); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

func TestLoginThrottleUnknownEmail(t *testing.T) {
	// Unknown emails are throttled like known ones, or the throttle would
	// reveal which emails exist.
	s, _, _ := newService(t, user.WithLoginThrottle(2, time.Hour))
	ctx := context.Background()
	for range 2 {
		_, err := s.Login(ctx, "ghost@example.com", "whatever1")
		wantErr(t, err, shop.ErrUnauthenticated, "invalid_credentials")
	}
	_, err := s.Login(ctx, "ghost@example.com", "whatever1")
	wantErr(t, err, shop.ErrTooManyRequests, "too_many_attempts")
}

func TestLoginThrottleConcurrent(t *testing.T) {
	// Concurrent guesses cannot slip past the limit.
	s, _, _ := newService(t, user.WithLoginThrottle(5, time.Hour))
	mustRegister(t, s, "ada@example.com", "Ada")
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Login(context.Background(), "ada@example.com", "wrong guess")
			mu.Lock()
			counts[shop.CodeOf(err)]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if counts["invalid_credentials"] != 5 || counts["too_many_attempts"] != n-5 {
		t.Fatalf("outcomes %v, want 5 invalid_credentials and %d too_many_attempts", counts, n-5)
	}
}

// Before: attempts were counted when they started, so ten simultaneous logins
// with the right password got five 429s.
func TestLoginConcurrentRightPassword(t *testing.T) {
	s, _, _ := newService(t, user.WithLoginThrottle(5, time.Hour))
	mustRegister(t, s, "ada@example.com", "Ada")
	const n = 10
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.Login(context.Background(), "ada@example.com", "correct horse")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("simultaneous login with the right password: %v", err)
		}
	}
}

// A success clears the failures of the email, even ones made concurrently.
func TestLoginSuccessClearsConcurrentFailures(t *testing.T) {
	s, _, _ := newService(t, user.WithLoginThrottle(3, time.Hour))
	ctx := context.Background()
	mustRegister(t, s, "ada@example.com", "Ada")
	for range 2 {
		s.Login(ctx, "ada@example.com", "wrong guess")
	}
	if _, err := s.Login(ctx, "ada@example.com", "correct horse"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := s.Login(ctx, "ada@example.com", "wrong guess")
		wantErr(t, err, shop.ErrUnauthenticated, "invalid_credentials")
	}
	if _, err := s.Login(ctx, "ada@example.com", "correct horse"); err != nil {
		t.Fatalf("failures before the success still counted: %v", err)
	}
}

func TestGetUserAndMe(t *testing.T) {
	s, _, _ := newService(t)
	ada := mustRegister(t, s, "ada@example.com", "Ada")
	bob := mustRegister(t, s, "bob@example.com", "Bob")

	got, err := s.GetUser(as(ada.ID, shop.RoleCustomer), ada.ID)
	if err != nil || got != ada {
		t.Fatalf("own record: %+v, %v", got, err)
	}
	got, err = s.GetUser(as("admin-id", shop.RoleAdmin), bob.ID)
	if err != nil || got != bob {
		t.Fatalf("admin reads bob: %+v, %v", got, err)
	}
	_, errOther := s.GetUser(as(ada.ID, shop.RoleCustomer), bob.ID)
	_, errMissing := s.GetUser(as(ada.ID, shop.RoleCustomer), "no-such-id")
	_, errAdminMissing := s.GetUser(as("admin-id", shop.RoleAdmin), "no-such-id")
	for _, err := range []error{errOther, errMissing, errAdminMissing} {
		wantErr(t, err, shop.ErrNotFound, "user_not_found")
		if err.Error() != errMissing.Error() {
			t.Errorf("someone else's id answers %q, a missing one %q", err, errMissing)
		}
	}
	_, err = s.GetUser(context.Background(), ada.ID)
	wantErr(t, err, shop.ErrUnauthenticated, "missing_token")

	me, err := s.Me(as(bob.ID, shop.RoleCustomer))
	if err != nil || me != bob {
		t.Fatalf("me: %+v, %v", me, err)
	}
	_, err = s.Me(context.Background())
	wantErr(t, err, shop.ErrUnauthenticated, "missing_token")
	_, err = s.Me(as("deleted-account", shop.RoleCustomer))
	wantErr(t, err, shop.ErrUnauthenticated, "invalid_token")
}

func TestListUsers(t *testing.T) {
	s, _, _ := newService(t)
	var all []user.User
	for i := range 7 {
		all = append(all, mustRegister(t, s, string(rune('a'+i))+"@example.com", "N"))
	}
	admin := as("admin-id", shop.RoleAdmin)

	var got []user.User
	p := shop.PageRequest{Limit: 3}
	pages := 0
	for {
		page, err := s.ListUsers(admin, p)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, page.Items...)
		if page.NextCursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		p.Cursor = page.NextCursor
	}
	if pages != 3 || len(got) != len(all) {
		t.Fatalf("%d pages, %d users; want 3 pages, %d users", pages, len(got), len(all))
	}
	for i := range all {
		if got[i] != all[i] {
			t.Fatalf("item %d: got %+v, want %+v (creation order)", i, got[i], all[i])
		}
	}
	// An exact multiple of the limit ends without an empty extra page.
	page, err := s.ListUsers(admin, shop.PageRequest{Limit: 7})
	if err != nil || len(page.Items) != 7 || page.NextCursor != "" {
		t.Fatalf("limit 7: %d items, cursor %q, %v", len(page.Items), page.NextCursor, err)
	}

	_, err = s.ListUsers(as(all[0].ID, shop.RoleCustomer), shop.PageRequest{})
	wantErr(t, err, shop.ErrForbidden, "forbidden")
	_, err = s.ListUsers(context.Background(), shop.PageRequest{})
	wantErr(t, err, shop.ErrUnauthenticated, "missing_token")
	_, err = s.ListUsers(admin, shop.PageRequest{Limit: 101})
	wantErr(t, err, shop.ErrInvalid, "invalid_limit")
	_, err = s.ListUsers(admin, shop.PageRequest{Cursor: "not a cursor"})
	wantErr(t, err, shop.ErrInvalid, "invalid_cursor")
}

func TestListUsersEmpty(t *testing.T) {
	s, _, _ := newService(t)
	page, err := s.ListUsers(as("admin-id", shop.RoleAdmin), shop.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(page)
	if string(b) != `{"items":[]}` {
		t.Fatalf("empty page is %s, want {\"items\":[]}", b)
	}
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	s := user.NewService(st, newTokens(t), user.WithBcryptCost(bcrypt.MinCost))

	// Invalid settings are refused like a registration would be.
	_, err := user.EnsureAdmin(ctx, st, "not an email", "admin-password", bcrypt.MinCost)
	wantErr(t, err, shop.ErrInvalid, "invalid_email")
	_, err = user.EnsureAdmin(ctx, st, "root@example.com", "short", bcrypt.MinCost)
	wantErr(t, err, shop.ErrInvalid, "invalid_password")
	if strings.Contains(err.Error(), "short") {
		t.Errorf("error %q shows the password", err)
	}

	// Created as admin.
	admin, err := user.EnsureAdmin(ctx, st, " Root@Example.com", "admin-password", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if admin.Role != shop.RoleAdmin || admin.Email != "root@example.com" {
		t.Fatalf("got %+v", admin)
	}
	sess, err := s.Login(ctx, "root@example.com", "admin-password")
	if err != nil || sess.User.Role != shop.RoleAdmin {
		t.Fatalf("admin login: %+v, %v", sess, err)
	}

	// Again, with another password: nothing changes, the old password stays.
	again, err := user.EnsureAdmin(ctx, st, "root@example.com", "another-password", bcrypt.MinCost)
	if err != nil || again != admin {
		t.Fatalf("second call: %+v, %v; want %+v", again, err, admin)
	}
	if _, err := s.Login(ctx, "root@example.com", "admin-password"); err != nil {
		t.Fatalf("the old password must still work: %v", err)
	}
	_, err = s.Login(ctx, "root@example.com", "another-password")
	wantErr(t, err, shop.ErrUnauthenticated, "invalid_credentials")
}

func TestEnsureAdminPromotesCustomer(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	s := user.NewService(st, newTokens(t), user.WithBcryptCost(bcrypt.MinCost))
	cust := mustRegister(t, s, "boss@example.com", "Boss")

	// Someone else registered the admin email: not promoted.
	_, err := user.EnsureAdmin(ctx, st, "boss@example.com", "admin-password", bcrypt.MinCost)
	if err == nil || !strings.Contains(err.Error(), "different password") {
		t.Fatalf("got %v, want a refusal", err)
	}
	got, _ := s.GetUser(as(cust.ID, shop.RoleCustomer), cust.ID)
	if got.Role != shop.RoleCustomer {
		t.Fatalf("role %q after refusal", got.Role)
	}

	// The owner of the account configured it: promoted.
	admin, err := user.EnsureAdmin(ctx, st, "boss@example.com", "correct horse", bcrypt.MinCost)
	if err != nil || admin.Role != shop.RoleAdmin || admin.ID != cust.ID {
		t.Fatalf("promotion: %+v, %v", admin, err)
	}
	got, _ = s.GetUser(as(cust.ID, shop.RoleCustomer), cust.ID)
	if got.Role != shop.RoleAdmin {
		t.Fatalf("stored role %q, want admin", got.Role)
	}
}

func TestRegistrationStringHidesPassword(t *testing.T) {
	r := user.Registration{Email: "ada@example.com", Password: "s3cret-pass", Name: "Ada"}
	l := user.LoginRequest{Email: "ada@example.com", Password: "s3cret-pass"}
	for _, s := range []string{
		fmtAll(r), fmtAll(&r), fmtAll(l), fmtAll(user.RegisterRequest{Registration: r}), fmtAll(&user.RegisterRequest{Registration: r}),
	} {
		if strings.Contains(s, "s3cret-pass") {
			t.Fatalf("formatted value shows the password: %s", s)
		}
		if !strings.Contains(s, "ada@example.com") {
			t.Fatalf("formatted value lost the email: %s", s)
		}
	}
}

func fmtAll(v any) string {
	return fmt.Sprintf("%v %+v %s %#v", v, v, v, v)
}

func TestDisableAndEnable(t *testing.T) {
	s, st, _ := newService(t)
	ctx := context.Background()
	admin, err := user.EnsureAdmin(ctx, st, "root@example.com", "root-password", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ada := mustRegister(t, s, "ada@example.com", "Ada")
	asAdmin := as(admin.ID, shop.RoleAdmin)

	// Only admins.
	_, err = s.DisableUser(context.Background(), ada.ID)
	wantErr(t, err, shop.ErrUnauthenticated, "missing_token")
	_, err = s.DisableUser(as(ada.ID, shop.RoleCustomer), ada.ID)
	wantErr(t, err, shop.ErrForbidden, "forbidden")
	_, err = s.EnableUser(as(ada.ID, shop.RoleCustomer), ada.ID)
	wantErr(t, err, shop.ErrForbidden, "forbidden")
	_, err = s.DisableUser(as("order", shop.RoleService), ada.ID)
	wantErr(t, err, shop.ErrForbidden, "forbidden")
	_, err = s.DisableUser(asAdmin, "no-such-id")
	wantErr(t, err, shop.ErrNotFound, "user_not_found")
	_, err = s.EnableUser(asAdmin, "no-such-id")
	wantErr(t, err, shop.ErrNotFound, "user_not_found")
	_, err = s.DisableUser(asAdmin, admin.ID)
	wantErr(t, err, shop.ErrConflict, "cannot_disable_self")

	u, err := s.DisableUser(asAdmin, ada.ID)
	if err != nil || !u.Disabled || u.ID != ada.ID || u.Email != ada.Email {
		t.Fatalf("disable: %+v, %v", u, err)
	}
	if u, err := s.DisableUser(asAdmin, ada.ID); err != nil || !u.Disabled {
		t.Fatalf("disable again: %+v, %v", u, err)
	}
	if got, _ := s.GetUser(asAdmin, ada.ID); !got.Disabled {
		t.Fatalf("stored %+v", got)
	}
	// A disabled account cannot log in, and the answer does not tell
	// whether the password was right.
	_, right := s.Login(ctx, "ada@example.com", "correct horse")
	_, wrong := s.Login(ctx, "ada@example.com", "wrong horse")
	wantErr(t, right, shop.ErrUnauthenticated, "invalid_credentials")
	wantErr(t, wrong, shop.ErrUnauthenticated, "invalid_credentials")
	if right.Error() != wrong.Error() {
		t.Errorf("answers differ: %q vs %q", right, wrong)
	}
	_, err = s.Me(as(ada.ID, shop.RoleCustomer))
	wantErr(t, err, shop.ErrUnauthenticated, "account_disabled")

	u, err = s.EnableUser(asAdmin, ada.ID)
	if err != nil || u.Disabled {
		t.Fatalf("enable: %+v, %v", u, err)
	}
	if _, err := s.Login(ctx, "ada@example.com", "correct horse"); err != nil {
		t.Fatalf("login after enable: %v", err)
	}
}

func TestDisableKeepsAnAdmin(t *testing.T) {
	s, st, _ := newService(t)
	ctx := context.Background()
	a, err := user.EnsureAdmin(ctx, st, "a@example.com", "admin-password", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	b, err := user.EnsureAdmin(ctx, st, "b@example.com", "admin-password", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// Two admins disabling each other at once: one of them stays.
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() { _, errA = s.DisableUser(as(a.ID, shop.RoleAdmin), b.ID) })
	wg.Go(func() { _, errB = s.DisableUser(as(b.ID, shop.RoleAdmin), a.ID) })
	wg.Wait()
	if (errA == nil) == (errB == nil) {
		t.Fatalf("both or neither disabled: %v, %v", errA, errB)
	}
	for _, err := range []error{errA, errB} {
		if err != nil {
			wantErr(t, err, shop.ErrConflict, "last_admin")
		}
	}
	page, err := s.ListUsers(as(a.ID, shop.RoleAdmin), shop.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	enabled := 0
	for _, u := range page.Items {
		if !u.Disabled {
			enabled++
		}
	}
	if enabled != 1 {
		t.Fatalf("%d enabled admins, want 1: %+v", enabled, page.Items)
	}
}

func TestAccountCheck(t *testing.T) {
	s, st, _ := newService(t)
	ctx := context.Background()
	admin, err := user.EnsureAdmin(ctx, st, "root@example.com", "root-password", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ada := mustRegister(t, s, "ada@example.com", "Ada")
	local := user.AccountCheck(st)
	viaService := user.ServiceAccountCheck(s)
	for name, check := range map[string]func(context.Context, shop.Identity) error{"AccountCheck": local, "ServiceAccountCheck": viaService} {
		t.Run(name, func(t *testing.T) {
			if err := check(ctx, shop.Identity{UserID: ada.ID, Role: shop.RoleCustomer}); err != nil {
				t.Fatalf("existing customer: %v", err)
			}
			if err := check(ctx, shop.Identity{UserID: admin.ID, Role: shop.RoleAdmin}); err != nil {
				t.Fatalf("existing admin: %v", err)
			}
			wantErr(t, check(ctx, shop.Identity{UserID: "no-such-id", Role: shop.RoleCustomer}), shop.ErrUnauthenticated, "invalid_token")
			wantErr(t, check(ctx, shop.Identity{UserID: ada.ID, Role: shop.RoleAdmin}), shop.ErrUnauthenticated, "invalid_token")
			if _, err := s.DisableUser(as(admin.ID, shop.RoleAdmin), ada.ID); err != nil {
				t.Fatal(err)
			}
			wantErr(t, check(ctx, shop.Identity{UserID: ada.ID, Role: shop.RoleCustomer}), shop.ErrUnauthenticated, "account_disabled")
			if _, err := s.EnableUser(as(admin.ID, shop.RoleAdmin), ada.ID); err != nil {
				t.Fatal(err)
			}
		})
	}
	// A database failure is not an answer about the account.
	st.Close()
	if err := local(ctx, shop.Identity{UserID: ada.ID, Role: shop.RoleCustomer}); err == nil || errors.Is(err, shop.ErrUnauthenticated) {
		t.Fatalf("closed store: %v, want an error that is not ErrUnauthenticated", err)
	}
}
