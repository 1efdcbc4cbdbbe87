package inventory

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/outbox"
	"github.com/kitshop/shop/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store keeps stock and reservations for the Service, in the inventory's
// own terms. The service validates every argument first (IDs, quantities in
// 1..MaxQuantity, lines merged so that no product appears twice, times in
// UTC), so a store only keeps records and their promises. SQLiteStore is
// the repository's; package inventorytest runs the inventory's behaviour
// against a service on any store, and its tests hold a small in-memory one.
//
// Every method is safe for concurrent use and atomic: a call changes all it
// says or nothing, and concurrent calls behave as if they ran one after
// another. Above all, reserved never exceeds on hand and neither goes below
// zero, however calls race: that is what keeps buyers from overselling.
// Errors a caller can act on are shop errors with the kind and code each
// method names (shop.E with the Code constants of this package); anything
// else (a lost connection) is returned as it is.
//
// Events: every method that changes stock records, atomically with the
// change, one shop.EventStockChanged event per product whose quantities it
// changed (per reservation, for ExpireHeld), so an event exists if and only
// if its change does. Its source is EventSource, its subject the product
// ID, and its data shop.StockEventData with the quantities after the change
// and as Reason: "added" (AddStock), "reduced" (RemoveStock), "reserved"
// (Reserve), "sold" (Commit), "released" (Release), "expired" (ExpireHeld)
// or "returned" (Return), with the reservation's OrderID for the last five.
// A call that changes nothing (a repeated Reserve, Commit, Release or
// Return) or fails records nothing. Getting recorded events to the
// subscribers, at least once and in the order they were recorded, is the
// store's side of the bargain too: SQLiteStore keeps them in an outbox
// table that its RunOutbox relays to a shop.Publisher. A store of your own
// does the same its own way, for example with an outbox table of its own
// and a relay (or a change-data-capture feed) publishing each event until
// the publisher accepts it. Consumers treat a repeated event ID as handled,
// so delivering an event twice is harmless; losing one is not.
type Store interface {
	// Stock returns the stock of productID, or ErrNotFound CodeStockNotFound
	// when none was ever recorded.
	Stock(ctx context.Context, productID string) (Stock, error)
	// AddStock adds quantity units on hand of productID, recording its stock
	// (with nothing reserved) if it had none, and returns the stock after.
	AddStock(ctx context.Context, productID string, quantity int64, now time.Time) (Stock, error)
	// RemoveStock takes quantity units off hand of productID if at least
	// that many are available (on hand minus reserved), and returns the stock
	// after. Fewer available is ErrConflict CodeInsufficientStock, with a
	// message naming the product and what is available; no stock recorded
	// is ErrNotFound CodeStockNotFound.
	RemoveStock(ctx context.Context, productID string, quantity int64, now time.Time) (Stock, error)

	// Reservation returns the reservation of orderID, or ErrNotFound
	// CodeReservationNotFound.
	Reservation(ctx context.Context, orderID string) (Reservation, error)
	// Reserve keeps r, a new held reservation (its CreatedAt is now), and
	// adds each of its lines to the reserved units of the line's product, all
	// or nothing. If r.OrderID already has a reservation, Reserve changes
	// nothing and returns that one, with created false; the service compares
	// the lines. A line whose product has fewer units available than it asks
	// for, or no stock recorded, is ErrConflict CodeInsufficientStock with a
	// message naming the product and what is available, and nothing is kept.
	// The reservation returned keeps the order of r.Lines.
	Reserve(ctx context.Context, r Reservation) (_ Reservation, created bool, err error)
	// Commit sells the units of orderID's reservation, marking it
	// ReservationCommitted, and returns it; by the status it finds:
	//   - held: the units leave both reserved and on hand;
	//   - released or expired: the units leave on hand if every line's
	//     product has them available; else ErrConflict
	//     CodeReservationReleased naming the short product, and nothing
	//     changes;
	//   - committed or returned: nothing changes and the reservation is
	//     returned as it is (a repeated payment event).
	// No reservation is ErrNotFound CodeReservationNotFound.
	Commit(ctx context.Context, orderID string, now time.Time) (Reservation, error)
	// Release gives the units of orderID's held reservation back to
	// available (they leave reserved) and marks it ReservationReleased,
	// returning it. A released or expired reservation is returned unchanged;
	// a committed or returned one is ErrConflict CodeReservationCommitted;
	// no reservation is ErrNotFound CodeReservationNotFound.
	Release(ctx context.Context, orderID string, now time.Time) (Reservation, error)
	// Return puts the units of orderID's committed reservation back on hand
	// and marks it ReservationReturned, returning it. A returned reservation
	// is returned unchanged; one in any other status is ErrConflict
	// CodeReservationNotCommitted; no reservation is ErrNotFound
	// CodeReservationNotFound.
	Return(ctx context.Context, orderID string, now time.Time) (Reservation, error)
	// ExpireHeld marks up to limit held reservations whose ExpiresAt is at
	// or before now ReservationExpired, soonest expiry first, giving their
	// units back to available, and returns how many it expired. The
	// Expirer calls it until it returns fewer than limit.
	ExpireHeld(ctx context.Context, now time.Time, limit int) (int, error)
	// ListHeld returns up to limit held reservations created before
	// createdBefore whose order ID sorts after after (byte-wise, "" for
	// the start), in order of their order IDs, with their lines. It returns
	// an empty or nil slice when there are none.
	ListHeld(ctx context.Context, createdBefore time.Time, after string, limit int) ([]Reservation, error)
}

// SQLiteStore is the Store in a SQLite database. Every change of a
// reservation and the stock it holds happens in one write transaction, and
// CHECK constraints refuse any row with reserved < 0 or on_hand < reserved,
// so no sequence of calls can oversell. The stock.changed events go into
// its outbox table in the same transaction, and wait there until RunOutbox
// has published them. Open one with OpenSQLiteStore, or run one on a
// database of your own with NewSQLiteStore.
type SQLiteStore struct {
	db    *sqlitedb.DB
	relay outbox.Relays
}

var _ Store = (*SQLiteStore)(nil)

// EventSource is the CloudEvents source of the events the inventory emits.
const EventSource = "inventory"

// The reasons of a stock.changed event (shop.StockEventData.Reason).
const (
	reasonAdded    = "added"
	reasonReduced  = "reduced"
	reasonReserved = "reserved"
	reasonSold     = "sold"
	reasonReleased = "released"
	reasonExpired  = "expired"
	reasonReturned = "returned"
)

// addStockEvent records within tx that st is the stock of its product after
// a change for reason, caused by orderID's reservation ("" for none).
func addStockEvent(ctx context.Context, tx *sqlitedb.Tx, st Stock, reason, orderID string) error {
	e, err := shop.NewEvent(EventSource, shop.EventStockChanged, st.ProductID, shop.StockEventData{
		ProductID: st.ProductID, OnHand: st.OnHand, Reserved: st.Reserved, Available: st.Available,
		Reason: reason, OrderID: orderID})
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, e)
}

// OpenSQLiteStore opens (creating if needed) the inventory database file at
// path the shop's way (WAL, busy timeout, foreign keys, one writer
// connection with group commit) and brings its schema up to date. Close the
// store when done.
func OpenSQLiteStore(ctx context.Context, path string) (*SQLiteStore, error) {
	db, err := sqlitedb.OpenDir(ctx, path, migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("inventory store: %w", err)
	}
	return &SQLiteStore{db: db}, nil
}

// NewSQLiteStore returns a store on db, a SQLite database (modernc.org/sqlite
// driver) the caller opened and configured; run Migrate on it first. Writes
// still go through one queue with group commit. Give db a busy timeout
// (_pragma=busy_timeout(5000)) if other code writes to it too. Nothing is
// prepared up front: write statements are prepared on first use, so
// NewSQLiteStore cannot fail. Closing the store leaves db open.
func NewSQLiteStore(db *sql.DB) *SQLiteStore {
	return &SQLiteStore{db: sqlitedb.FromDB(db)}
}

// Migrate brings the inventory's tables in db up to date (stock,
// reservations and the outbox of their events: the migrations in
// migrations/*.sql, each applied once), for NewSQLiteStore. It is safe to
// run on every start and from several processes at once.
func Migrate(ctx context.Context, db *sql.DB) error {
	if err := sqlitedb.MigrateDir(ctx, db, migrationFiles, "migrations"); err != nil {
		return fmt.Errorf("inventory migrations: %w", err)
	}
	return nil
}

// Close closes the database (for a store from NewSQLiteStore it only stops
// the write queue and leaves the caller's database open). Stop RunOutbox
// first.
func (s *SQLiteStore) Close() error { return s.db.Close() }

// Ping checks that the database answers, for readiness probes.
func (s *SQLiteStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// RunOutbox publishes the store's stock events to pub until ctx is done,
// in the order they were recorded, retrying each until pub accepts it, so
// every event arrives at least once. Run exactly one per database. A change
// of stock wakes it at once; it also looks every second.
func (s *SQLiteStore) RunOutbox(ctx context.Context, pub shop.Publisher, logger log.Logger) {
	s.relay.Run(ctx, s.db, pub, logger)
}

// PendingEvents returns how many events wait to be published.
func (s *SQLiteStore) PendingEvents(ctx context.Context) (int, error) {
	return outbox.Pending(ctx, s.db)
}

// Held returns how many reservations are held (neither committed nor
// released yet) and how many units the stock holds for them in all.
func (s *SQLiteStore) Held(ctx context.Context) (reservations, units int, err error) {
	if err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM reservations WHERE status = 'held'`).Scan(&reservations); err != nil {
		return 0, 0, fmt.Errorf("inventory: count held reservations: %w", err)
	}
	if err := s.db.R.QueryRowContext(ctx, `SELECT COALESCE(SUM(reserved), 0) FROM stock`).Scan(&units); err != nil {
		return 0, 0, fmt.Errorf("inventory: sum reserved units: %w", err)
	}
	return reservations, units, nil
}

// OutboxBacklog returns how many events wait to be published and when the
// oldest of them happened (the zero time when none wait): what the
// kitshop_outbox_* gauges show.
func (s *SQLiteStore) OutboxBacklog(ctx context.Context) (pending int, oldest time.Time, err error) {
	return outbox.Backlog(ctx, s.db)
}

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

// Stock implements Store.
func (s *SQLiteStore) Stock(ctx context.Context, productID string) (Stock, error) {
	st, ok, err := readStock(ctx, s.db.R, productID)
	if err != nil {
		return Stock{}, err
	}
	if !ok {
		return Stock{}, stockNotFound(productID)
	}
	return st, nil
}

// AddStock implements Store.
func (s *SQLiteStore) AddStock(ctx context.Context, productID string, quantity int64, now time.Time) (Stock, error) {
	var st Stock
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		var onHand, reserved int64
		err := tx.QueryRowContext(ctx, `
			INSERT INTO stock (product_id, on_hand, reserved, updated_at) VALUES (?, ?, 0, ?)
			ON CONFLICT (product_id) DO UPDATE SET on_hand = on_hand + excluded.on_hand, updated_at = excluded.updated_at
			RETURNING on_hand, reserved`, productID, quantity, formatTime(now)).Scan(&onHand, &reserved)
		if err != nil {
			return fmt.Errorf("add stock of %s: %w", productID, err)
		}
		st = newStock(productID, onHand, reserved)
		if quantity == 0 { // the quantities are as they were
			return nil
		}
		return addStockEvent(ctx, tx, st, reasonAdded, "")
	})
	if err != nil {
		return Stock{}, err
	}
	s.relay.Notify()
	return st, nil
}

// RemoveStock implements Store.
func (s *SQLiteStore) RemoveStock(ctx context.Context, productID string, quantity int64, now time.Time) (Stock, error) {
	var st Stock
	err := s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		var onHand, reserved int64
		err := tx.QueryRowContext(ctx, `
			UPDATE stock SET on_hand = on_hand - ?1, updated_at = ?2
			WHERE product_id = ?3 AND on_hand - reserved >= ?1
			RETURNING on_hand, reserved`, quantity, formatTime(now), productID).Scan(&onHand, &reserved)
		if err == nil {
			st = newStock(productID, onHand, reserved)
			if quantity == 0 { // the quantities are as they were
				return nil
			}
			return addStockEvent(ctx, tx, st, reasonReduced, "")
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
	if err != nil {
		return Stock{}, err
	}
	s.relay.Notify()
	return st, nil
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

// Reservation implements Store.
func (s *SQLiteStore) Reservation(ctx context.Context, orderID string) (Reservation, error) {
	r, ok, err := loadReservation(ctx, s.db.R, orderID)
	switch {
	case err != nil:
		return Reservation{}, err
	case !ok:
		return Reservation{}, reservationNotFound(orderID)
	}
	return r, nil
}

// Reserve implements Store: one transaction that looks for the order's
// reservation, reserves each line with a conditional UPDATE and inserts the
// reservation and its lines.
func (s *SQLiteStore) Reserve(ctx context.Context, want Reservation) (r Reservation, created bool, err error) {
	orderID, lines := want.OrderID, want.Lines
	err = s.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		existing, ok, err := loadReservation(ctx, tx, orderID)
		if err != nil {
			return err
		}
		if ok {
			r = existing
			return nil
		}
		ts := formatTime(want.CreatedAt)
		after := make([]Stock, len(lines))
		for i, l := range lines {
			var onHand, reserved int64
			err := tx.QueryRowContext(ctx, `
				UPDATE stock SET reserved = reserved + ?1, updated_at = ?2
				WHERE product_id = ?3 AND on_hand - reserved >= ?1
				RETURNING on_hand, reserved`, l.Quantity, ts, l.ProductID).Scan(&onHand, &reserved)
			switch {
			case errors.Is(err, sql.ErrNoRows): // too few available, or no stock recorded
				cur, _, err := readStock(ctx, tx, l.ProductID)
				if err != nil {
					return err
				}
				return shop.E(shop.ErrConflict, CodeInsufficientStock,
					"not enough stock of product %s: %d requested, %d available", l.ProductID, l.Quantity, cur.Available)
			case err != nil:
				return fmt.Errorf("reserve %s: %w", l.ProductID, err)
			}
			after[i] = newStock(l.ProductID, onHand, reserved)
		}
		r = Reservation{OrderID: orderID, Status: ReservationHeld, Lines: lines,
			CreatedAt: want.CreatedAt.UTC().Round(0), ExpiresAt: want.ExpiresAt.UTC().Round(0)}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO reservations (order_id, status, created_at, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			orderID, ReservationHeld, ts, formatTime(want.ExpiresAt), ts); err != nil {
			return fmt.Errorf("insert reservation %s: %w", orderID, err)
		}
		for i, l := range lines {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO reservation_lines (order_id, line_no, product_id, quantity) VALUES (?, ?, ?, ?)`,
				orderID, i, l.ProductID, l.Quantity); err != nil {
				return fmt.Errorf("insert reservation %s: %w", orderID, err)
			}
		}
		for _, st := range after {
			if err := addStockEvent(ctx, tx, st, reasonReserved, orderID); err != nil {
				return err
			}
		}
		created = true
		return nil
	})
	if err != nil {
		return Reservation{}, false, err
	}
	s.relay.Notify()
	return r, created, nil
}

// changeStatus moves a reservation to status, moving its units first with
// stmt, run once per line with ?1 the quantity, ?2 the time and ?3 the
// product, returning the row's on_hand and reserved after. A line whose
// stock row stmt does not change is reported through short, and its error
// aborts the whole transaction. Each line's stock after the change is
// recorded as a stock.changed event for reason.
func changeStatus(ctx context.Context, tx *sqlitedb.Tx, r *Reservation, status ReservationStatus, now time.Time,
	stmt, reason string, short func(l Line) error) error {
	ts := formatTime(now)
	for _, l := range r.Lines {
		var onHand, reserved int64
		err := tx.QueryRowContext(ctx, stmt, l.Quantity, ts, l.ProductID).Scan(&onHand, &reserved)
		if errors.Is(err, sql.ErrNoRows) {
			return short(l)
		}
		if err != nil {
			return fmt.Errorf("%s reservation %s: %w", status, r.OrderID, err)
		}
		if err := addStockEvent(ctx, tx, newStock(l.ProductID, onHand, reserved), reason, r.OrderID); err != nil {
			return err
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
		WHERE product_id = ?3 AND reserved >= ?1 RETURNING on_hand, reserved`
	// sellAvailable sells units that are not held, if enough are available.
	sellAvailable = `UPDATE stock SET on_hand = on_hand - ?1, updated_at = ?2
		WHERE product_id = ?3 AND on_hand - reserved >= ?1 RETURNING on_hand, reserved`
	// returnHeld gives held units back to available.
	returnHeld = `UPDATE stock SET reserved = reserved - ?1, updated_at = ?2
		WHERE product_id = ?3 AND reserved >= ?1 RETURNING on_hand, reserved`
)

// corrupt reports held units that the stock row does not show as reserved,
// which the schema's checks and single transactions should make impossible.
func corrupt(r Reservation) func(Line) error {
	return func(l Line) error {
		return fmt.Errorf("stock of product %s does not cover the %d units held for order %s", l.ProductID, l.Quantity, r.OrderID)
	}
}

// Commit implements Store.
func (s *SQLiteStore) Commit(ctx context.Context, orderID string, now time.Time) (Reservation, error) {
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
			return changeStatus(ctx, tx, &r, ReservationCommitted, now, sellHeld, reasonSold, corrupt(r))
		default:
			was := r.Status
			return changeStatus(ctx, tx, &r, ReservationCommitted, now, sellAvailable, reasonSold, func(l Line) error {
				return shop.E(shop.ErrConflict, CodeReservationReleased,
					"the reservation of order %s was %s and product %s no longer has %d units available",
					orderID, was, l.ProductID, l.Quantity)
			})
		}
	})
	if err != nil {
		return Reservation{}, err
	}
	s.relay.Notify()
	return r, nil
}

// Release implements Store.
func (s *SQLiteStore) Release(ctx context.Context, orderID string, now time.Time) (Reservation, error) {
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
			return changeStatus(ctx, tx, &r, ReservationReleased, now, returnHeld, reasonReleased, corrupt(r))
		}
	})
	if err != nil {
		return Reservation{}, err
	}
	s.relay.Notify()
	return r, nil
}

// ExpireHeld implements Store, in one transaction.
func (s *SQLiteStore) ExpireHeld(ctx context.Context, now time.Time, limit int) (int, error) {
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
			if err := changeStatus(ctx, tx, &r, ReservationExpired, now, returnHeld, reasonExpired, corrupt(r)); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.relay.Notify()
	return n, nil
}

// Return implements Store.
func (s *SQLiteStore) Return(ctx context.Context, orderID string, now time.Time) (Reservation, error) {
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
			return changeStatus(ctx, tx, &r, ReservationReturned, now, returnSold, reasonReturned, func(l Line) error {
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
	s.relay.Notify()
	return r, nil
}

// returnSold puts sold units back on hand.
const returnSold = `UPDATE stock SET on_hand = on_hand + ?1, updated_at = ?2 WHERE product_id = ?3 RETURNING on_hand, reserved`

// ListHeld implements Store.
func (s *SQLiteStore) ListHeld(ctx context.Context, createdBefore time.Time, after string, limit int) ([]Reservation, error) {
	rows, err := s.db.R.QueryContext(ctx, `
		SELECT order_id FROM reservations
		WHERE status = 'held' AND order_id > ? AND created_at < ?
		ORDER BY order_id LIMIT ?`, after, formatTime(createdBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("list held reservations: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list held reservations: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list held reservations: %w", err)
	}
	held := make([]Reservation, 0, len(ids))
	for _, id := range ids {
		r, ok, err := loadReservation(ctx, s.db.R, id)
		if err != nil {
			return nil, err
		}
		if ok {
			held = append(held, r)
		}
	}
	return held, nil
}
