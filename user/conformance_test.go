package user_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/kitshop/shop/internal/testkit"

	"github.com/go-kit/log"
	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
	"github.com/kitshop/shop/user/usertest"
)

// conformanceService returns a fresh service on a SQLite file in
// t.TempDir() holding the suite's admin, with the suite's throttle limit.
func conformanceService(t *testing.T, tokens *user.Tokens) user.Service {
	t.Helper()
	ctx := context.Background()
	store, err := user.OpenSQLiteStore(ctx, filepath.Join(t.TempDir(), "user.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := user.EnsureAdmin(ctx, store, usertest.AdminEmail, usertest.AdminPassword, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	return user.NewService(store, tokens, user.WithBcryptCost(bcrypt.MinCost), user.WithLoginThrottle(3, time.Hour))
}

func TestConformanceLocal(t *testing.T) {
	tokens := newTokens(t)
	usertest.Run(t, usertest.Harness{
		New: func(t *testing.T) user.Service { return conformanceService(t, tokens) },
		As:  shop.WithIdentity,
		Bearer: func(ctx context.Context, token string) context.Context {
			id, err := tokens.Verify(ctx, token)
			if err != nil {
				return shop.WithAuthError(ctx, err)
			}
			return shop.WithIdentity(ctx, id)
		},
		MaxLoginFailures: 3,
	})
}

func TestConformanceHTTP(t *testing.T) {
	tokens := newTokens(t)
	usertest.Run(t, usertest.Harness{
		New: func(t *testing.T) user.Service {
			svc := conformanceService(t, tokens)
			srv := httptest.NewServer(user.NewHTTPHandler(user.MakeServerEndpoints(svc), tokens, log.NewNopLogger()))
			t.Cleanup(srv.Close)
			client, err := user.MakeClientEndpoints(srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			return client
		},
		As:               testkit.BearerAs(tokens),
		Bearer:           shophttp.WithToken,
		MaxLoginFailures: 3,
	})
}
