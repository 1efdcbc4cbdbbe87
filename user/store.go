package user

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-kit/log"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/outbox"
	"github.com/kitshop/shop/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store keeps accounts with their password hashes: what the service needs,
// in its own terms, so that an account store on Postgres, in memory or
// behind another service can be written outside this package. Only the
// service reads the hashes; nothing it returns carries them.
//
// Errors: an account that does not exist is an error of kind
// shop.ErrNotFound with code CodeUserNotFound, and the conflicts below are
// shop.ErrConflict with the codes named; any other failure (the database is
// down) is an error without a kind, which the service passes on and
// transports answer as an internal error. Emails reach the store trimmed and
// lower-cased; IDs are shop.NewID values, which sort by creation time. The
// methods may be called concurrently. The package usertest checks a store
// through NewService.
//
// Events: Create records a shop.EventUserRegistered event (source
// EventSource, subject the user ID, data shop.UserEventData: never the
// password or its hash) atomically with the account, so the event exists if
// and only if the account does. Getting recorded events to the subscribers,
// at least once and in the order they were recorded, is the store's side of
// the bargain too: SQLiteStore keeps them in an outbox table that its
// RunOutbox relays to a shop.Publisher. A store of your own does the same
// its own way, for example with an outbox table of its own and a relay (or
// a change-data-capture feed) publishing each event until the publisher
// accepts it. Consumers treat a repeated event ID as handled, so delivering
// an event twice is harmless; losing one is not.
type Store interface {
	// Create stores a new account u with its password hash, atomically,
	// with its user.registered event (see Events above): an email already
	// in use, even by a concurrent Create, is ErrConflict CodeEmailTaken and
	// stores nothing. An ID in use is an error that is not of kind
	// ErrConflict (IDs are random, so it means a bug), and stores nothing.
	Create(ctx context.Context, u User, passwordHash []byte) error
	// ByID returns the account with id, or ErrNotFound CodeUserNotFound.
	ByID(ctx context.Context, id string) (User, error)
	// ByEmail returns the account with email and its password hash, or
	// ErrNotFound CodeUserNotFound.
	ByEmail(ctx context.Context, email string) (u User, passwordHash []byte, err error)
	// List returns up to limit accounts whose ID sorts after afterID ("":
	// from the first), in ID order, which is creation order.
	List(ctx context.Context, afterID string, limit int) ([]User, error)
	// SetRole changes the role of the account with id (customer or admin),
	// or returns ErrNotFound CodeUserNotFound.
	SetRole(ctx context.Context, id string, role shop.Role) error
	// SetDisabled disables or enables the account with id and returns it as
	// it is now; setting the value it has changes nothing. An unknown id is
	// ErrNotFound CodeUserNotFound. Disabling the last enabled admin is
	// ErrConflict CodeLastAdmin and changes nothing; the check and the change
	// are atomic, so two admins disabling each other at the same moment
	// cannot leave the shop without one.
	SetDisabled(ctx context.Context, id string, disabled bool) (User, error)
}

// EventSource is the CloudEvents source of the events the account service
// emits.
const EventSource = "user"

// SQLiteStore is the Store on a SQLite database: the users table of
// migrations/*.sql, and its outbox table, which holds the user.registered
// events until RunOutbox has published them. Statements are not prepared
// ahead, so NewSQLiteStore cannot fail.
type SQLiteStore struct {
	db    *sqlitedb.DB
	relay outbox.Relays
}

var _ Store = (*SQLiteStore)(nil)

// OpenSQLiteStore opens (creating if needed) the account database at path the
// shop's way (WAL, busy timeout, foreign keys, one writer connection with
// group commit) and brings its schema up to date. A new database file is
// readable by its owner only (mode 0600), as it holds password hashes.
func OpenSQLiteStore(ctx context.Context, path string) (*SQLiteStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	// SQLite gives its -wal and -shm files the mode of the database file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Base(path), err)
	}
	f.Close()
	db, err := sqlitedb.OpenDir(ctx, path, migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return &SQLiteStore{db: db}, nil
}

// NewSQLiteStore returns the store on db, a database the caller opened with
// the modernc.org/sqlite driver ("sqlite", which this package registers; the
// store reads its error codes) and brought up to date with Migrate. db serves
// both reads and writes; give it a busy timeout (_pragma=busy_timeout(5000)),
// as the outbox relay writes beside the store's own calls. Closing the store
// leaves db open.
func NewSQLiteStore(db *sql.DB) *SQLiteStore {
	return &SQLiteStore{db: sqlitedb.FromDB(db)}
}

// Migrate creates or updates the account tables in db (the accounts and the
// outbox of their events), applying each of the package's migrations once;
// run it before NewSQLiteStore. Several processes may migrate one database
// at the same time.
func Migrate(ctx context.Context, db *sql.DB) error {
	return sqlitedb.MigrateDir(ctx, db, migrationFiles, "migrations")
}

// Close closes the database (for a store from NewSQLiteStore, only what the
// store itself holds). Stop RunOutbox first.
func (s *SQLiteStore) Close() error { return s.db.Close() }

// Ping checks that the database answers; use it as a readiness check.
func (s *SQLiteStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// RunOutbox publishes the store's user events to pub until ctx is done,
// in the order they were recorded, retrying each until pub accepts it, so
// every event arrives at least once. Run exactly one per database. A
// Create wakes it at once; it also looks every second.
func (s *SQLiteStore) RunOutbox(ctx context.Context, pub shop.Publisher, logger log.Logger) {
	s.relay.Run(ctx, s.db, pub, logger)
}

// PendingEvents returns how many events wait to be published.
func (s *SQLiteStore) PendingEvents(ctx context.Context) (int, error) {
	return outbox.Pending(ctx, s.db)
}

// OutboxBacklog returns how many events wait to be published and when the
// oldest of them happened (the zero time when none wait): what the
// kitshop_outbox_* gauges show.
func (s *SQLiteStore) OutboxBacklog(ctx context.Context) (pending int, oldest time.Time, err error) {
	return outbox.Backlog(ctx, s.db)
}

// timeLayout is RFC 3339 in UTC with a fixed nine-digit fraction, so stored
// times also sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

const userColumns = `id, email, name, role, created_at, disabled`

// Create stores a new account and its user.registered event in one
// transaction (see Store.Create).
func (s *SQLiteStore) Create(ctx context.Context, u User, hash []byte) error {
	created := u.CreatedAt.UTC()
	e, err := shop.NewEvent(EventSource, shop.EventUserRegistered, u.ID, shop.UserEventData{
		UserID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, CreatedAt: created})
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO users (id, email, name, role, password_hash, created_at, disabled) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Email, u.Name, string(u.Role), string(hash), created.Format(timeLayout), u.Disabled)
		if emailTaken(err) {
			return shop.E(shop.ErrConflict, CodeEmailTaken, "an account with this email already exists")
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		return outbox.Add(ctx, tx, e)
	})
	if err != nil {
		return err
	}
	s.relay.Notify()
	return nil
}

// ByEmail returns the account with email (already normalized) and its
// password hash, or ErrNotFound CodeUserNotFound.
func (s *SQLiteStore) ByEmail(ctx context.Context, email string) (User, []byte, error) {
	var hash string
	row := s.db.R.QueryRowContext(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE email = ?`, email)
	u, err := scanUser(row, &hash)
	if err != nil {
		return User{}, nil, err
	}
	return u, []byte(hash), nil
}

// ByID returns the account with id, or ErrNotFound CodeUserNotFound.
func (s *SQLiteStore) ByID(ctx context.Context, id string) (User, error) {
	return scanUser(s.db.R.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// List returns up to limit accounts with an ID after after, in ID order
// (which is creation order).
func (s *SQLiteStore) List(ctx context.Context, after string, limit int) ([]User, error) {
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

// SetRole changes an account's role, or returns ErrNotFound CodeUserNotFound.
func (s *SQLiteStore) SetRole(ctx context.Context, id string, role shop.Role) error {
	res, err := s.db.W.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, string(role), id)
	if err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errUserNotFound()
	}
	return nil
}

// SetDisabled disables or enables an account and returns it. Disabling the
// last enabled admin is ErrConflict CodeLastAdmin; the check and the change
// are one statement, so two admins disabling each other at the same moment
// cannot leave the shop without one. An unknown id is ErrNotFound
// CodeUserNotFound.
func (s *SQLiteStore) SetDisabled(ctx context.Context, id string, disabled bool) (User, error) {
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
		if _, err := s.ByID(ctx, id); err != nil {
			return User{}, err
		}
		return User{}, shop.E(shop.ErrConflict, CodeLastAdmin, "this is the last enabled admin account; enable or create another admin first")
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

// emailTaken reports whether err is SQLite refusing a row of users because
// its email is taken. The driver's result code says so without reading the
// message: users has one UNIQUE index besides its primary key, users_email
// (TestUsersHasOneUniqueIndex keeps it so), and SQLite reports a duplicate
// primary key with a code of its own, SQLITE_CONSTRAINT_PRIMARYKEY.
func emailTaken(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}
