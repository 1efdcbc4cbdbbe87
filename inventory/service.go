// Package inventory keeps the stock of every product and the reservations that
// orders hold on it, so that concurrent buyers never oversell.
//
// Each product has units on hand, some of them reserved for orders not yet
// paid; the rest are available. The order service reserves all lines of an
// order at once (Reserve), then commits the reservation when the order is
// paid (the units leave on hand) or releases it when the order is cancelled
// (they become available again); a refunded order returns its sold units
// (Return). Reservations nobody settles expire: an Expirer (NewExpirer)
// returns their units. Each of these steps is one atomic Store call; in the
// SQLiteStore it is one transaction, and the schema itself refuses reserved
// above on hand.
//
// The package follows the shop's domain template (ARCHITECTURE.md): Service,
// its types, options and NewService here; the Store interface and the
// SQLiteStore in store.go; Endpoints in endpoints.go; the HTTP handlers and
// client in http.go; logging and metrics in middleware.go; New, the service
// with its default middleware, in wire.go; the handlers of the order events
// in events.go. Package inventorytest checks any Service (and so any Store
// or transport) against the inventory's behaviour.
package inventory

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/kitshop/shop"
)

// Service is the stock keeper. A local value (NewService, New) and a remote
// HTTP client (MakeClientEndpoints) both implement it, and
// inventorytest.Run checks any implementation.
//
// A method taking an ID refuses an empty or too long one with ErrInvalid
// "invalid_product_id" or "invalid_order_id". A method that names a role
// refuses a caller without an identity with ErrUnauthenticated and one with
// another role with ErrForbidden "forbidden". Errors of the Store other
// than these come back as they are.
type Service interface {
	// GetStock returns a product's stock, or ErrNotFound "stock_not_found" when
	// no stock was ever recorded for it. Anyone may read stock.
	GetStock(ctx context.Context, productID string) (Stock, error)
	// AddStock adds quantity units on hand, recording the product's stock
	// if it had none. A quantity outside 1..MaxQuantity is ErrInvalid
	// "invalid_quantity"; a product check (WithProductCheck) may refuse
	// the product. Admin role only.
	AddStock(ctx context.Context, productID string, quantity int64) (Stock, error)
	// RemoveStock takes quantity units off hand. Going below what is
	// reserved is ErrConflict "insufficient_stock"; a product without stock
	// is ErrNotFound "stock_not_found"; a quantity outside 1..MaxQuantity is
	// ErrInvalid "invalid_quantity". Admin role only.
	RemoveStock(ctx context.Context, productID string, quantity int64) (Stock, error)

	// Reserve holds stock for all lines of an order, or for none: a line that
	// cannot be served is ErrConflict "insufficient_stock" naming the product.
	// Lines naming one product twice are merged; no lines or more than
	// MaxLines is ErrInvalid "invalid_lines", a bad line "invalid_product_id"
	// or "invalid_quantity" naming it (lines[i]). It is idempotent by order
	// ID: a repeat with the same lines returns the existing reservation with
	// created false (whatever its expiresAt), while a new reservation comes
	// with created true; a repeat with other lines is ErrConflict
	// "reservation_mismatch". expiresAt must be in the future for a new
	// reservation (ErrInvalid "invalid_expires_at"); an Expirer releases a
	// reservation never committed after it. Service role only.
	Reserve(ctx context.Context, orderID string, lines []Line, expiresAt time.Time) (r Reservation, created bool, err error)
	// Commit turns a held reservation into a sale (the units leave on hand).
	// Committing a committed or returned reservation returns it unchanged.
	// A released or expired reservation is sold from the units available
	// now, or, if any line is short, is ErrConflict "reservation_released"
	// and nothing changes. No reservation is ErrNotFound
	// "reservation_not_found". Service role only.
	Commit(ctx context.Context, orderID string) (Reservation, error)
	// Release returns a held reservation's units to available. Releasing a
	// released or expired reservation returns it unchanged; releasing a
	// committed or returned one is ErrConflict "reservation_committed"; no
	// reservation is ErrNotFound "reservation_not_found". Service role only.
	Release(ctx context.Context, orderID string) (Reservation, error)
	// Return puts the units of a committed (sold) reservation back on hand,
	// for an order that was refunded. Returning a returned reservation
	// returns it unchanged; returning one that was never sold is ErrConflict
	// "reservation_not_committed"; no reservation is ErrNotFound
	// "reservation_not_found". Service role only.
	Return(ctx context.Context, orderID string) (Reservation, error)
	// ListHeld pages through the reservations still held that were created
	// before createdBefore, by order ID. The order service reconciles them
	// with its orders after a crash. A bad limit or cursor is ErrInvalid
	// "invalid_limit" or "invalid_cursor". Service role only.
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

// Option configures NewService and NewExpirer. An option given a value it
// cannot use (a nil function or logger) makes NewService or NewExpirer
// panic with a message naming the option: such a value is a bug in the
// wiring, never user input.
type Option func(*options)

type options struct {
	productCheck func(ctx context.Context, productID string) error
	now          func() time.Time
	logger       log.Logger
}

func newOptions(opts []Option) options {
	o := options{now: time.Now, logger: log.NewNopLogger()}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithProductCheck makes AddStock call check before it records anything and
// fail with check's error, so that stock can only be added for products that
// exist. A shop passes its catalogue's GetProduct, which turns stock for an
// unknown product into ErrNotFound "product_not_found". A nil check makes
// NewService panic.
func WithProductCheck(check func(ctx context.Context, productID string) error) Option {
	return func(o *options) {
		if check == nil {
			panic("inventory: WithProductCheck(nil): pass a check, or leave the option out")
		}
		o.productCheck = check
	}
}

// WithClock replaces time.Now as the source of the current time (for
// reservation timestamps and expiry), so tests can control time. A nil
// clock makes NewService and NewExpirer panic.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now == nil {
			panic("inventory: WithClock(nil): pass a clock such as time.Now")
		}
		o.now = now
	}
}

// WithLogger sets where the inventory writes what it reports itself (the
// default is nowhere): the service logs, at error level, a paid order whose
// units were sold to others after its hold lapsed (Commit refused with
// CodeReservationReleased), and an Expirer's RunExpiry logs each run that
// expired something and each failed run. Lines per call come from
// LoggingMiddleware instead. A nil logger makes NewService and NewExpirer
// panic; pass log.NewNopLogger() for none.
func WithLogger(logger log.Logger) Option {
	return func(o *options) {
		if logger == nil {
			panic("inventory: WithLogger(nil): pass a logger such as log.NewNopLogger()")
		}
		o.logger = logger
	}
}

// service is the Service backed by a Store.
type service struct {
	store Store
	opts  options
}

// NewService returns the inventory kept in store. It checks the caller's
// role itself (shop.RequireRole), so every transport in front of it is
// protected: stock changes need RoleAdmin, reservations RoleService, and
// reading stock needs nothing. It validates every argument before store
// sees it. It starts no goroutine; expiry of forgotten reservations is the
// job of an Expirer (see NewExpirer). It panics on an unusable option (see
// Option).
func NewService(store Store, opts ...Option) Service {
	if store == nil {
		panic("inventory: NewService with a nil Store")
	}
	return &service{store: store, opts: newOptions(opts)}
}

func (s *service) GetStock(ctx context.Context, productID string) (Stock, error) {
	if err := validateProductID(productID); err != nil {
		return Stock{}, err
	}
	return s.store.Stock(ctx, productID)
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
	return s.store.AddStock(ctx, productID, quantity, s.opts.now())
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
	return s.store.RemoveStock(ctx, productID, quantity, s.opts.now())
}

func (s *service) Reserve(ctx context.Context, orderID string, lines []Line, expiresAt time.Time) (Reservation, bool, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleService); err != nil {
		return Reservation{}, false, err
	}
	if err := validateOrderID(orderID); err != nil {
		return Reservation{}, false, err
	}
	merged, err := mergeLines(lines)
	if err != nil {
		return Reservation{}, false, err
	}
	if expiresAt.IsZero() {
		return Reservation{}, false, shop.E(shop.ErrInvalid, CodeInvalidExpiresAt, "expires_at is required")
	}
	now := s.opts.now()
	if !expiresAt.After(now) {
		// Too late to hold anything new, but a repeat of a reservation
		// made in time still finds it.
		existing, err := s.store.Reservation(ctx, orderID)
		if shop.CodeOf(err) == CodeReservationNotFound {
			return Reservation{}, false, shop.E(shop.ErrInvalid, CodeInvalidExpiresAt, "expires_at must be in the future")
		}
		if err != nil {
			return Reservation{}, false, err
		}
		return repeated(existing, merged)
	}
	r, created, err := s.store.Reserve(ctx, Reservation{
		OrderID:   orderID,
		Status:    ReservationHeld,
		Lines:     merged,
		CreatedAt: now.UTC().Round(0),
		ExpiresAt: expiresAt.UTC().Round(0),
	})
	switch {
	case err != nil:
		return Reservation{}, false, err
	case !created:
		return repeated(r, merged)
	}
	return r, true, nil
}

// repeated answers a Reserve for an order that already holds existing: the
// same lines find it, other lines are a mismatch.
func repeated(existing Reservation, lines []Line) (Reservation, bool, error) {
	if !sameLines(existing.Lines, lines) {
		return Reservation{}, false, shop.E(shop.ErrConflict, CodeReservationMismatch,
			"order %s already holds a reservation with other lines", existing.OrderID)
	}
	return existing, false, nil
}

func (s *service) Commit(ctx context.Context, orderID string) (Reservation, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleService); err != nil {
		return Reservation{}, err
	}
	if err := validateOrderID(orderID); err != nil {
		return Reservation{}, err
	}
	r, err := s.store.Commit(ctx, orderID, s.opts.now())
	if shop.CodeOf(err) == CodeReservationReleased {
		level.Error(s.opts.logger).Log("component", "inventory", "msg",
			"a paid order's units were sold to others after its reservation lapsed; settle the order by hand",
			"order_id", orderID, "request_id", shop.RequestIDFrom(ctx), "err", err)
	}
	return r, err
}

func (s *service) Release(ctx context.Context, orderID string) (Reservation, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleService); err != nil {
		return Reservation{}, err
	}
	if err := validateOrderID(orderID); err != nil {
		return Reservation{}, err
	}
	return s.store.Release(ctx, orderID, s.opts.now())
}

func (s *service) Return(ctx context.Context, orderID string) (Reservation, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleService); err != nil {
		return Reservation{}, err
	}
	if err := validateOrderID(orderID); err != nil {
		return Reservation{}, err
	}
	return s.store.Return(ctx, orderID, s.opts.now())
}

func (s *service) ListHeld(ctx context.Context, createdBefore time.Time, p shop.PageRequest) (shop.Page[Reservation], error) {
	if _, err := shop.RequireRole(ctx, shop.RoleService); err != nil {
		return shop.Page[Reservation]{}, err
	}
	after, err := p.Normalize()
	if err != nil {
		return shop.Page[Reservation]{}, err
	}
	// One more than the page tells whether another page follows.
	items, err := s.store.ListHeld(ctx, createdBefore, after, p.Limit+1)
	if err != nil {
		return shop.Page[Reservation]{}, err
	}
	page := shop.Page[Reservation]{Items: items}
	if page.Items == nil {
		page.Items = []Reservation{}
	}
	if len(items) > p.Limit {
		page.Items = items[:p.Limit]
		page.NextCursor = shop.EncodeCursor(page.Items[p.Limit-1].OrderID)
	}
	return page, nil
}

// Expirer returns the units of held reservations that nobody committed or
// released before their expiry. The wiring code runs one per inventory
// store, in a goroutine of its own: go x.RunExpiry(ctx, time.Minute).
type Expirer struct {
	store  Store
	now    func() time.Time
	logger log.Logger
	batch  int
}

// NewExpirer returns an Expirer working on store. Of the options only
// WithClock and WithLogger matter to it; an unusable option panics (see
// Option).
func NewExpirer(store Store, opts ...Option) *Expirer {
	if store == nil {
		panic("inventory: NewExpirer with a nil Store")
	}
	o := newOptions(opts)
	return &Expirer{store: store, now: o.now, logger: o.logger, batch: 500}
}

// ExpireReservations turns every held reservation whose expiry is at or
// before now into an expired one and returns its units to available, a batch
// of reservations per store call (Store.ExpireHeld). It returns how many
// reservations expired.
func (x *Expirer) ExpireReservations(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		n, err := x.store.ExpireHeld(ctx, now, x.batch)
		total += n
		if err != nil || n < x.batch {
			return total, err
		}
	}
}

// RunExpiry calls ExpireReservations with the current time at once and then
// every interval until ctx is done, logging (WithLogger) each run that
// expired something and each failure (a failed run is simply tried again at
// the next tick). An interval that is not positive means one minute.
func (x *Expirer) RunExpiry(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := x.ExpireReservations(ctx, x.now())
		switch {
		case err != nil && ctx.Err() == nil:
			level.Error(x.logger).Log("component", "inventory_expiry", "msg", "expiring reservations failed; retrying at the next tick", "err", err)
		case n > 0:
			level.Info(x.logger).Log("component", "inventory_expiry", "expired", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
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
