package user

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store keeps accounts, with their password hashes, in a SQLite file. Only
// the service reads the hashes; nothing it returns carries them.
type Store struct {
	db *sqlitedb.DB
}

// NewStore opens (creating if needed) the account database at path and
// brings its schema up to date. A new database file is readable by its owner
// only (mode 0600), as it holds password hashes.
func NewStore(ctx context.Context, path string) (*Store, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	// SQLite gives its -wal and -shm files the mode of the database file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Base(path), err)
	}
	f.Close()
	db, err := sqlitedb.Open(ctx, path, migrations)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers; use it as a readiness check.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// timeLayout is RFC 3339 in UTC with a fixed nine-digit fraction, so stored
// times also sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

const userColumns = `id, email, name, role, created_at, disabled`

// insert stores a new account. An email already in use is ErrConflict
// "email_taken".
func (s *Store) insert(ctx context.Context, u User, hash []byte) error {
	_, err := s.db.W.ExecContext(ctx,
		`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, string(u.Role), string(hash), u.CreatedAt.UTC().Format(timeLayout))
	if sqlitedb.IsUniqueViolation(err) && strings.Contains(err.Error(), "users.email") {
		return shop.E(shop.ErrConflict, "email_taken", "an account with this email already exists")
	}
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// byEmail returns the account with email (already normalized) and its
// password hash, or ErrNotFound "user_not_found".
func (s *Store) byEmail(ctx context.Context, email string) (User, []byte, error) {
	var hash string
	row := s.db.R.QueryRowContext(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE email = ?`, email)
	u, err := scanUser(row, &hash)
	if err != nil {
		return User{}, nil, err
	}
	return u, []byte(hash), nil
}

// byID returns the account with id, or ErrNotFound "user_not_found".
func (s *Store) byID(ctx context.Context, id string) (User, error) {
	return scanUser(s.db.R.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// list returns up to limit accounts with an ID after after, in ID order
// (which is creation order).
func (s *Store) list(ctx context.Context, after string, limit int) ([]User, error) {
	rows, err := s.db.R.QueryContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	users := make([]User, 0, min(limit, 64))
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// setRole changes an account's role.
func (s *Store) setRole(ctx context.Context, id string, role shop.Role) error {
	res, err := s.db.W.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, string(role), id)
	if err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errUserNotFound()
	}
	return nil
}

// setDisabled disables or enables an account and returns it. Disabling the
// last enabled admin is ErrConflict "last_admin"; the check and the change
// are one statement, so two admins disabling each other at the same moment
// cannot leave the shop without one. An unknown id is ErrNotFound
// "user_not_found".
func (s *Store) setDisabled(ctx context.Context, id string, disabled bool) (User, error) {
	query := `UPDATE users SET disabled = 0 WHERE id = ? RETURNING ` + userColumns
	if disabled {
		query = `UPDATE users SET disabled = 1 WHERE id = ?
			AND NOT (role = 'admin' AND disabled = 0
				AND (SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0) <= 1)
			RETURNING ` + userColumns
	}
	u, err := scanUser(s.db.W.QueryRowContext(ctx, query, id))
	if disabled && errors.Is(err, shop.ErrNotFound) {
		// Either no such account or the last admin: tell which.
		if _, err := s.byID(ctx, id); err != nil {
			return User{}, err
		}
		return User{}, shop.E(shop.ErrConflict, "last_admin", "this is the last enabled admin account; enable or create another admin first")
	}
	if err != nil {
		return User{}, err
	}
	return u, nil
}

type scanner interface {
	Scan(dest ...any) error
}

// scanUser reads the userColumns, then extra, from one row.
func scanUser(sc scanner, extra ...any) (User, error) {
	var u User
	var role, created string
	err := sc.Scan(append([]any{&u.ID, &u.Email, &u.Name, &role, &created, &u.Disabled}, extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, errUserNotFound()
	}
	if err != nil {
		return User{}, fmt.Errorf("read user: %w", err)
	}
	u.Role = shop.Role(role)
	t, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		return User{}, fmt.Errorf("read user %s: created_at: %w", u.ID, err)
	}
	u.CreatedAt = t.UTC()
	return u, nil
}
