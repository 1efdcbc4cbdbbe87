package inventory

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store keeps stock and reservations in a SQLite database. Every change of a
// reservation and the stock it holds happens in one write transaction, and
// CHECK constraints refuse any row with reserved < 0 or on_hand < reserved,
// so no sequence of calls can oversell. Use it through NewService and
// NewExpirer.
type Store struct {
	db *sqlitedb.DB
}

// NewStore opens (creating if needed) the inventory database at path and
// brings its schema up to date.
func NewStore(ctx context.Context, path string) (*Store, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(ctx, path, migrations)
	if err != nil {
		return nil, fmt.Errorf("inventory store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// timeLayout is RFC 3339 in UTC with all nine fractional digits, so that
// stored times compare correctly as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// querier is what reads need of a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func newStock(productID string, onHand, reserved int64) Stock {
	return Stock{ProductID: productID, OnHand: onHand, Reserved: reserved, Available: max(0, onHand-reserved)}
}

func stockNotFound(productID string) error {
	return shop.E(shop.ErrNotFound, CodeStockNotFound, "no stock is recorded for product %s", productID)
}

func reservationNotFound(orderID string) error {
	return shop.E(shop.ErrNotFound, CodeReservationNotFound, "no reservation exists for order %s", orderID)
}

// readStock returns a product's stock, or ok false when it has no row.
func readStock(ctx context.Context, q querier, productID string) (st Stock, ok bool, err error) {
	var onHand, reserved int64
	err = q.QueryRowContext(ctx, `SELECT on_hand, reserved FROM stock WHERE product_id = ?`, productID).Scan(&onHand, &reserved)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Stock{}, false, nil
	case err != nil:
		return Stock{}, false, fmt.Errorf("read stock of %s: %w", productID, err)
	}
	return newStock(productID, onHand, reserved), true, nil
}

func (s *Store) stock(ctx context.Context, productID string) (Stock, error) {
	st, ok, err := readStock(ctx, s.db.R, productID)
	if err != nil {
		return Stock{}, err
	}
	if !ok {
		return Stock{}, stockNotFound(productID)
	}
	return st, nil
}

func (s *Store) addStock(ctx context.Context, productID string, quantity int64, now time.Time) (Stock, error) {
	var onHand, reserved int64
	err := s.db.W.QueryRowContext(ctx, `
		INSERT INTO stock (product_id, on_hand, reserved, updated_at) VALUES (?, ?, 0, ?)
		ON CONFLICT (product_id) DO UPDATE SET on_hand = on_hand + excluded.on_hand, updated_at = excluded.updated_at
		RETURNING on_hand, reserved`, productID, quantity, formatTime(now)).Scan(&onHand, &reserved)
	if err != nil {
		return Stock{}, fmt.Errorf("add stock of %s: %w", productID, err)
	}
	return newStock(productID, onHand, reserved), nil
}

func (s *Store) removeStock(ctx context.Context, productID string, quantity int64, now time.Time) (Stock, error) {
	var st Stock
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		var onHand, reserved int64
		err := tx.QueryRowContext(ctx, `
			UPDATE stock SET on_hand = on_hand - ?1, updated_at = ?2
			WHERE product_id = ?3 AND on_hand - reserved >= ?1
			RETURNING on_hand, reserved`, quantity, formatTime(now), productID).Scan(&onHand, &reserved)
		if err == nil {
			st = newStock(productID, onHand, reserved)
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("remove stock of %s: %w", productID, err)
		}
		cur, ok, err := readStock(ctx, tx, productID)
		switch {
		case err != nil:
			return err
		case !ok:
			return stockNotFound(productID)
		}
		return shop.E(shop.ErrConflict, CodeInsufficientStock,
			"cannot remove %d units of product %s: only %d are available (%d on hand, %d reserved)",
			quantity, productID, cur.Available, cur.OnHand, cur.Reserved)
	})
	return st, err
}

// loadReservation reads a reservation with its lines, or ok false when the
// order has none.
func loadReservation(ctx context.Context, q querier, orderID string) (r Reservation, ok bool, err error) {
	var status, created, expires string
	err = q.QueryRowContext(ctx, `SELECT status, created_at, expires_at FROM reservations WHERE order_id = ?`, orderID).
		Scan(&status, &created, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Reservation{}, false, nil
	case err != nil:
		return Reservation{}, false, fmt.Errorf("read reservation %s: %w", orderID, err)
	}
	r = Reservation{OrderID: orderID, Status: ReservationStatus(status)}
	if r.CreatedAt, err = parseTime(created); err != nil {
		return Reservation{}, false, err
	}
	if r.ExpiresAt, err = parseTime(expires); err != nil {
		return Reservation{}, false, err
	}
	if r.Lines, err = loadLines(ctx, q, orderID); err != nil {
		return Reservation{}, false, err
	}
	return r, true, nil
}

func loadLines(ctx context.Context, q querier, orderID string) ([]Line, error) {
	rows, err := q.QueryContext(ctx, `SELECT product_id, quantity FROM reservation_lines WHERE order_id = ? ORDER BY line_no`, orderID)
	if err != nil {
		return nil, fmt.Errorf("read lines of reservation %s: %w", orderID, err)
	}
	defer rows.Close()
	var lines []Line
	for rows.Next() {
		var l Line
		if err := rows.Scan(&l.ProductID, &l.Quantity); err != nil {
			return nil, fmt.Errorf("read lines of reservation %s: %w", orderID, err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lines of reservation %s: %w", orderID, err)
	}
	return lines, nil
}

// reserve holds lines (merged: no product twice) for orderID, or returns the
// reservation the order already has. created tells which happened.
func (s *Store) reserve(ctx context.Context, orderID string, lines []Line, now, expiresAt time.Time) (r Reservation, created bool, err error) {
	err = s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		existing, ok, err := loadReservation(ctx, tx, orderID)
		if err != nil {
			return err
		}
		if ok {
			if !sameLines(existing.Lines, lines) {
				return shop.E(shop.ErrConflict, CodeReservationMismatch,
					"order %s already holds a reservation with other lines", orderID)
			}
			r = existing
			return nil
		}
		if !expiresAt.After(now) {
			return shop.E(shop.ErrInvalid, CodeInvalidExpiresAt, "expires_at must be in the future")
		}
		ts := formatTime(now)
		for _, l := range lines {
			res, err := tx.ExecContext(ctx, `
				UPDATE stock SET reserved = reserved + ?1, updated_at = ?2
				WHERE product_id = ?3 AND on_hand - reserved >= ?1`, l.Quantity, ts, l.ProductID)
			if err != nil {
				return fmt.Errorf("reserve %s: %w", l.ProductID, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("reserve %s: %w", l.ProductID, err)
			} else if n == 0 {
				cur, _, err := readStock(ctx, tx, l.ProductID)
				if err != nil {
					return err
				}
				return shop.E(shop.ErrConflict, CodeInsufficientStock,
					"not enough stock of product %s: %d requested, %d available", l.ProductID, l.Quantity, cur.Available)
			}
		}
		r = Reservation{OrderID: orderID, Status: ReservationHeld, Lines: lines,
			CreatedAt: now.UTC().Round(0), ExpiresAt: expiresAt.UTC().Round(0)}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO reservations (order_id, status, created_at, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			orderID, ReservationHeld, ts, formatTime(expiresAt), ts); err != nil {
			return fmt.Errorf("insert reservation %s: %w", orderID, err)
		}
		for i, l := range lines {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO reservation_lines (order_id, line_no, product_id, quantity) VALUES (?, ?, ?, ?)`,
				orderID, i, l.ProductID, l.Quantity); err != nil {
				return fmt.Errorf("insert reservation %s: %w", orderID, err)
			}
		}
		created = true
		return nil
	})
	if err != nil {
		return Reservation{}, false, err
	}
	return r, created, nil
}

// changeStatus moves a reservation to status, moving its units first with
// stmt, run once per line with ?1 the quantity, ?2 the time and ?3 the
// product. A line whose stock row stmt does not change is reported through
// short, and its error aborts the whole transaction.
func changeStatus(ctx context.Context, tx *sqlitedb.Tx, r *Reservation, status ReservationStatus, now time.Time,
	stmt string, short func(l Line) error) error {
	ts := formatTime(now)
	for _, l := range r.Lines {
		res, err := tx.ExecContext(ctx, stmt, l.Quantity, ts, l.ProductID)
		if err != nil {
			return fmt.Errorf("%s reservation %s: %w", status, r.OrderID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("%s reservation %s: %w", status, r.OrderID, err)
		} else if n == 0 {
			return short(l)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE reservations SET status = ?, updated_at = ? WHERE order_id = ?`,
		status, ts, r.OrderID); err != nil {
		return fmt.Errorf("%s reservation %s: %w", status, r.OrderID, err)
	}
	r.Status = status
	return nil
}

// The statements changeStatus runs per line.
const (
	// sellHeld turns held units into sold ones.
	sellHeld = `UPDATE stock SET on_hand = on_hand - ?1, reserved = reserved - ?1, updated_at = ?2
		WHERE product_id = ?3 AND reserved >= ?1`
	// sellAvailable sells units that are not held, if enough are available.
	sellAvailable = `UPDATE stock SET on_hand = on_hand - ?1, updated_at = ?2
		WHERE product_id = ?3 AND on_hand - reserved >= ?1`
	// returnHeld gives held units back to available.
	returnHeld = `UPDATE stock SET reserved = reserved - ?1, updated_at = ?2
		WHERE product_id = ?3 AND reserved >= ?1`
)

// corrupt reports held units that the stock row does not show as reserved,
// which the schema's checks and single transactions should make impossible.
func corrupt(r Reservation) func(Line) error {
	return func(l Line) error {
		return fmt.Errorf("stock of product %s does not cover the %d units held for order %s", l.ProductID, l.Quantity, r.OrderID)
	}
}

func (s *Store) commit(ctx context.Context, orderID string, now time.Time) (Reservation, error) {
	var r Reservation
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		var ok bool
		var err error
		if r, ok, err = loadReservation(ctx, tx, orderID); err != nil {
			return err
		} else if !ok {
			return reservationNotFound(orderID)
		}
		switch r.Status {
		case ReservationCommitted, ReservationReturned:
			// Already sold (and perhaps given back since): a repeated
			// payment event changes nothing.
			return nil
		case ReservationHeld:
			return changeStatus(ctx, tx, &r, ReservationCommitted, now, sellHeld, corrupt(r))
		default:
			was := r.Status
			return changeStatus(ctx, tx, &r, ReservationCommitted, now, sellAvailable, func(l Line) error {
				return shop.E(shop.ErrConflict, CodeReservationReleased,
					"the reservation of order %s was %s and product %s no longer has %d units available",
					orderID, was, l.ProductID, l.Quantity)
			})
		}
	})
	if err != nil {
		return Reservation{}, err
	}
	return r, nil
}

func (s *Store) release(ctx context.Context, orderID string, now time.Time) (Reservation, error) {
	var r Reservation
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		var ok bool
		var err error
		if r, ok, err = loadReservation(ctx, tx, orderID); err != nil {
			return err
		} else if !ok {
			return reservationNotFound(orderID)
		}
		switch r.Status {
		case ReservationReleased, ReservationExpired:
			return nil
		case ReservationCommitted, ReservationReturned:
			return shop.E(shop.ErrConflict, CodeReservationCommitted,
				"the reservation of order %s is already committed and cannot be released", orderID)
		default:
			return changeStatus(ctx, tx, &r, ReservationReleased, now, returnHeld, corrupt(r))
		}
	})
	if err != nil {
		return Reservation{}, err
	}
	return r, nil
}

// expire expires up to limit held reservations whose expiry is at or before
// now, in one transaction, and returns how many it expired.
func (s *Store) expire(ctx context.Context, now time.Time, limit int) (int, error) {
	n := 0
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT order_id FROM reservations WHERE status = 'held' AND expires_at <= ?
			ORDER BY expires_at LIMIT ?`, formatTime(now), limit)
		if err != nil {
			return fmt.Errorf("find expired reservations: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("find expired reservations: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find expired reservations: %w", err)
		}
		for _, id := range ids {
			lines, err := loadLines(ctx, tx, id)
			if err != nil {
				return err
			}
			r := Reservation{OrderID: id, Lines: lines}
			if err := changeStatus(ctx, tx, &r, ReservationExpired, now, returnHeld, corrupt(r)); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// giveBack puts the units of a committed reservation back on hand and marks
// it returned. A returned reservation is left as it is.
func (s *Store) giveBack(ctx context.Context, orderID string, now time.Time) (Reservation, error) {
	var r Reservation
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		var ok bool
		var err error
		if r, ok, err = loadReservation(ctx, tx, orderID); err != nil {
			return err
		} else if !ok {
			return reservationNotFound(orderID)
		}
		switch r.Status {
		case ReservationReturned:
			return nil
		case ReservationCommitted:
			return changeStatus(ctx, tx, &r, ReservationReturned, now, returnSold, func(l Line) error {
				return fmt.Errorf("no stock row for product %s of returned order %s", l.ProductID, orderID)
			})
		default:
			return shop.E(shop.ErrConflict, CodeReservationNotCommitted,
				"the reservation of order %s is %s, not sold; there is nothing to return", orderID, r.Status)
		}
	})
	if err != nil {
		return Reservation{}, err
	}
	return r, nil
}

// returnSold puts sold units back on hand.
const returnSold = `UPDATE stock SET on_hand = on_hand + ?1, updated_at = ?2 WHERE product_id = ?3`

// listHeld returns a page of held reservations created before createdBefore,
// by order ID, starting after the order ID after ("" for the first page).
func (s *Store) listHeld(ctx context.Context, createdBefore time.Time, after string, limit int) (shop.Page[Reservation], error) {
	rows, err := s.db.R.QueryContext(ctx, `
		SELECT order_id FROM reservations
		WHERE status = 'held' AND order_id > ? AND created_at < ?
		ORDER BY order_id LIMIT ?`, after, formatTime(createdBefore), limit+1)
	if err != nil {
		return shop.Page[Reservation]{}, fmt.Errorf("list held reservations: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return shop.Page[Reservation]{}, fmt.Errorf("list held reservations: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return shop.Page[Reservation]{}, fmt.Errorf("list held reservations: %w", err)
	}
	page := shop.Page[Reservation]{Items: []Reservation{}}
	if len(ids) > limit {
		ids = ids[:limit]
		page.NextCursor = shop.EncodeCursor(ids[limit-1])
	}
	for _, id := range ids {
		r, ok, err := loadReservation(ctx, s.db.R, id)
		if err != nil {
			return shop.Page[Reservation]{}, err
		}
		if ok {
			page.Items = append(page.Items, r)
		}
	}
	return page, nil
}
