// Package inventory keeps the stock of every product and the reservations that
// orders hold on it, so that concurrent buyers never oversell.
//
// Each product has units on hand, some of them reserved for orders not yet
// paid; the rest are available. The order service reserves all lines of an
// order at once (Reserve), then commits the reservation when the order is
// paid (the units leave on hand) or releases it when the order is cancelled
// (they become available again). Reservations nobody settles expire: an
// Expirer (NewExpirer) returns their units. Each of these steps is one SQLite
// transaction, and the schema itself refuses reserved above on hand.
//
// The package follows go-kit's layout: Service and NewService here, the
// SQLite Store in store.go, Endpoints in endpoints.go, the HTTP handlers and
// client in http.go, logging and metrics in middleware.go, and the handlers
// of the order events in events.go.
package inventory

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/kitshop/shop"
)

// Service is the stock keeper. A local value (NewService) and a remote HTTP
// client (MakeClientEndpoints) both implement it.
type Service interface {
	// GetStock returns a product's stock, or ErrNotFound "stock_not_found" when
	// no stock was ever recorded for it. Anyone may read stock.
	GetStock(ctx context.Context, productID string) (Stock, error)
	// AddStock adds quantity (> 0) units on hand (admin).
	AddStock(ctx context.Context, productID string, quantity int64) (Stock, error)
	// RemoveStock takes quantity (> 0) units off hand (admin); going below what
	// is reserved is ErrConflict "insufficient_stock".
	RemoveStock(ctx context.Context, productID string, quantity int64) (Stock, error)

	// Reserve holds stock for all lines of an order, or for none: a line that
	// cannot be served is ErrConflict "insufficient_stock" naming the product.
	// It is idempotent by order ID: a repeat returns the existing reservation.
	// A reservation never committed is released after expiresAt. Service role only.
	Reserve(ctx context.Context, orderID string, lines []Line, expiresAt time.Time) (Reservation, error)
	// Commit turns a held reservation into a sale (the units leave on_hand).
	// Committing a committed reservation returns it unchanged. Service role only.
	Commit(ctx context.Context, orderID string) (Reservation, error)
	// Release returns a held reservation's units to available. Releasing a
	// released or expired reservation returns it unchanged; releasing a
	// committed one is ErrConflict. Service role only.
	Release(ctx context.Context, orderID string) (Reservation, error)
	// Return puts the units of a committed (sold) reservation back on hand,
	// for an order that was refunded. Returning a returned reservation
	// returns it unchanged; returning one that was never sold is ErrConflict
	// "reservation_not_committed". Service role only.
	Return(ctx context.Context, orderID string) (Reservation, error)
	// ListHeld pages through the reservations still held that were created
	// before createdBefore, by order ID. The order service reconciles them
	// with its orders after a crash. Service role only.
	ListHeld(ctx context.Context, createdBefore time.Time, p shop.PageRequest) (shop.Page[Reservation], error)
}

// Stock is a product's stock. Available = OnHand - Reserved, never below 0.
type Stock struct {
	ProductID string `json:"product_id"`
	OnHand    int64  `json:"on_hand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
}

// Line is a quantity of one product.
type Line struct {
	ProductID string `json:"product_id"`
	Quantity  int64  `json:"quantity"`
}

// ReservationStatus is where a reservation is in its life.
type ReservationStatus string

// Reservation statuses: held until committed (sold), released (given back
// to available) or expired (given back because nobody committed it in time).
// A committed reservation becomes returned when its order is refunded and
// the units go back on hand.
const (
	ReservationHeld      ReservationStatus = "held"
	ReservationCommitted ReservationStatus = "committed"
	ReservationReleased  ReservationStatus = "released"
	ReservationExpired   ReservationStatus = "expired"
	ReservationReturned  ReservationStatus = "returned"
)

// Reservation is stock held for one order.
type Reservation struct {
	OrderID   string            `json:"order_id"`
	Status    ReservationStatus `json:"status"`
	Lines     []Line            `json:"lines"`
	CreatedAt time.Time         `json:"created_at"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// Limits on what one call may ask for.
const (
	// MaxQuantity is the largest quantity one call may add, remove or reserve
	// for one product.
	MaxQuantity = 1_000_000_000
	// MaxLines is the most lines one reservation may hold.
	MaxLines = 100
	// MaxIDLength is the longest product or order ID the inventory accepts.
	MaxIDLength = 128
)

// The specific error codes of the inventory (see shop.CodeOf). Each comes
// with the kind named beside it.
const (
	// CodeStockNotFound (ErrNotFound): no stock was ever recorded for the product.
	CodeStockNotFound = "stock_not_found"
	// CodeInsufficientStock (ErrConflict): too few units are available.
	CodeInsufficientStock = "insufficient_stock"
	// CodeReservationNotFound (ErrNotFound): no reservation exists for the order.
	CodeReservationNotFound = "reservation_not_found"
	// CodeReservationMismatch (ErrConflict): the order already holds a
	// reservation with other lines.
	CodeReservationMismatch = "reservation_mismatch"
	// CodeReservationReleased (ErrConflict): the reservation was released or
	// expired and its units are no longer available to commit.
	CodeReservationReleased = "reservation_released"
	// CodeReservationCommitted (ErrConflict): the reservation was already sold
	// and cannot be released.
	CodeReservationCommitted = "reservation_committed"
	// CodeReservationNotCommitted (ErrConflict): the reservation was never
	// sold, so there is nothing to return.
	CodeReservationNotCommitted = "reservation_not_committed"
	// CodeInvalidQuantity (ErrInvalid): a quantity is outside 1..MaxQuantity.
	CodeInvalidQuantity = "invalid_quantity"
	// CodeInvalidProductID (ErrInvalid): a product ID is empty or too long.
	CodeInvalidProductID = "invalid_product_id"
	// CodeInvalidOrderID (ErrInvalid): the order ID is empty or too long.
	CodeInvalidOrderID = "invalid_order_id"
	// CodeInvalidLines (ErrInvalid): a reservation has no lines or more than MaxLines.
	CodeInvalidLines = "invalid_lines"
	// CodeInvalidExpiresAt (ErrInvalid): the expiry is missing or already past.
	CodeInvalidExpiresAt = "invalid_expires_at"
)

// Option configures NewService and NewExpirer.
type Option func(*options)

type options struct {
	productCheck func(ctx context.Context, productID string) error
	now          func() time.Time
}

func newOptions(opts []Option) options {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithProductCheck makes AddStock call check before it records anything and
// fail with check's error, so that stock can only be added for products that
// exist. A shop passes its catalogue's GetProduct, which turns stock for an
// unknown product into ErrNotFound "product_not_found".
func WithProductCheck(check func(ctx context.Context, productID string) error) Option {
	return func(o *options) { o.productCheck = check }
}

// WithClock replaces time.Now as the source of the current time (for
// reservation timestamps and expiry), so tests can control time.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// service is the Service backed by a Store.
type service struct {
	store *Store
	opts  options
}

// NewService returns the inventory backed by store. It checks the caller's
// role itself (shop.RequireRole), so every transport in front of it is
// protected: stock changes need RoleAdmin, reservations RoleService, and
// reading stock needs nothing. It starts no goroutine; expiry of forgotten
// reservations is the job of an Expirer (see NewExpirer).
func NewService(store *Store, opts ...Option) Service {
	return &service{store: store, opts: newOptions(opts)}
}

func (s *service) GetStock(ctx context.Context, productID string) (Stock, error) {
	if err := validateProductID(productID); err != nil {
		return Stock{}, err
	}
	return s.store.stock(ctx, productID)
}

func (s *service) AddStock(ctx context.Context, productID string, quantity int64) (Stock, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleAdmin); err != nil {
		return Stock{}, err
	}
	if err := validateProductID(productID); err != nil {
		return Stock{}, err
	}
	if err := validateQuantity(quantity); err != nil {
		return Stock{}, err
	}
	if s.opts.productCheck != nil {
		if err := s.opts.productCheck(ctx, productID); err != nil {
			return Stock{}, err
		}
	}
	return s.store.addStock(ctx, productID, quantity, s.opts.now())
}

func (s *service) RemoveStock(ctx context.Context, productID string, quantity int64) (Stock, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleAdmin); err != nil {
		return Stock{}, err
	}
	if err := validateProductID(productID); err != nil {
		return Stock{}, err
	}
	if err := validateQuantity(quantity); err != nil {
		return Stock{}, err
	}
	return s.store.removeStock(ctx, productID, quantity, s.opts.now())
}

func (s *service) Reserve(ctx context.Context, orderID string, lines []Line, expiresAt time.Time) (Reservation, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleService); err != nil {
		return Reservation{}, err
	}
	if err := validateOrderID(orderID); err != nil {
		return Reservation{}, err
	}
	merged, err := mergeLines(lines)
	if err != nil {
		return Reservation{}, err
	}
	if expiresAt.IsZero() {
		return Reservation{}, shop.E(shop.ErrInvalid, CodeInvalidExpiresAt, "expires_at is required")
	}
	r, created, err := s.store.reserve(ctx, orderID, merged, s.opts.now(), expiresAt)
	if err != nil {
		return Reservation{}, err
	}
	if created {
		markCreated(ctx)
	}
	return r, nil
}

func (s *service) Commit(ctx context.Context, orderID string) (Reservation, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleService); err != nil {
		return Reservation{}, err
	}
	if err := validateOrderID(orderID); err != nil {
		return Reservation{}, err
	}
	return s.store.commit(ctx, orderID, s.opts.now())
}

func (s *service) Release(ctx context.Context, orderID string) (Reservation, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleService); err != nil {
		return Reservation{}, err
	}
	if err := validateOrderID(orderID); err != nil {
		return Reservation{}, err
	}
	return s.store.release(ctx, orderID, s.opts.now())
}

func (s *service) Return(ctx context.Context, orderID string) (Reservation, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleService); err != nil {
		return Reservation{}, err
	}
	if err := validateOrderID(orderID); err != nil {
		return Reservation{}, err
	}
	return s.store.giveBack(ctx, orderID, s.opts.now())
}

func (s *service) ListHeld(ctx context.Context, createdBefore time.Time, p shop.PageRequest) (shop.Page[Reservation], error) {
	if _, err := shop.RequireRole(ctx, shop.RoleService); err != nil {
		return shop.Page[Reservation]{}, err
	}
	after, err := p.Normalize()
	if err != nil {
		return shop.Page[Reservation]{}, err
	}
	return s.store.listHeld(ctx, createdBefore, after, p.Limit)
}

// Expirer returns the units of held reservations that nobody committed or
// released before their expiry. The wiring code runs one per inventory
// database, in a goroutine of its own: go x.RunExpiry(ctx, time.Minute, logger).
type Expirer struct {
	store *Store
	now   func() time.Time
	batch int
}

// NewExpirer returns an Expirer working on store. Of the options only
// WithClock matters to it.
func NewExpirer(store *Store, opts ...Option) *Expirer {
	return &Expirer{store: store, now: newOptions(opts).now, batch: 500}
}

// ExpireReservations turns every held reservation whose expiry is at or
// before now into an expired one and returns its units to available, a batch
// of reservations per transaction. It returns how many reservations expired.
func (x *Expirer) ExpireReservations(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		n, err := x.store.expire(ctx, now, x.batch)
		total += n
		if err != nil || n < x.batch {
			return total, err
		}
	}
}

// RunExpiry calls ExpireReservations with the current time at once and then
// every interval until ctx is done, logging each run that expired something
// and each failure (a failed run is simply tried again at the next tick).
// An interval that is not positive means one minute.
func (x *Expirer) RunExpiry(ctx context.Context, every time.Duration, logger log.Logger) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := x.ExpireReservations(ctx, x.now())
		switch {
		case err != nil && ctx.Err() == nil:
			level.Error(logger).Log("component", "inventory_expiry", "msg", "expiring reservations failed; retrying at the next tick", "err", err)
		case n > 0:
			level.Info(logger).Log("component", "inventory_expiry", "expired", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// createdKey is the context key of the flag that Reserve sets when it
// created the reservation rather than finding it; the HTTP transport answers
// 201 or 200 from it.
type createdKey struct{}

// withCreatedFlag returns a context in which a Reserve call records whether
// it created the reservation in *created.
func withCreatedFlag(ctx context.Context, created *bool) context.Context {
	return context.WithValue(ctx, createdKey{}, created)
}

func markCreated(ctx context.Context) {
	if p, ok := ctx.Value(createdKey{}).(*bool); ok {
		*p = true
	}
}

func validateProductID(id string) error {
	switch {
	case id == "":
		return shop.E(shop.ErrInvalid, CodeInvalidProductID, "product_id is required")
	case len(id) > MaxIDLength:
		return shop.E(shop.ErrInvalid, CodeInvalidProductID, "product_id must be at most %d bytes", MaxIDLength)
	}
	return nil
}

func validateOrderID(id string) error {
	switch {
	case id == "":
		return shop.E(shop.ErrInvalid, CodeInvalidOrderID, "order_id is required")
	case len(id) > MaxIDLength:
		return shop.E(shop.ErrInvalid, CodeInvalidOrderID, "order_id must be at most %d bytes", MaxIDLength)
	}
	return nil
}

func validateQuantity(q int64) error {
	if q < 1 || q > MaxQuantity {
		return shop.E(shop.ErrInvalid, CodeInvalidQuantity, "quantity must be between 1 and %d, got %d", MaxQuantity, q)
	}
	return nil
}

// mergeLines validates lines and sums the quantities of lines naming the same
// product, keeping the order in which products first appear.
func mergeLines(lines []Line) ([]Line, error) {
	if len(lines) == 0 || len(lines) > MaxLines {
		return nil, shop.E(shop.ErrInvalid, CodeInvalidLines, "lines must hold between 1 and %d lines, got %d", MaxLines, len(lines))
	}
	merged := make([]Line, 0, len(lines))
	index := make(map[string]int, len(lines))
	for i, l := range lines {
		if err := validateProductID(l.ProductID); err != nil {
			return nil, lineError(i, err)
		}
		if err := validateQuantity(l.Quantity); err != nil {
			return nil, lineError(i, err)
		}
		if j, ok := index[l.ProductID]; ok {
			merged[j].Quantity += l.Quantity
			continue
		}
		index[l.ProductID] = len(merged)
		merged = append(merged, l)
	}
	return merged, nil
}

// lineError places a validation error (whose message starts with the field
// name) in line i: "quantity must ..." becomes "lines[2].quantity must ...".
func lineError(i int, err error) error {
	e := err.(*shop.Error)
	return shop.E(e.Kind, e.Code, "lines[%d].%s", i, e.Message)
}

// sameLines reports whether a and b hold the same quantity of the same
// products, in any order. Both are merged (no product twice).
func sameLines(a, b []Line) bool {
	if len(a) != len(b) {
		return false
	}
	want := make(map[string]int64, len(a))
	for _, l := range a {
		want[l.ProductID] = l.Quantity
	}
	for _, l := range b {
		if q, ok := want[l.ProductID]; !ok || q != l.Quantity {
			return false
		}
	}
	return true
}
