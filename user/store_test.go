package user

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kitshop/shop"
)

func openStore(t *testing.T) (*SQLiteStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "user.db")
	st, err := OpenSQLiteStore(context.Background(), path)
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
	if err := st.Create(ctx, u, []byte("hash")); err != nil {
		t.Fatal(err)
	}
	got, err := st.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(created) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("created_at %v, want %v in UTC (nanoseconds kept)", got.CreatedAt, created)
	}
	got2, hash, err := st.ByEmail(ctx, "ada@example.com")
	if err != nil || got2 != got || string(hash) != "hash" {
		t.Fatalf("byEmail: %+v %q %v", got2, hash, err)
	}

	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v (%v), want 0600: it holds password hashes", info.Mode().Perm(), err)
	}

	// Reopening keeps the data and does not re-run the migration.
	st.Close()
	st2, err := OpenSQLiteStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if _, err := st2.ByID(ctx, u.ID); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
}

func TestStoreErrors(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	_, err := st.ByID(ctx, "missing")
	if shop.CodeOf(err) != "user_not_found" {
		t.Fatalf("missing id: %v", err)
	}
	u := User{ID: shop.NewID(), Email: "ada@example.com", Name: "Ada", Role: shop.RoleCustomer, CreatedAt: time.Now()}
	if err := st.Create(ctx, u, []byte("h")); err != nil {
		t.Fatal(err)
	}
	u.ID = shop.NewID()
	if err := st.Create(ctx, u, []byte("h")); shop.CodeOf(err) != "email_taken" {
		t.Fatalf("duplicate email: %v", err)
	}
	// A clashing ID is not reported as a taken email.
	u.Email = "other@example.com"
	u.ID = "dup"
	st.Create(ctx, u, []byte("h"))
	u.Email = "third@example.com"
	if err := st.Create(ctx, u, []byte("h")); err == nil || shop.KindOf(err) != nil {
		t.Fatalf("duplicate id: %v, want an internal error", err)
	}
	// The schema refuses roles other than customer and admin.
	u = User{ID: shop.NewID(), Email: "svc@example.com", Name: "S", Role: shop.RoleService, CreatedAt: time.Now()}
	if err := st.Create(ctx, u, []byte("h")); err == nil {
		t.Fatal("service role stored")
	}
	if err := st.SetRole(ctx, "missing", shop.RoleAdmin); shop.CodeOf(err) != "user_not_found" {
		t.Fatalf("setRole on missing: %v", err)
	}

	// A failing database is an internal error, never "not found".
	st.Close()
	_, err = st.ByID(ctx, "missing")
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
	_, hash, err := st.ByEmail(context.Background(), u.Email)
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

// Before: a taken email was told by the text of SQLite's message. The
// driver's result codes tell it now: a duplicate email breaks the unique
// index users_email (SQLITE_CONSTRAINT_UNIQUE), a duplicate ID the primary
// key (SQLITE_CONSTRAINT_PRIMARYKEY), and the message plays no part.
func TestEmailTakenUsesResultCodes(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	insert := func(id, email string) error {
		_, err := st.db.W.ExecContext(ctx,
			`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, 'N', 'customer', 'h', '2030-01-01T00:00:00.000000000Z')`,
			id, email)
		return err
	}
	if err := insert("a", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	dupEmail, dupID := insert("b", "a@example.com"), insert("a", "other@example.com")
	var se *sqlite.Error
	if !errors.As(dupEmail, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		t.Fatalf("duplicate email: %v (%T), want a *sqlite.Error with SQLITE_CONSTRAINT_UNIQUE", dupEmail, dupEmail)
	}
	if !errors.As(dupID, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		t.Fatalf("duplicate id: %v (%T), want a *sqlite.Error with SQLITE_CONSTRAINT_PRIMARYKEY", dupID, dupID)
	}
	if !emailTaken(dupEmail) || !emailTaken(fmt.Errorf("insert: %w", dupEmail)) {
		t.Error("a duplicate email is not reported as taken")
	}
	for _, err := range []error{dupID, nil, errors.New("UNIQUE constraint failed: users.email"), context.Canceled} {
		if emailTaken(err) {
			t.Errorf("emailTaken(%v) = true", err)
		}
	}
}

// emailTaken relies on users having one UNIQUE index besides its primary
// key. A migration that adds another must teach emailTaken to tell them
// apart.
func TestUsersHasOneUniqueIndex(t *testing.T) {
	st, _ := openStore(t)
	rows, err := st.db.R.Query(`SELECT name, origin FROM pragma_index_list('users') WHERE "unique" = 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var unique []string
	for rows.Next() {
		var name, origin string
		if err := rows.Scan(&name, &origin); err != nil {
			t.Fatal(err)
		}
		if origin != "pk" {
			unique = append(unique, name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(unique) != 1 || unique[0] != "users_email" {
		t.Fatalf("unique indexes of users besides the primary key: %v, want [users_email] (see emailTaken)", unique)
	}
}

func TestNewSQLiteStoreOnCallersDatabase(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "shared.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 2 { // migrating again changes nothing
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	st := NewSQLiteStore(db)
	u := User{ID: shop.NewID(), Email: "ada@example.com", Name: "Ada", Role: shop.RoleCustomer, CreatedAt: time.Now(), Disabled: true}
	if err := st.Create(ctx, u, []byte("h")); err != nil {
		t.Fatal(err)
	}
	u2 := u
	u2.ID = shop.NewID()
	if err := st.Create(ctx, u2, []byte("h")); shop.CodeOf(err) != CodeEmailTaken {
		t.Fatalf("duplicate email on the caller's database: %v", err)
	}
	got, err := st.ByID(ctx, u.ID)
	if err != nil || !got.Disabled || got.Email != u.Email {
		t.Fatalf("ByID: %+v, %v (Create must store Disabled too)", got, err)
	}
	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("closing the store closed the caller's database: %v", err)
	}
}

// Any Store may return a nil slice for an empty page; the service answers
// {"items":[]} all the same.
func TestListUsersEmptyPageFromAnyStore(t *testing.T) {
	s := NewService(nilListStore{}, nil, WithBcryptCost(bcrypt.MinCost))
	page, err := s.ListUsers(shop.WithIdentity(context.Background(), shop.Identity{UserID: "a", Role: shop.RoleAdmin}), shop.PageRequest{})
	if err != nil || page.Items == nil {
		t.Fatalf("page %+v, %v; want an empty, non-nil list", page, err)
	}
}

type nilListStore struct{ Store }

func (nilListStore) List(context.Context, string, int) ([]User, error) { return nil, nil }
