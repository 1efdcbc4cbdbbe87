package order

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/outbox"
	"github.com/kitshop/shop/internal/sqlitedb"
)

// Store keeps orders, their history, the idempotency keys that stand for
// them and the events announcing their changes. It is what the order desk
// needs of a database, in domain terms only, so that a store of your own (on
// Postgres, in memory) can be written outside this package; SQLiteStore is
// the one the shop uses. ordertest.Run checks a service on any store.
//
// Every method may be called concurrently. An error without a kind is a
// failure of the store itself; the service answers it as a 500 (or, in the
// background work, tries again later).
//
// Events: Create records the order's shop.EventOrderCreated event (source
// EventSource, subject the order ID, data shop.OrderEventData with Status
// "pending", the Total and the Lines) atomically with the order, and
// Transition records the order's event (EventFor) atomically with the
// change, so each event exists if and only if its change does. Getting
// the recorded events to inventory (inventory.EventHandlers behind a
// shop.Subscriber) and any other subscriber is the store's side of the
// bargain too, at least once and in the order they were recorded:
// SQLiteStore keeps them in an outbox table that its RunOutbox relays to a
// shop.Publisher. A store of your own does the same its own way, for
// example with an outbox table of its own and a relay (or a
// change-data-capture feed) publishing each event until the publisher
// accepts it. Consumers apply events idempotently, so
// delivering one twice is harmless; losing one is not.
type Store interface {
	// Create stores a new order (pending, with its first history entry)
	// under o.ID, with its order.created event (see Events above). Storing
	// an ID that exists already is an error, and nothing is stored.
	Create(ctx context.Context, o Order) error
	// Get returns the order with its whole history, oldest entry first. An
	// unknown ID is an error for which errors.Is(err, shop.ErrNotFound).
	Get(ctx context.Context, id string) (Order, error)
	// List returns at most limit orders (with their histories) by
	// descending ID, which is newest first because IDs are ULIDs
	// (shop.NewID): only those of userID ("" for everyone's), and only
	// those whose ID sorts before before ("" to start at the newest).
	List(ctx context.Context, userID, before string, limit int) ([]Order, error)
	// Transition moves an order one step, atomically: it reads the order,
	// calls st.Apply on it, and stores what Apply returned (the new
	// Status, PaymentID, RefundID, PaymentAttempts and the history entry
	// Apply appended) together with the event EventFor returns for it, if
	// any, all in one transaction. Transitions of one order are serialized:
	// each reads what the one before it stored. It returns the order after
	// the step. When Apply refuses the step, its error is returned as it is
	// and nothing changes; an unknown ID is an error for which
	// errors.Is(err, shop.ErrNotFound).
	Transition(ctx context.Context, id string, st Step) (Order, error)
	// Note appends a history entry that leaves the order's status as it is
	// (From and To both the current status), for something worth keeping
	// on record, such as a late charge that was refunded. An unknown ID is
	// ErrNotFound.
	Note(ctx context.Context, id, by string, at time.Time, reason string) error
	// Paying returns the IDs of the orders whose status is paying, which
	// Recover settles.
	Paying(ctx context.Context) ([]string, error)
	// Overdue returns the IDs of at most limit pending orders whose
	// ExpiresAt is not after now, earliest expiry first.
	Overdue(ctx context.Context, now time.Time, limit int) ([]string, error)

	// ClaimKey records that a customer's idempotency key stands for
	// c.OrderID, before that order is stored (or even has its stock). It
	// reports false, changing nothing, when the key (c.UserID, c.Key) is
	// claimed already, by any order.
	ClaimKey(ctx context.Context, c Claim) (claimed bool, err error)
	// KeyClaim returns the claim of a customer's key, and whether there is
	// one.
	KeyClaim(ctx context.Context, userID, key string) (Claim, bool, error)
	// DropClaim frees the key (c.UserID, c.Key) if it still stands for
	// c.OrderID and that order was never stored; otherwise it does nothing.
	// The check and the removal are atomic with respect to Create: a key
	// whose order is stored is never freed.
	DropClaim(ctx context.Context, c Claim) error
	// UnusedClaims returns the claims whose order is not stored, which
	// Recover frees once no live request is placing their order.
	UnusedClaims(ctx context.Context) ([]Claim, error)
}

// Step is one transition of an order, as the service asks a Store for it
// (Store.Transition). Apply does the work: a store only reads and writes.
type Step struct {
	// To is the status the order becomes.
	To Status
	// By is who made the change: a user ID, or "system".
	By string
	// At is when the change happened.
	At time.Time
	// Reason, when set, says why (such as "card_declined").
	Reason string
	// PaymentID and RefundID, when set, are recorded on the order.
	PaymentID, RefundID string
	// NewAttempt starts a new payment attempt: PaymentAttempts goes up by
	// one, and with it the idempotency key of the charge.
	NewAttempt bool
	// Check, if set, may refuse the step after the state machine allowed
	// it; it sees the order as the store read it inside the transaction.
	Check func(Order) error
}

// Apply returns o after the step: its Status becomes st.To, PaymentID and
// RefundID are set when the step has them, PaymentAttempts goes up for a
// new attempt, and the step's StatusChange is appended to History (o's own
// History slice is not changed). It refuses a step the state machine does
// not allow from o.Status (ErrConflict CodeInvalidTransition, or
// CodePaymentInProgress for an order being paid) and one st.Check refuses
// (with Check's error).
func (st Step) Apply(o Order) (Order, error) {
	if !o.Status.CanBecome(st.To) {
		return Order{}, transitionError(o.Status, st.To)
	}
	if st.Check != nil {
		if err := st.Check(o); err != nil {
			return Order{}, err
		}
	}
	change := StatusChange{From: o.Status, To: st.To, By: st.By, At: st.At, Reason: st.Reason}
	if st.PaymentID != "" {
		o.PaymentID = st.PaymentID
	}
	if st.RefundID != "" {
		o.RefundID = st.RefundID
	}
	if st.NewAttempt {
		o.PaymentAttempts++
	}
	o.Status = st.To
	o.History = append(slices.Clip(o.History), change)
	return o, nil
}

// Claim is an idempotency key and the order it stands for, which may not be
// stored yet: PlaceOrder claims the key before it reserves stock.
type Claim struct {
	// UserID and Key name the key: keys belong to one customer.
	UserID, Key string
	// RequestHash fingerprints the request's items, so that the same key
	// with other items is told apart.
	RequestHash string
	// OrderID is the ID the order gets (or got).
	OrderID string
	// ClaimedAt is when the key was claimed.
	ClaimedAt time.Time
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// SQLiteStore is the Store on a SQLite database. Its outbox table holds the
// order events until RunOutbox has published them.
type SQLiteStore struct {
	db    *sqlitedb.DB
	relay outbox.Relays
}

var _ Store = (*SQLiteStore)(nil)

// OpenSQLiteStore opens the SQLite file at path the shop's way (WAL, busy
// timeout, foreign keys, one writer connection with group commit), creating
// it and applying the migrations it lacks. Close it when done.
func OpenSQLiteStore(ctx context.Context, path string) (*SQLiteStore, error) {
	db, err := sqlitedb.OpenDir(ctx, path, migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return &SQLiteStore{db: db}, nil
}

// NewSQLiteStore returns a store on a database the caller opened and
// configured (foreign keys on, and a busy timeout, are advised) and
// migrated with Migrate. It serves reads and writes from db and queues its
// write transactions so they never fight over the write lock. Statements
// are prepared lazily, on first use, so NewSQLiteStore cannot fail; a
// database that was not migrated shows in the first call's error. Close
// stops the store and leaves db open: closing it stays the caller's job,
// after the store's.
func NewSQLiteStore(db *sql.DB) *SQLiteStore {
	return &SQLiteStore{db: sqlitedb.FromDB(db)}
}

// Migrate applies to db the order migrations it lacks (tables for orders,
// their history, idempotency keys and the outbox), each once, in order.
// Several processes may migrate one database at the same time.
func Migrate(ctx context.Context, db *sql.DB) error {
	return sqlitedb.MigrateDir(ctx, db, migrationFiles, "migrations")
}

// Close closes the database (for a store from NewSQLiteStore, only the
// store's own statements). Stop RunOutbox first.
func (s *SQLiteStore) Close() error { return s.db.Close() }

// Ping checks that the database answers; readiness probes use it.
func (s *SQLiteStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// RunOutbox publishes the store's order events to pub until ctx is done,
// in the order they were recorded, retrying each until pub accepts it, so
// every event arrives at least once. Run exactly one per database. A
// Create or Transition wakes it at once; it also looks every second.
func (s *SQLiteStore) RunOutbox(ctx context.Context, pub shop.Publisher, logger log.Logger) {
	s.relay.Run(ctx, s.db, pub, logger)
}

// PendingEvents returns how many events wait to be published.
func (s *SQLiteStore) PendingEvents(ctx context.Context) (int, error) {
	return outbox.Pending(ctx, s.db)
}

// CountByStatus returns how many orders are in each status. It reads the
// whole orders table, so call it every few seconds at most.
func (s *SQLiteStore) CountByStatus(ctx context.Context) (map[Status]int, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT status, COUNT(*) FROM orders GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("order: count by status: %w", err)
	}
	defer rows.Close()
	out := map[Status]int{}
	for rows.Next() {
		var st Status
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("order: count by status: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

// OutboxBacklog returns how many events wait to be published and when the
// oldest of them happened (the zero time when none wait): what the
// kitshop_outbox_* gauges show.
func (s *SQLiteStore) OutboxBacklog(ctx context.Context) (pending int, oldest time.Time, err error) {
	return outbox.Backlog(ctx, s.db)
}

// Create implements Store: the order, its first history entry and its
// order.created event in one transaction.
func (s *SQLiteStore) Create(ctx context.Context, o Order) error {
	if len(o.History) != 1 {
		return fmt.Errorf("store order %s: a new order has exactly one history entry, got %d", o.ID, len(o.History))
	}
	lines, err := json.Marshal(o.Lines)
	if err != nil {
		return fmt.Errorf("store order %s: encode lines: %w", o.ID, err)
	}
	e, err := createdEvent(o)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders(id, user_id, status, lines, total, currency, created_at, expires_at, payment_id, payment_attempts, refund_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, o.ID, o.UserID, o.Status, lines, o.Total, o.Currency,
			o.CreatedAt.UnixNano(), o.ExpiresAt.UnixNano(), o.PaymentID, o.PaymentAttempts, o.RefundID); err != nil {
			return fmt.Errorf("store order: %w", err)
		}
		if err := addHistory(ctx, tx, o.ID, 1, o.History[0]); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, e)
	})
	if err != nil {
		return err
	}
	s.relay.Notify()
	return nil
}

// createdEvent is the order.created event of o, a new order: the data
// EventFor gives the later events, with the ordered lines.
func createdEvent(o Order) (shop.Event, error) {
	lines := make([]shop.OrderLineData, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = shop.OrderLineData{ProductID: l.ProductID, Quantity: l.Quantity, UnitPrice: l.UnitPrice}
	}
	return shop.NewEvent(EventSource, shop.EventOrderCreated, o.ID, shop.OrderEventData{
		OrderID: o.ID, UserID: o.UserID, Status: string(o.Status),
		Total: shop.Money{Amount: o.Total, Currency: o.Currency}, Lines: lines})
}

// ClaimKey implements Store.
func (s *SQLiteStore) ClaimKey(ctx context.Context, c Claim) (bool, error) {
	claimed := true
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys(user_id, key, request_hash, order_id, claimed_at) VALUES (?, ?, ?, ?, ?)`,
			c.UserID, c.Key, c.RequestHash, c.OrderID, c.ClaimedAt.UnixNano())
		if sqlitedb.IsUniqueViolation(err) {
			claimed = false
			return nil
		}
		if err != nil {
			return fmt.Errorf("claim idempotency key: %w", err)
		}
		return nil
	})
	return claimed && err == nil, err
}

// KeyClaim implements Store.
func (s *SQLiteStore) KeyClaim(ctx context.Context, userID, key string) (Claim, bool, error) {
	c := Claim{UserID: userID, Key: key}
	var at int64
	err := s.db.R.QueryRowContext(ctx, `SELECT request_hash, order_id, claimed_at FROM idempotency_keys WHERE user_id = ? AND key = ?`,
		userID, key).Scan(&c.RequestHash, &c.OrderID, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Claim{}, false, nil
	}
	if err != nil {
		return Claim{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	c.ClaimedAt = time.Unix(0, at).UTC()
	return c, true, nil
}

// DropClaim implements Store.
func (s *SQLiteStore) DropClaim(ctx context.Context, c Claim) error {
	return s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND order_id = ?
			AND NOT EXISTS (SELECT 1 FROM orders WHERE id = ?)`, c.UserID, c.Key, c.OrderID, c.OrderID)
		if err != nil {
			return fmt.Errorf("free idempotency key: %w", err)
		}
		return nil
	})
}

// UnusedClaims implements Store.
func (s *SQLiteStore) UnusedClaims(ctx context.Context) ([]Claim, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT user_id, key, request_hash, order_id, claimed_at FROM idempotency_keys k
		WHERE NOT EXISTS (SELECT 1 FROM orders WHERE id = k.order_id)`)
	if err != nil {
		return nil, fmt.Errorf("find unused idempotency keys: %w", err)
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		var (
			c  Claim
			at int64
		)
		if err := rows.Scan(&c.UserID, &c.Key, &c.RequestHash, &c.OrderID, &at); err != nil {
			return nil, fmt.Errorf("find unused idempotency keys: %w", err)
		}
		c.ClaimedAt = time.Unix(0, at).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

func addHistory(ctx context.Context, tx *sqlitedb.Tx, orderID string, seq int, c StatusChange) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO order_history(order_id, seq, from_status, to_status, actor, at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		orderID, seq, c.From, c.To, c.By, c.At.UnixNano(), c.Reason)
	if err != nil {
		return fmt.Errorf("store order history: %w", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const orderColumns = `id, user_id, status, lines, total, currency, created_at, expires_at, payment_id, payment_attempts, refund_id`

type scanner interface{ Scan(dest ...any) error }

func scanOrder(row scanner) (Order, error) {
	var (
		o                  Order
		lines              []byte
		created, expiresAt int64
	)
	if err := row.Scan(&o.ID, &o.UserID, &o.Status, &lines, &o.Total, &o.Currency, &created, &expiresAt, &o.PaymentID, &o.PaymentAttempts, &o.RefundID); err != nil {
		return o, err
	}
	if err := json.Unmarshal(lines, &o.Lines); err != nil {
		return o, fmt.Errorf("decode lines of order %s: %w", o.ID, err)
	}
	o.CreatedAt = time.Unix(0, created).UTC()
	o.ExpiresAt = time.Unix(0, expiresAt).UTC()
	return o, nil
}

// Get implements Store.
func (s *SQLiteStore) Get(ctx context.Context, id string) (Order, error) {
	return getOrder(ctx, s.db.R, id)
}

func getOrder(ctx context.Context, q querier, id string) (Order, error) {
	o, err := scanOrder(q.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, errOrderNotFound(id)
	}
	if err != nil {
		return Order{}, fmt.Errorf("read order: %w", err)
	}
	orders := []*Order{&o}
	if err := loadHistory(ctx, q, orders); err != nil {
		return Order{}, err
	}
	return o, nil
}

// loadHistory fills in the history of each order with one query.
func loadHistory(ctx context.Context, q querier, orders []*Order) error {
	if len(orders) == 0 {
		return nil
	}
	byID := make(map[string]*Order, len(orders))
	args := make([]any, len(orders))
	for i, o := range orders {
		byID[o.ID] = o
		o.History = []StatusChange{}
		args[i] = o.ID
	}
	rows, err := q.QueryContext(ctx, `SELECT order_id, from_status, to_status, actor, at, reason FROM order_history
		WHERE order_id IN (?`+strings.Repeat(", ?", len(orders)-1)+`) ORDER BY order_id, seq`, args...)
	if err != nil {
		return fmt.Errorf("read order history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			c  StatusChange
			at int64
		)
		if err := rows.Scan(&id, &c.From, &c.To, &c.By, &at, &c.Reason); err != nil {
			return fmt.Errorf("read order history: %w", err)
		}
		c.At = time.Unix(0, at).UTC()
		byID[id].History = append(byID[id].History, c)
	}
	return rows.Err()
}

// List implements Store.
func (s *SQLiteStore) List(ctx context.Context, userID, before string, limit int) ([]Order, error) {
	var (
		where []string
		args  []any
	)
	if userID != "" {
		where, args = append(where, "user_id = ?"), append(args, userID)
	}
	if before != "" {
		where, args = append(where, "id < ?"), append(args, before)
	}
	query := `SELECT ` + orderColumns + ` FROM orders`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.R.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	items := []Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list orders: %w", err)
		}
		items = append(items, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	ptrs := make([]*Order, len(items))
	for i := range items {
		ptrs[i] = &items[i]
	}
	if err := loadHistory(ctx, s.db.R, ptrs); err != nil {
		return nil, err
	}
	return items, nil
}

// Transition implements Store.
func (s *SQLiteStore) Transition(ctx context.Context, id string, st Step) (Order, error) {
	var o Order
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		cur, err := getOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		if o, err = st.Apply(cur); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = ?, payment_id = ?, refund_id = ?, payment_attempts = ? WHERE id = ?`,
			o.Status, o.PaymentID, o.RefundID, o.PaymentAttempts, id); err != nil {
			return fmt.Errorf("update order: %w", err)
		}
		if err := addHistory(ctx, tx, id, len(o.History), o.History[len(o.History)-1]); err != nil {
			return err
		}
		e, ok, err := EventFor(o)
		if err != nil || !ok {
			return err
		}
		return outbox.Add(ctx, tx, e)
	})
	if err != nil {
		return Order{}, err
	}
	s.relay.Notify()
	return o, nil
}

// Note implements Store.
func (s *SQLiteStore) Note(ctx context.Context, id, actor string, at time.Time, reason string) error {
	return s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		o, err := getOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		return addHistory(ctx, tx, id, len(o.History)+1, StatusChange{From: o.Status, To: o.Status, By: actor, At: at, Reason: reason})
	})
}

// Paying implements Store.
func (s *SQLiteStore) Paying(ctx context.Context) ([]string, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id FROM orders WHERE status = 'paying' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find orders being paid: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Overdue implements Store.
func (s *SQLiteStore) Overdue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id FROM orders WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
		now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("find overdue orders: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
