package catalog_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/kitshop/shop/internal/testkit"

	"github.com/go-kit/log"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/catalog/catalogtest"
	"github.com/kitshop/shop/user"
)

// openStore opens a SQLite store in the test's temporary directory.
func openStore(t *testing.T) *catalog.SQLiteStore {
	t.Helper()
	st, err := catalog.OpenSQLiteStore(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// The local service on a SQLite store.
func TestConformanceLocal(t *testing.T) {
	catalogtest.Run(t, catalogtest.Harness{
		New: func(t *testing.T) catalog.Service { return catalog.NewService(openStore(t)) },
		As:  catalogtest.Local,
	})
}

// The HTTP client against the HTTP handler, with real tokens: each caller's
// token travels in the context (shophttp.WithToken), and the client, made
// with a nil token func, sends it.
func TestConformanceHTTP(t *testing.T) {
	tokens, err := user.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	catalogtest.Run(t, catalogtest.Harness{
		New: func(t *testing.T) catalog.Service {
			svc := catalog.NewService(openStore(t))
			srv := httptest.NewServer(catalog.NewHTTPHandler(catalog.MakeServerEndpoints(svc), tokens, log.NewNopLogger()))
			t.Cleanup(srv.Close)
			client, err := catalog.MakeClientEndpoints(srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			return client
		},
		As: testkit.BearerAs(tokens),
	})
}
