package usertest_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/user"
	"github.com/kitshop/shop/user/usertest"
)

// memStore is a user.Store in memory, written with the user package's
// exported API only, as a store outside the repository would be.
type memStore struct {
	mu    sync.Mutex
	users []memUser // in creation order, which is ID order
}

type memUser struct {
	u    user.User
	hash []byte
}

var _ user.Store = (*memStore)(nil)

func notFound() error { return shop.E(shop.ErrNotFound, user.CodeUserNotFound, "no such user") }

func (m *memStore) find(id string) int {
	return slices.IndexFunc(m.users, func(x memUser) bool { return x.u.ID == id })
}

func (m *memStore) Create(_ context.Context, u user.User, hash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.users {
		switch {
		case x.u.Email == u.Email:
			return shop.E(shop.ErrConflict, user.CodeEmailTaken, "an account with this email already exists")
		case x.u.ID == u.ID:
			return os.ErrExist
		}
	}
	m.users = append(m.users, memUser{u: u, hash: slices.Clone(hash)})
	return nil
}

func (m *memStore) ByID(_ context.Context, id string) (user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := m.find(id); i >= 0 {
		return m.users[i].u, nil
	}
	return user.User{}, notFound()
}

func (m *memStore) ByEmail(_ context.Context, email string) (user.User, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.users {
		if x.u.Email == email {
			return x.u, slices.Clone(x.hash), nil
		}
	}
	return user.User{}, nil, notFound()
}

func (m *memStore) List(_ context.Context, afterID string, limit int) ([]user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []user.User
	for _, x := range m.users {
		if x.u.ID > afterID && len(out) < limit {
			out = append(out, x.u)
		}
	}
	return out, nil
}

func (m *memStore) SetRole(_ context.Context, id string, role shop.Role) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(id)
	if i < 0 {
		return notFound()
	}
	m.users[i].u.Role = role
	return nil
}

func (m *memStore) SetDisabled(_ context.Context, id string, disabled bool) (user.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(id)
	if i < 0 {
		return user.User{}, notFound()
	}
	u := &m.users[i].u
	if disabled && !u.Disabled && u.Role == shop.RoleAdmin {
		enabledAdmins := 0
		for _, x := range m.users {
			if x.u.Role == shop.RoleAdmin && !x.u.Disabled {
				enabledAdmins++
			}
		}
		if enabledAdmins <= 1 {
			return user.User{}, shop.E(shop.ErrConflict, user.CodeLastAdmin, "this is the last enabled admin account")
		}
	}
	u.Disabled = disabled
	return *u, nil
}

// harness runs the suite on the local service over a fresh memStore, with
// the service wrapped by wrap (nil: as it is).
func harness(t *testing.T, wrap func(user.Service) user.Service) usertest.Harness {
	tokens, err := user.NewTokens([]byte("a signing key of at least 32 bytes"))
	if err != nil {
		t.Fatal(err)
	}
	return usertest.Harness{
		New: func(t *testing.T) user.Service {
			store := &memStore{}
			if _, err := user.EnsureAdmin(context.Background(), store, usertest.AdminEmail, usertest.AdminPassword, bcrypt.MinCost); err != nil {
				t.Fatal(err)
			}
			svc := user.NewService(store, tokens, user.WithBcryptCost(bcrypt.MinCost))
			if wrap != nil {
				svc = wrap(svc)
			}
			return svc
		},
		As: shop.WithIdentity,
		Bearer: func(ctx context.Context, token string) context.Context {
			id, err := tokens.Verify(ctx, token)
			if err != nil {
				return shop.WithAuthError(ctx, err)
			}
			return shop.WithIdentity(ctx, id)
		},
	}
}

// The suite passes on a store written outside the user package.
func TestRunOnMemoryStore(t *testing.T) {
	usertest.Run(t, harness(t, nil))
}

// broken is a service that gets one thing wrong.
type broken struct {
	user.Service
	mode string
}

func (b broken) Register(ctx context.Context, r user.Registration) (user.User, error) {
	u, err := b.Service.Register(ctx, r)
	if b.mode == "email_taken_code" && shop.CodeOf(err) == user.CodeEmailTaken {
		err = shop.E(shop.ErrConflict, "duplicate", "duplicate")
	}
	return u, err
}

func (b broken) Login(ctx context.Context, email, password string) (user.Session, error) {
	s, err := b.Service.Login(ctx, email, password)
	if b.mode == "no_throttle" && shop.CodeOf(err) == user.CodeTooManyAttempts {
		err = shop.E(shop.ErrUnauthenticated, user.CodeInvalidCredentials, "the email or password is wrong")
	}
	return s, err
}

func (b broken) ListUsers(ctx context.Context, p shop.PageRequest) (shop.Page[user.User], error) {
	if b.mode == "customers_list" {
		ctx = shop.WithIdentity(ctx, shop.Identity{UserID: "x", Role: shop.RoleAdmin})
	}
	return b.Service.ListUsers(ctx, p)
}

func (b broken) EnableUser(ctx context.Context, id string) (user.User, error) {
	if b.mode == "enable_noop" {
		return b.Service.GetUser(ctx, id)
	}
	return b.Service.EnableUser(ctx, id)
}

// TestBrokenService runs the suite on a broken service; it runs only inside
// TestSuiteCatchesBrokenServices, which expects it to fail.
func TestBrokenService(t *testing.T) {
	mode := os.Getenv("USERTEST_BROKEN")
	if mode == "" {
		t.Skip("run by TestSuiteCatchesBrokenServices")
	}
	usertest.Run(t, harness(t, func(s user.Service) user.Service { return broken{Service: s, mode: mode} }))
}

// The suite fails, in the subtest that checks it, for services that get
// one thing wrong.
func TestSuiteCatchesBrokenServices(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	for mode, subtest := range map[string]string{
		"email_taken_code": "RegisterEmailTaken",
		"no_throttle":      "LoginThrottle",
		"customers_list":   "Roles",
		"enable_noop":      "DisableAndEnable",
	} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenService$", "-test.v")
			cmd.Env = append(os.Environ(), "USERTEST_BROKEN="+mode)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a service broken by %s:\n%s", mode, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestBrokenService/"+subtest+" ") {
				t.Fatalf("the suite did not fail in %s for %s:\n%s", subtest, mode, out)
			}
		})
	}
}
