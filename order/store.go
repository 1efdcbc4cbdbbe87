package order

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/outbox"
	"github.com/kitshop/shop/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// eventSource is the CloudEvents source of the events this service emits.
const eventSource = "kitshop/order"

// errKeyTaken: another request claimed the idempotency key first.
var errKeyTaken = errors.New("idempotency key claimed meanwhile")

// Store keeps orders, their history, idempotency keys and the outbox of
// order events in the order service's own SQLite database.
type Store struct {
	db    *sqlitedb.DB
	relay atomic.Pointer[outbox.Relay]
}

// NewStore opens (creating and migrating if needed) the database at path.
func NewStore(ctx context.Context, path string) (*Store, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(ctx, path, migrations)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// RunOutbox publishes the store's order events to pub until ctx is done,
// retrying each until pub accepts it. Run exactly one per database.
func (s *Store) RunOutbox(ctx context.Context, pub shop.Publisher, logger log.Logger) {
	r := outbox.NewRelay(s.db, pub, logger)
	s.relay.Store(r)
	r.Run(ctx)
}

// notify wakes the relay, if one runs, after events were committed.
func (s *Store) notify() {
	if r := s.relay.Load(); r != nil {
		r.Notify()
	}
}

// PendingEvents returns how many events wait to be published.
func (s *Store) PendingEvents(ctx context.Context) (int, error) { return outbox.Pending(ctx, s.db) }

func (s *Store) create(ctx context.Context, o Order) error {
	lines, err := json.Marshal(o.Lines)
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders(id, user_id, status, lines, total, currency, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, o.ID, o.UserID, o.Status, lines, o.Total, o.Currency,
			o.CreatedAt.UnixNano(), o.ExpiresAt.UnixNano()); err != nil {
			return fmt.Errorf("store order: %w", err)
		}
		return addHistory(ctx, tx, o.ID, 1, o.History[0])
	})
}

// claim is an idempotency key and the order it stands for, which may not be
// stored yet.
type claim struct {
	userID, key, hash, orderID string
}

// claimKey records that the caller's key stands for orderID, before the
// order exists. A key claimed already is errKeyTaken.
func (s *Store) claimKey(ctx context.Context, userID, key, hash, orderID string, at time.Time) error {
	return s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys(user_id, key, request_hash, order_id, claimed_at) VALUES (?, ?, ?, ?, ?)`,
			userID, key, hash, orderID, at.UnixNano())
		if sqlitedb.IsUniqueViolation(err) {
			return errKeyTaken
		}
		if err != nil {
			return fmt.Errorf("claim idempotency key: %w", err)
		}
		return nil
	})
}

// keyClaim returns the claim of the caller's key, if any.
func (s *Store) keyClaim(ctx context.Context, userID, key string) (claim, bool, error) {
	c := claim{userID: userID, key: key}
	err := s.db.R.QueryRowContext(ctx, `SELECT request_hash, order_id FROM idempotency_keys WHERE user_id = ? AND key = ?`,
		userID, key).Scan(&c.hash, &c.orderID)
	if errors.Is(err, sql.ErrNoRows) {
		return claim{}, false, nil
	}
	if err != nil {
		return claim{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	return c, true, nil
}

// dropClaim frees the caller's key if it still stands for orderID and that
// order was never stored.
func (s *Store) dropClaim(ctx context.Context, userID, key, orderID string) error {
	return s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND order_id = ?
			AND NOT EXISTS (SELECT 1 FROM orders WHERE id = ?)`, userID, key, orderID, orderID)
		if err != nil {
			return fmt.Errorf("free idempotency key: %w", err)
		}
		return nil
	})
}

// unusedClaims returns the claims whose order was never stored.
func (s *Store) unusedClaims(ctx context.Context) ([]claim, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT user_id, key, request_hash, order_id FROM idempotency_keys k
		WHERE NOT EXISTS (SELECT 1 FROM orders WHERE id = k.order_id)`)
	if err != nil {
		return nil, fmt.Errorf("find unused idempotency keys: %w", err)
	}
	defer rows.Close()
	var out []claim
	for rows.Next() {
		var c claim
		if err := rows.Scan(&c.userID, &c.key, &c.hash, &c.orderID); err != nil {
			return nil, fmt.Errorf("find unused idempotency keys: %w", err)
		}
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
	if err := row.Scan(&o.ID, &o.UserID, &o.Status, &lines, &o.Total, &o.Currency, &created, &expiresAt, &o.PaymentID, &o.paymentAttempts, &o.RefundID); err != nil {
		return o, err
	}
	if err := json.Unmarshal(lines, &o.Lines); err != nil {
		return o, fmt.Errorf("decode lines of order %s: %w", o.ID, err)
	}
	o.CreatedAt = time.Unix(0, created).UTC()
	o.ExpiresAt = time.Unix(0, expiresAt).UTC()
	return o, nil
}

func (s *Store) get(ctx context.Context, id string) (Order, error) {
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

// list returns a page of orders, newest first, of one owner ("" for all),
// starting after the order ID before ("" for the first page).
func (s *Store) list(ctx context.Context, owner, before string, limit int) (shop.Page[Order], error) {
	var (
		where []string
		args  []any
	)
	if owner != "" {
		where, args = append(where, "user_id = ?"), append(args, owner)
	}
	if before != "" {
		where, args = append(where, "id < ?"), append(args, before)
	}
	query := `SELECT ` + orderColumns + ` FROM orders`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.db.R.QueryContext(ctx, query, args...)
	if err != nil {
		return shop.Page[Order]{}, fmt.Errorf("list orders: %w", err)
	}
	items := []Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return shop.Page[Order]{}, fmt.Errorf("list orders: %w", err)
		}
		items = append(items, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return shop.Page[Order]{}, fmt.Errorf("list orders: %w", err)
	}
	page := shop.Page[Order]{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.NextCursor = shop.EncodeCursor(items[limit-1].ID)
	}
	ptrs := make([]*Order, len(page.Items))
	for i := range page.Items {
		ptrs[i] = &page.Items[i]
	}
	if err := loadHistory(ctx, s.db.R, ptrs); err != nil {
		return shop.Page[Order]{}, err
	}
	return page, nil
}

// eventTypes maps a status an order moves to onto the event announcing it.
// Steps into and out of paying announce nothing.
var eventTypes = map[Status]string{
	StatusPaid:      shop.EventOrderPaid,
	StatusCancelled: shop.EventOrderCancelled,
	StatusExpired:   shop.EventOrderExpired,
	StatusRefunded:  shop.EventOrderRefunded,
}

// step is one transition of an order, as the store records it.
type step struct {
	to     Status
	by     string
	at     time.Time
	reason string
	// paymentID and refundID, when set, are recorded on the order.
	paymentID, refundID string
	// newAttempt starts a new payment attempt (a new idempotency key).
	newAttempt bool
	// check, if set, may refuse the step after the order was read inside
	// the transaction.
	check func(Order) error
}

// transition moves an order to st.to, if the state machine allows it from
// the status it has now, and records the history entry and the event in the
// same transaction. A refused transition is ErrConflict naming both states.
func (s *Store) transition(ctx context.Context, id string, st step) (Order, error) {
	var o Order
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		var err error
		if o, err = getOrder(ctx, tx, id); err != nil {
			return err
		}
		if !o.Status.CanBecome(st.to) {
			return transitionError(o.Status, st.to)
		}
		if st.check != nil {
			if err := st.check(o); err != nil {
				return err
			}
		}
		change := StatusChange{From: o.Status, To: st.to, By: st.by, At: st.at, Reason: st.reason}
		if st.paymentID != "" {
			o.PaymentID = st.paymentID
		}
		if st.refundID != "" {
			o.RefundID = st.refundID
		}
		if st.newAttempt {
			o.paymentAttempts++
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = ?, payment_id = ?, refund_id = ?, payment_attempts = ? WHERE id = ?`,
			st.to, o.PaymentID, o.RefundID, o.paymentAttempts, id); err != nil {
			return fmt.Errorf("update order: %w", err)
		}
		if err := addHistory(ctx, tx, id, len(o.History)+1, change); err != nil {
			return err
		}
		o.Status, o.History = st.to, append(o.History, change)
		if typ, ok := eventTypes[st.to]; ok {
			e, err := shop.NewEvent(eventSource, typ, o.ID, shop.OrderEventData{
				OrderID: o.ID, UserID: o.UserID, Status: string(st.to), Total: shop.Money{Amount: o.Total, Currency: o.Currency}})
			if err != nil {
				return err
			}
			if err := outbox.Add(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Order{}, err
	}
	s.notify()
	return o, nil
}

// note adds a history entry that leaves the order's status as it is, for
// something worth keeping on record (such as a refunded late charge).
func (s *Store) note(ctx context.Context, id, actor string, at time.Time, reason string) error {
	return s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		o, err := getOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		return addHistory(ctx, tx, id, len(o.History)+1, StatusChange{From: o.Status, To: o.Status, By: actor, At: at, Reason: reason})
	})
}

// paying returns the IDs of the orders being paid.
func (s *Store) paying(ctx context.Context) ([]string, error) {
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

// overdue returns the IDs of pending orders whose expiry is not after now.
func (s *Store) overdue(ctx context.Context, now time.Time, limit int) ([]string, error) {
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
