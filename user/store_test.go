package user

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
)

func openStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "user.db")
	st, err := NewStore(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

func TestStoreRoundTrip(t *testing.T) {
	st, path := openStore(t)
	ctx := context.Background()
	created := time.Date(2030, 5, 6, 7, 8, 9, 1, time.FixedZone("X", -7200))
	u := User{ID: shop.NewID(), Email: "ada@example.com", Name: "Ada", Role: shop.RoleCustomer, CreatedAt: created}
	if err := st.insert(ctx, u, []byte("hash")); err != nil {
		t.Fatal(err)
	}
	got, err := st.byID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(created) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("created_at %v, want %v in UTC (nanoseconds kept)", got.CreatedAt, created)
	}
	got2, hash, err := st.byEmail(ctx, "ada@example.com")
	if err != nil || got2 != got || string(hash) != "hash" {
		t.Fatalf("byEmail: %+v %q %v", got2, hash, err)
	}

	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v (%v), want 0600: it holds password hashes", info.Mode().Perm(), err)
	}

	// Reopening keeps the data and does not re-run the migration.
	st.Close()
	st2, err := NewStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if _, err := st2.byID(ctx, u.ID); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
}

func TestStoreErrors(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	_, err := st.byID(ctx, "missing")
	if shop.CodeOf(err) != "user_not_found" {
		t.Fatalf("missing id: %v", err)
	}
	u := User{ID: shop.NewID(), Email: "ada@example.com", Name: "Ada", Role: shop.RoleCustomer, CreatedAt: time.Now()}
	if err := st.insert(ctx, u, []byte("h")); err != nil {
		t.Fatal(err)
	}
	u.ID = shop.NewID()
	if err := st.insert(ctx, u, []byte("h")); shop.CodeOf(err) != "email_taken" {
		t.Fatalf("duplicate email: %v", err)
	}
	// A clashing ID is not reported as a taken email.
	u.Email = "other@example.com"
	u.ID = "dup"
	st.insert(ctx, u, []byte("h"))
	u.Email = "third@example.com"
	if err := st.insert(ctx, u, []byte("h")); err == nil || shop.KindOf(err) != nil {
		t.Fatalf("duplicate id: %v, want an internal error", err)
	}
	// The schema refuses roles other than customer and admin.
	u = User{ID: shop.NewID(), Email: "svc@example.com", Name: "S", Role: shop.RoleService, CreatedAt: time.Now()}
	if err := st.insert(ctx, u, []byte("h")); err == nil {
		t.Fatal("service role stored")
	}
	if err := st.setRole(ctx, "missing", shop.RoleAdmin); shop.CodeOf(err) != "user_not_found" {
		t.Fatalf("setRole on missing: %v", err)
	}

	// A failing database is an internal error, never "not found".
	st.Close()
	_, err = st.byID(ctx, "missing")
	if err == nil || errors.Is(err, shop.ErrNotFound) {
		t.Fatalf("closed store: %v", err)
	}
	if err := st.Ping(ctx); err == nil {
		t.Fatal("ping on a closed store succeeded")
	}
}

func TestRegisterStoresBcryptHash(t *testing.T) {
	st, _ := openStore(t)
	s := NewService(st, nil, WithBcryptCost(5))
	u, err := s.Register(context.Background(), Registration{Email: "ada@example.com", Password: "correct horse", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	_, hash, err := st.byEmail(context.Background(), u.Email)
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost(hash); err != nil || cost != 5 {
		t.Fatalf("hash cost %d, %v; want 5", cost, err)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte("correct horse")) != nil {
		t.Fatal("stored hash does not match the password")
	}
}
