package usertest_test

import (
	"context"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/user"
	"github.com/kitshop/shop/user/usertest"
)

// TestUsers is the example of the package documentation, run as written:
// the suite against the local service on a SQLite file.
func TestUsers(t *testing.T) {
	tokens, err := user.NewTokens([]byte("a signing key of at least 32 bytes"))
	if err != nil {
		t.Fatal(err)
	}
	usertest.Run(t, usertest.Harness{
		New: func(t *testing.T) user.Service {
			ctx := context.Background()
			store, err := user.OpenSQLiteStore(ctx, filepath.Join(t.TempDir(), "user.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			if _, err := user.EnsureAdmin(ctx, store, usertest.AdminEmail, usertest.AdminPassword, bcrypt.MinCost); err != nil {
				t.Fatal(err)
			}
			return user.NewService(store, tokens, user.WithBcryptCost(bcrypt.MinCost))
		},
		As: shop.WithIdentity,
		Bearer: func(ctx context.Context, token string) context.Context {
			id, err := tokens.Verify(ctx, token)
			if err != nil {
				return shop.WithAuthError(ctx, err)
			}
			return shop.WithIdentity(ctx, id)
		},
	})
}
