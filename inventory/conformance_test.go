package inventory_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/kitshop/shop/internal/testkit"

	"github.com/go-kit/log"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/inventory/inventorytest"
	"github.com/kitshop/shop/user"
)

// openStore opens a fresh SQLite store in t's temporary directory.
func openStore(t *testing.T) *inventory.SQLiteStore {
	t.Helper()
	st, err := inventory.OpenSQLiteStore(context.Background(), filepath.Join(t.TempDir(), "inventory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestConformanceLocal runs the suite against the local service on a
// SQLite store, with 200 buyers racing in the oversell case.
func TestConformanceLocal(t *testing.T) {
	inventorytest.Run(t, inventorytest.Harness{
		New: func(t *testing.T) inventory.Service { return inventory.NewService(openStore(t)) },
		As:  inventorytest.Local,
		WithExpirer: func(t *testing.T) (inventory.Service, *inventory.Expirer) {
			st := openStore(t)
			return inventory.NewService(st), inventory.NewExpirer(st)
		},
		Buyers: 200,
	})
}

// TestConformanceOnCallersDatabase runs the suite against the service on a
// SQLiteStore over a database the test opened and migrated itself
// (NewSQLiteStore), and checks that closing the store leaves it open.
func TestConformanceOnCallersDatabase(t *testing.T) {
	open := func(t *testing.T) *inventory.SQLiteStore {
		t.Helper()
		dsn := "file:" + filepath.Join(t.TempDir(), "own.db") + "?" + url.Values{"_pragma": {
			"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)",
		}}.Encode()
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := inventory.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		st := inventory.NewSQLiteStore(db)
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Error(err)
			}
			if err := db.Ping(); err != nil {
				t.Errorf("the caller's database after closing the store: %v", err)
			}
		})
		return st
	}
	inventorytest.Run(t, inventorytest.Harness{
		New: func(t *testing.T) inventory.Service { return inventory.NewService(open(t)) },
		As:  inventorytest.Local,
		WithExpirer: func(t *testing.T) (inventory.Service, *inventory.Expirer) {
			st := open(t)
			return inventory.NewService(st), inventory.NewExpirer(st)
		},
		Buyers: 50,
	})
}

// TestConformanceHTTP runs the suite against the HTTP client, talking to
// the public and internal handlers of a local service on one server, with
// real tokens presented per call and 50 buyers racing in the oversell case.
func TestConformanceHTTP(t *testing.T) {
	tokens, err := user.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	serve := func(t *testing.T, svc inventory.Service) inventory.Service {
		t.Helper()
		e := inventory.MakeServerEndpoints(svc)
		mux := http.NewServeMux()
		mux.Handle("/internal/", inventory.NewInternalHTTPHandler(e, tokens, log.NewNopLogger()))
		mux.Handle("/", inventory.NewHTTPHandler(e, tokens, log.NewNopLogger()))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		// No token source: each call sends the token its context holds.
		client, err := inventory.MakeClientEndpoints(srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		return client
	}
	inventorytest.Run(t, inventorytest.Harness{
		New: func(t *testing.T) inventory.Service { return serve(t, inventory.NewService(openStore(t))) },
		As:  testkit.BearerAs(tokens),
		WithExpirer: func(t *testing.T) (inventory.Service, *inventory.Expirer) {
			st := openStore(t)
			return serve(t, inventory.NewService(st)), inventory.NewExpirer(st)
		},
		Buyers: 50,
	})
}
