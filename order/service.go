// Package order places, pays, cancels, expires and refunds orders. It prices
// lines from the catalog and holds stock through inventory, both reached only
// through their Service interfaces, so a local value or a remote HTTP client
// plugs in the same way, and charges cards through a PaymentProvider.
//
// The package follows the repository's domain template (ARCHITECTURE.md):
// Service, the domain types, the error codes, Options and NewService here;
// the Store interface and the SQLite store behind it in store.go; the events
// the desk publishes in events.go; Endpoints in endpoints.go; the HTTP
// transport in http.go; logging and metrics in middleware.go; New, the
// service with its default middleware, in wire.go; and the conformance suite
// any Service or Store can be checked with in the ordertest package.
//
// NewService returns *Orders rather than a bare Service: besides serving
// requests it runs the desk's background work (ExpireOrders, Recover), which
// needs the service's own state. See README.md's "Money and stock under
// races and crashes" for what the paying state, idempotency claims and
// recovery guarantee.
package order

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/inventory"
)

// Service is the order desk. A local value (NewService) and a remote HTTP
// client (MakeClientEndpoints) both implement it. Every method needs a
// caller in the context (shop.WithIdentity); without one it is
// ErrUnauthenticated. The codes below are the Code constants of this package
// unless named otherwise.
type Service interface {
	// PlaceOrder prices the items from the catalog, reserves their stock and
	// stores the order as pending (customers only; anyone else is
	// ErrForbidden). A non-empty NewOrder.IdempotencyKey makes a retry return
	// the first order.
	//
	// Errors: ErrInvalid CodeInvalidItems, CodeInvalidQuantity,
	// CodeUnknownProduct, CodeMixedCurrency, CodeTotalTooLarge,
	// CodeInvalidIdempotencyKey; ErrConflict "insufficient_stock" (from
	// inventory), CodeIdempotencyKeyReused, CodeRequestInProgress;
	// ErrUnavailable CodeCatalogUnavailable, CodeInventoryUnavailable.
	PlaceOrder(ctx context.Context, o NewOrder) (Order, error)
	// GetOrder returns an order of the caller's (any order for an admin);
	// anyone else's order is ErrNotFound CodeOrderNotFound, like an unknown
	// ID, so IDs cannot be probed.
	GetOrder(ctx context.Context, id string) (Order, error)
	// ListOrders pages through the caller's orders, newest first (all orders
	// for an admin). A bad limit or cursor is ErrInvalid "invalid_limit" or
	// "invalid_cursor".
	ListOrders(ctx context.Context, p shop.PageRequest) (shop.Page[Order], error)
	// PayOrder charges the card through the PaymentProvider and marks the
	// order paid (its owner only). While the charge runs the order is
	// paying: cancelling it is refused and it does not expire. Whatever
	// happens, an order ends paid and charged once, or not paid and not
	// charged.
	//
	// Errors: ErrInvalid CodeInvalidCard; ErrPaymentRequired CodeCardDeclined
	// (the order is pending again); ErrNotFound CodeOrderNotFound;
	// ErrForbidden CodeNotOrderOwner (an admin paying someone's order);
	// ErrConflict CodeInvalidTransition, CodeOrderExpired,
	// CodePaymentInProgress, CodePaymentRefunded; ErrUnavailable
	// CodePaymentsUnavailable (nothing was charged), CodePaymentPending (the
	// outcome is not known yet; the order settles on its own).
	PayOrder(ctx context.Context, id, cardNumber string) (Order, error)
	// CancelOrder cancels a pending order and releases its stock (owner or
	// admin). Errors: ErrNotFound CodeOrderNotFound; ErrConflict
	// CodeInvalidTransition, or CodePaymentInProgress while it is being paid.
	CancelOrder(ctx context.Context, id string) (Order, error)
	// RefundOrder gives a paid order's money back and marks it refunded
	// (admin only; anyone else is ErrForbidden); its units go back on hand.
	// Errors: ErrNotFound CodeOrderNotFound; ErrConflict
	// CodeInvalidTransition for an order that is not paid, or refunded
	// already; ErrUnavailable CodePaymentsUnavailable.
	RefundOrder(ctx context.Context, id string) (Order, error)
}

// The error codes of the order desk (see shop.CodeOf). Each comes with the
// kind named beside it. Codes of the shared vocabulary ("missing_token",
// "forbidden", "invalid_limit", "invalid_cursor") and inventory's
// "insufficient_stock" pass through unchanged.
const (
	// CodeOrderNotFound (ErrNotFound): no such order, or not the caller's.
	CodeOrderNotFound = "order_not_found"
	// CodeInvalidItems (ErrInvalid): no items, too many, or one without a product ID.
	CodeInvalidItems = "invalid_items"
	// CodeInvalidQuantity (ErrInvalid): a quantity outside 1..MaxQuantity.
	CodeInvalidQuantity = "invalid_quantity"
	// CodeUnknownProduct (ErrInvalid): an item names a product the catalog lacks.
	CodeUnknownProduct = "unknown_product"
	// CodeMixedCurrency (ErrInvalid): the items are priced in more than one currency.
	CodeMixedCurrency = "mixed_currency"
	// CodeTotalTooLarge (ErrInvalid): the total does not fit in an int64.
	CodeTotalTooLarge = "total_too_large"
	// CodeInvalidIdempotencyKey (ErrInvalid): a key longer than MaxIdemKeySize.
	CodeInvalidIdempotencyKey = "invalid_idempotency_key"
	// CodeIdempotencyKeyReused (ErrConflict): the key was used for other items.
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	// CodeRequestInProgress (ErrConflict, with RetryAfter): the first request
	// with the key has not finished (or died, until Recover frees the key).
	CodeRequestInProgress = "request_in_progress"
	// CodeInvalidTransition (ErrConflict): the state machine does not allow
	// the change from the order's status (see Status.CanBecome).
	CodeInvalidTransition = "invalid_transition"
	// CodePaymentInProgress (ErrConflict, with RetryAfter): the order is being
	// paid, so it cannot be cancelled or paid again now.
	CodePaymentInProgress = "payment_in_progress"
	// CodeOrderExpired (ErrConflict): the order's time ran out before it was
	// paid; it is expired now.
	CodeOrderExpired = "order_expired"
	// CodeNotOrderOwner (ErrForbidden): only the customer who placed an order
	// may pay it.
	CodeNotOrderOwner = "not_order_owner"
	// CodeInvalidCard (ErrInvalid): the card number is missing, malformed or
	// fails the Luhn check.
	CodeInvalidCard = "invalid_card"
	// CodeCardDeclined (ErrPaymentRequired): the provider declined the card.
	CodeCardDeclined = "card_declined"
	// CodePaymentRefunded (ErrConflict): a charge arrived for an order no
	// longer being paid and was refunded at once.
	CodePaymentRefunded = "payment_refunded"
	// CodePaymentsUnavailable (ErrUnavailable): the payment provider failed
	// and nothing was charged; try again later.
	CodePaymentsUnavailable = "payments_unavailable"
	// CodePaymentPending (ErrUnavailable, with RetryAfter): the outcome of
	// the charge is not known yet; the order stays paying until it is
	// settled (by Recover at the latest).
	CodePaymentPending = "payment_pending"
	// CodeCatalogUnavailable (ErrUnavailable): the catalog could not be reached.
	CodeCatalogUnavailable = "catalog_unavailable"
	// CodeInventoryUnavailable (ErrUnavailable): inventory could not be reached.
	CodeInventoryUnavailable = "inventory_unavailable"
	// CodePaymentNotFound (ErrNotFound): a PaymentProvider knows no payment
	// under the key or ID asked about.
	CodePaymentNotFound = "payment_not_found"
	// CodeMissingIdempotencyKey (ErrInvalid): a charge without an
	// idempotency key (DevPayments refuses it).
	CodeMissingIdempotencyKey = "missing_idempotency_key"
)

// Reasons recorded in an order's history (StatusChange.Reason) besides the
// decline code of a refused card.
const (
	// ReasonPaymentNotTaken: a charge with an unknown outcome turned out not
	// to have taken the money; the order is pending again.
	ReasonPaymentNotTaken = "payment_not_taken"
)

// Status is where an order is in its life.
type Status string

// Order statuses; see CanBecome for the ways between them. An order is
// paying while its card is being charged; the charge's outcome makes it paid,
// or pending again when no money was taken.
const (
	StatusPending   Status = "pending"
	StatusPaying    Status = "paying"
	StatusPaid      Status = "paid"
	StatusCancelled Status = "cancelled"
	StatusExpired   Status = "expired"
	StatusRefunded  Status = "refunded"
)

// CanBecome reports whether the order state machine allows s -> to:
//
//	pending -> paying | cancelled | expired
//	paying  -> paid | pending
//	paid    -> refunded
//
// Anything else is refused.
func (s Status) CanBecome(to Status) bool {
	switch s {
	case StatusPending:
		return to == StatusPaying || to == StatusCancelled || to == StatusExpired
	case StatusPaying:
		return to == StatusPaid || to == StatusPending
	case StatusPaid:
		return to == StatusRefunded
	}
	return false
}

// transitionError is the 409 for a transition the state machine refuses. An
// order being paid gets "payment_in_progress", with a hint to retry soon.
func transitionError(from, to Status) error {
	if from == StatusPaying && to != StatusPaid && to != StatusPending {
		e := shop.E(shop.ErrConflict, CodePaymentInProgress, "order is being paid; it cannot become %s now", to)
		e.RetryAfter = time.Second
		return e
	}
	if to == StatusPaying { // what the caller asked for is to pay
		to = StatusPaid
	}
	return shop.E(shop.ErrConflict, CodeInvalidTransition, "order is %s; it cannot become %s", from, to)
}

// Line is one product of an order, priced when the order was placed.
type Line struct {
	ProductID string `json:"product_id"`
	Name      string `json:"name"`
	UnitPrice int64  `json:"unit_price"`
	Quantity  int64  `json:"quantity"`
}

// StatusChange records one step of an order's history: who moved it from
// which status to which, when, and why when the step needs saying (such as
// "card_declined" for a payment that went back to pending). From is empty
// for the creation.
type StatusChange struct {
	From   Status    `json:"from,omitempty"`
	To     Status    `json:"to"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// Order is a customer's order: who placed it (UserID), where it is in its
// life (Status), the priced lines and their Total in minor units of
// Currency, when it was placed and when an unpaid order expires, the
// provider's PaymentID once paid and RefundID once refunded, and its
// History, oldest step first. IDs are ULIDs (shop.NewID), so they sort by
// creation time.
type Order struct {
	ID        string         `json:"id"`
	UserID    string         `json:"user_id"`
	Status    Status         `json:"status"`
	Lines     []Line         `json:"lines"`
	Total     int64          `json:"total"`
	Currency  string         `json:"currency"`
	CreatedAt time.Time      `json:"created_at"`
	ExpiresAt time.Time      `json:"expires_at"`
	PaymentID string         `json:"payment_id,omitempty"`
	RefundID  string         `json:"refund_id,omitempty"`
	History   []StatusChange `json:"history"`
	// PaymentAttempts counts the charges tried. The idempotency key of the
	// current attempt is "<order id>/pay/<PaymentAttempts>", so a decline
	// makes the next attempt use a new key. A Store keeps it as it is given
	// (Step.Apply raises it).
	PaymentAttempts int `json:"payment_attempts"`
}

// Item asks for a quantity of one product.
type Item struct {
	ProductID string `json:"product_id"`
	Quantity  int64  `json:"quantity"`
}

// NewOrder is what PlaceOrder needs.
type NewOrder struct {
	Items []Item `json:"items"`
	// IdempotencyKey, when set, identifies this request among the caller's:
	// a retry with the same key and items returns the first order, the same
	// key with other items is ErrConflict "idempotency_key_reused". Keys
	// belong to one customer: another customer's equal key is a new order.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Limits on an order, and the defaults of the options.
const (
	// MaxItems is the most items (distinct products) one order may list.
	MaxItems = 100
	// MaxQuantity is the most units of one product an order may ask for.
	MaxQuantity = 10_000
	// MaxIdemKeySize is the longest idempotency key accepted, in bytes.
	MaxIdemKeySize = 200
	// DefaultTTL is how long an unpaid order holds its stock.
	DefaultTTL = 15 * time.Minute
	// DefaultReservationGrace is how much longer than the order inventory
	// keeps a reservation, so a payment event delayed by an outage still
	// finds the units held.
	DefaultReservationGrace = time.Hour
	// DefaultPaymentTimeout bounds one charge and its settlement. They run
	// to the end even when the paying client goes away.
	DefaultPaymentTimeout = 30 * time.Second
	// idempotencyWait is how long a retry waits for the first request with
	// its Idempotency-Key before answering "request_in_progress".
	idempotencyWait = 10 * time.Second
)

// Actor names recorded in the history when no user made the change.
const systemActor = "system"

// asService returns ctx acting as the order service itself, which is how
// it presents itself to inventory.
func asService(ctx context.Context) context.Context {
	return shop.WithIdentity(ctx, shop.Identity{UserID: "order", Role: shop.RoleService})
}

// Option configures NewService. An option given a value it cannot use makes
// NewService panic with a message naming the option: such a value is a bug
// in the wiring, so validate settings before they become options.
type Option func(*options)

// options are the settings of a service; NewService starts from the
// defaults and applies the Options in order.
type options struct {
	ttl            time.Duration
	grace          time.Duration
	paymentTimeout time.Duration
	now            func() time.Time
	logger         log.Logger
}

// WithTTL sets how long an unpaid order lives before it expires (default
// DefaultTTL). A duration that is not positive makes NewService panic.
func WithTTL(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			panic(fmt.Sprintf("order.WithTTL: the TTL must be positive, got %v", d))
		}
		o.ttl = d
	}
}

// WithReservationGrace sets how much longer than the order inventory holds
// its reservation (default DefaultReservationGrace). Zero makes the
// reservation end with the order; a negative duration makes NewService panic.
func WithReservationGrace(d time.Duration) Option {
	return func(o *options) {
		if d < 0 {
			panic(fmt.Sprintf("order.WithReservationGrace: the grace must not be negative, got %v", d))
		}
		o.grace = d
	}
}

// WithClock replaces time.Now, for tests. A nil clock makes NewService panic.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now == nil {
			panic("order.WithClock: the clock must not be nil")
		}
		o.now = now
	}
}

// WithPaymentTimeout bounds one charge and its settlement (default
// DefaultPaymentTimeout). A duration that is not positive makes NewService
// panic.
func WithPaymentTimeout(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			panic(fmt.Sprintf("order.WithPaymentTimeout: the timeout must be positive, got %v", d))
		}
		o.paymentTimeout = d
	}
}

// WithLogger sets where the service reports what it handles itself: failures
// it recovers from (such as a reservation it could not release), late
// charges it refunded, and what the background work (RunExpiry,
// RunRecovery) did. The default logs nothing. A nil logger makes NewService
// panic; use log.NewNopLogger for none.
func WithLogger(l log.Logger) Option {
	return func(o *options) {
		if l == nil {
			panic("order.WithLogger: the logger must not be nil (use log.NewNopLogger for none)")
		}
		o.logger = l
	}
}

type orderService struct {
	options
	store     Store
	catalog   catalog.Service
	inventory inventory.Service
	payments  PaymentProvider

	placing inflight // orders between reserving stock and being stored
	paying  inflight // orders whose charge this process is running
}

// NewService returns the order service on store. catalog and inventory may
// be local services or HTTP clients; payments charges cards (DevPayments for
// development and tests). Run one per order database: what a crash left
// behind is recognised as what no live Orders is working on (see Recover).
// New returns the same service with its default middleware.
func NewService(store Store, cat catalog.Service, inv inventory.Service, payments PaymentProvider, opts ...Option) *Orders {
	o := options{ttl: DefaultTTL, grace: DefaultReservationGrace, paymentTimeout: DefaultPaymentTimeout,
		now: time.Now, logger: log.NewNopLogger()}
	for _, opt := range opts {
		opt(&o)
	}
	return &Orders{&orderService{options: o, store: store, catalog: cat, inventory: inv, payments: payments}}
}

// Orders is the order service returned by NewService. Besides Service it
// offers ExpireOrders, RunExpiry, Recover and RunRecovery: the background
// work the process hosting it runs, which needs the service's own state (the
// requests it has in flight).
type Orders struct{ s *orderService }

var _ Service = (*Orders)(nil)

// PlaceOrder implements Service.
//
// Stock is reserved under the new order's ID before the order is stored.
// With an Idempotency-Key the key is claimed for that ID first, so a retry
// finds the first request (and waits for it) instead of reserving stock of
// its own. A crash between the reservation and the stored order leaves a
// reservation without an order, which Recover releases.
func (o *Orders) PlaceOrder(ctx context.Context, in NewOrder) (Order, error) {
	s := o.s
	id, err := shop.RequireRole(ctx, shop.RoleCustomer)
	if err != nil {
		return Order{}, err
	}
	items, err := normalizeItems(in.Items)
	if err != nil {
		return Order{}, err
	}
	if len(in.IdempotencyKey) > MaxIdemKeySize {
		return Order{}, shop.E(shop.ErrInvalid, CodeInvalidIdempotencyKey, "Idempotency-Key must be at most %d characters", MaxIdemKeySize)
	}
	hash := requestHash(items)
	if in.IdempotencyKey != "" {
		if prev, ok, err := s.keyedOrder(ctx, id.UserID, in.IdempotencyKey, hash); err != nil || ok {
			return prev, err
		}
	}

	lines, total, currency, err := s.price(ctx, items)
	if err != nil {
		return Order{}, err
	}
	now := s.now().UTC()
	ord := Order{
		ID: shop.NewID(), UserID: id.UserID, Status: StatusPending, Lines: lines,
		Total: total, Currency: currency, CreatedAt: now, ExpiresAt: now.Add(s.ttl),
		History: []StatusChange{{To: StatusPending, By: id.UserID, At: now}},
	}
	end := s.placing.start(ord.ID)
	defer end()
	if in.IdempotencyKey != "" {
		claimed, err := s.store.ClaimKey(ctx, Claim{UserID: id.UserID, Key: in.IdempotencyKey, RequestHash: hash, OrderID: ord.ID, ClaimedAt: now})
		if err == nil && !claimed {
			end()
			prev, ok, err := s.keyedOrder(ctx, id.UserID, in.IdempotencyKey, hash)
			if err == nil && !ok {
				err = requestInProgress()
			}
			return prev, err
		}
		if err != nil {
			return Order{}, err
		}
	}
	if _, _, err := s.inventory.Reserve(asService(ctx), ord.ID, reservationLines(items), ord.ExpiresAt.Add(s.grace)); err != nil {
		s.unclaim(id.UserID, in.IdempotencyKey, ord.ID)
		return Order{}, s.dependencyError(ctx, "inventory", CodeInventoryUnavailable, err)
	}
	if err := s.store.Create(ctx, ord); err != nil {
		// The order was not stored: give the stock and the key back,
		// whatever the reason.
		s.release(ord.ID)
		s.unclaim(id.UserID, in.IdempotencyKey, ord.ID)
		return Order{}, err
	}
	return ord, nil
}

// keyedOrder returns the order a caller's idempotency key stands for, and
// whether there is one. While the first request with the key is still
// placing its order in this process, it waits for it; a key claimed by a
// request this process no longer runs (a crash) is "request_in_progress"
// until Recover frees it.
func (s *orderService) keyedOrder(ctx context.Context, userID, key, hash string) (Order, bool, error) {
	for rechecked := false; ; {
		c, ok, err := s.store.KeyClaim(ctx, userID, key)
		if err != nil || !ok {
			return Order{}, false, err
		}
		if c.RequestHash != hash {
			return Order{}, false, shop.E(shop.ErrConflict, CodeIdempotencyKeyReused, "this Idempotency-Key was already used for a different order")
		}
		ord, err := s.store.Get(ctx, c.OrderID)
		if err == nil {
			return ord, true, nil
		}
		if !errors.Is(err, shop.ErrNotFound) {
			return Order{}, false, err
		}
		if s.placing.wait(ctx, c.OrderID, idempotencyWait) {
			continue // it ended: stored its order, or dropped its claim
		}
		// Not in flight: the first request may have ended between reading
		// its order and waiting for it, and what it left is final. Look
		// once more; after that, the claim belongs to a request that died.
		if !rechecked && !s.placing.has(c.OrderID) {
			rechecked = true
			continue
		}
		return Order{}, false, requestInProgress()
	}
}

func requestInProgress() error {
	e := shop.E(shop.ErrConflict, CodeRequestInProgress, "a request with this Idempotency-Key is still being processed; retry shortly")
	e.RetryAfter = time.Second
	return e
}

// unclaim frees an idempotency key whose order was not stored, so that a
// retry places the order afresh. A failure is logged; Recover frees the key
// later.
func (s *orderService) unclaim(userID, key, orderID string) {
	if key == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.store.DropClaim(ctx, Claim{UserID: userID, Key: key, OrderID: orderID}); err != nil {
		level.Warn(s.logger).Log("msg", "could not free the idempotency key of an unstored order", "order_id", orderID, "err", err)
	}
}

// release gives an unstored order's reservation back, detached from the
// request so a cancelled request still cleans up. A failure is logged; the
// reservation then expires on its own.
func (s *orderService) release(orderID string) {
	ctx, cancel := context.WithTimeout(asService(context.Background()), 10*time.Second)
	defer cancel()
	if _, err := s.inventory.Release(ctx, orderID); err != nil {
		level.Warn(s.logger).Log("msg", "could not release the reservation of an unstored order; it will expire", "order_id", orderID, "err", err)
	}
}

// price reads each product from the catalog and returns the priced lines,
// the total and the single currency.
func (s *orderService) price(ctx context.Context, items []Item) ([]Line, int64, string, error) {
	lines := make([]Line, 0, len(items))
	var total int64
	currency := ""
	for _, it := range items {
		p, err := s.catalog.GetProduct(ctx, it.ProductID)
		if errors.Is(err, shop.ErrNotFound) {
			return nil, 0, "", shop.E(shop.ErrInvalid, CodeUnknownProduct, "product %q does not exist", it.ProductID)
		}
		if err != nil {
			return nil, 0, "", s.dependencyError(ctx, "catalog", CodeCatalogUnavailable, err)
		}
		if currency == "" {
			currency = p.Currency
		} else if p.Currency != currency {
			return nil, 0, "", shop.E(shop.ErrInvalid, CodeMixedCurrency, "all items of an order must share one currency; %q is priced in %s, earlier items in %s", p.ID, p.Currency, currency)
		}
		if p.Price > 0 && it.Quantity > (math.MaxInt64-total)/p.Price {
			return nil, 0, "", shop.E(shop.ErrInvalid, CodeTotalTooLarge, "the order total is too large")
		}
		total += p.Price * it.Quantity
		lines = append(lines, Line{ProductID: p.ID, Name: p.Name, UnitPrice: p.Price, Quantity: it.Quantity})
	}
	return lines, total, currency, nil
}

// dependencyError passes on a dependency's domain errors (they keep their
// kind and code) and turns anything else, such as a refused connection or a
// broken database, into ErrUnavailable without internal details; the cause
// is logged.
func (s *orderService) dependencyError(ctx context.Context, service, code string, err error) error {
	if shop.KindOf(err) != nil {
		return err
	}
	level.Warn(s.logger).Log("msg", "dependency failed", "service", service, "request_id", shop.RequestIDFrom(ctx), "err", err)
	return shop.E(shop.ErrUnavailable, code, "the %s service is unavailable; try again later", service)
}

// normalizeItems validates items and merges repeated products, keeping the
// order of first appearance.
func normalizeItems(items []Item) ([]Item, error) {
	if len(items) == 0 {
		return nil, shop.E(shop.ErrInvalid, CodeInvalidItems, "items must list at least one product")
	}
	if len(items) > MaxItems {
		return nil, shop.E(shop.ErrInvalid, CodeInvalidItems, "items may list at most %d products", MaxItems)
	}
	out := make([]Item, 0, len(items))
	index := make(map[string]int, len(items))
	for i, it := range items {
		pid := strings.TrimSpace(it.ProductID)
		if pid == "" {
			return nil, shop.E(shop.ErrInvalid, CodeInvalidItems, "items[%d].product_id is required", i)
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			return nil, shop.E(shop.ErrInvalid, CodeInvalidQuantity, "items[%d].quantity must be between 1 and %d", i, MaxQuantity)
		}
		if j, ok := index[pid]; ok {
			out[j].Quantity += it.Quantity
			if out[j].Quantity > MaxQuantity {
				return nil, shop.E(shop.ErrInvalid, CodeInvalidQuantity, "the quantity of product %q must be at most %d", pid, MaxQuantity)
			}
			continue
		}
		index[pid] = len(out)
		out = append(out, Item{ProductID: pid, Quantity: it.Quantity})
	}
	return out, nil
}

// requestHash fingerprints an order request for idempotency checks.
func requestHash(items []Item) string {
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b Item) int { return strings.Compare(a.ProductID, b.ProductID) })
	h := sha256.New()
	for _, it := range sorted {
		fmt.Fprintf(h, "%s\x00%d\x00", it.ProductID, it.Quantity)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func reservationLines(items []Item) []inventory.Line {
	out := make([]inventory.Line, len(items))
	for i, it := range items {
		out[i] = inventory.Line{ProductID: it.ProductID, Quantity: it.Quantity}
	}
	return out
}

// GetOrder implements Service.
func (o *Orders) GetOrder(ctx context.Context, id string) (Order, error) {
	caller, err := shop.Authenticated(ctx)
	if err != nil {
		return Order{}, err
	}
	return o.s.visible(ctx, caller, id)
}

// visible loads an order the caller may see: their own, or any for an admin.
func (s *orderService) visible(ctx context.Context, caller shop.Identity, id string) (Order, error) {
	ord, err := s.get(ctx, id)
	if err != nil {
		return Order{}, err
	}
	if caller.Role != shop.RoleAdmin && ord.UserID != caller.UserID {
		return Order{}, errOrderNotFound(id)
	}
	return ord, nil
}

// get reads an order from the store. A store's not-found error becomes
// CodeOrderNotFound, whatever store it came from.
func (s *orderService) get(ctx context.Context, id string) (Order, error) {
	o, err := s.store.Get(ctx, id)
	return o, notFound(id, err)
}

// transition applies st to an order in the store (see Store.Transition),
// with the not-found error of get.
func (s *orderService) transition(ctx context.Context, id string, st Step) (Order, error) {
	o, err := s.store.Transition(ctx, id, st)
	return o, notFound(id, err)
}

// notFound makes a store's ErrNotFound for order id the service's own.
func notFound(id string, err error) error {
	if errors.Is(err, shop.ErrNotFound) && shop.CodeOf(err) != CodeOrderNotFound {
		return errOrderNotFound(id)
	}
	return err
}

func errOrderNotFound(id string) error {
	return shop.E(shop.ErrNotFound, CodeOrderNotFound, "order %q not found", id)
}

// ListOrders implements Service.
func (o *Orders) ListOrders(ctx context.Context, p shop.PageRequest) (shop.Page[Order], error) {
	caller, err := shop.Authenticated(ctx)
	if err != nil {
		return shop.Page[Order]{}, err
	}
	before, err := p.Normalize()
	if err != nil {
		return shop.Page[Order]{}, err
	}
	owner := caller.UserID
	if caller.Role == shop.RoleAdmin {
		owner = ""
	}
	// One more than the page tells whether another page follows.
	items, err := o.s.store.List(ctx, owner, before, p.Limit+1)
	if err != nil {
		return shop.Page[Order]{}, err
	}
	page := shop.Page[Order]{Items: items}
	if page.Items == nil {
		page.Items = []Order{}
	}
	if len(items) > p.Limit {
		page.Items = items[:p.Limit]
		page.NextCursor = shop.EncodeCursor(items[p.Limit-1].ID)
	}
	return page, nil
}

// PayOrder implements Service.
func (o *Orders) PayOrder(ctx context.Context, id, cardNumber string) (Order, error) {
	s := o.s
	caller, err := shop.Authenticated(ctx)
	if err != nil {
		return Order{}, err
	}
	card, err := normalizeCard(cardNumber)
	if err != nil {
		return Order{}, err
	}
	ord, err := s.visible(ctx, caller, id)
	if err != nil {
		return Order{}, err
	}
	if ord.UserID != caller.UserID {
		return Order{}, shop.E(shop.ErrForbidden, CodeNotOrderOwner, "only the customer who placed an order can pay it")
	}
	// Marked in flight before the order becomes paying, so Recover never
	// takes this payment for one a crash interrupted.
	end := s.paying.start(ord.ID)
	defer end()
	now := s.now().UTC()
	ord, err = s.transition(ctx, ord.ID, Step{To: StatusPaying, By: caller.UserID, At: now, NewAttempt: true,
		Check: func(o Order) error {
			if !now.Before(o.ExpiresAt) {
				return errPastExpiry{}
			}
			return nil
		}})
	if errors.As(err, new(errPastExpiry)) {
		if _, err := s.transition(ctx, id, Step{To: StatusExpired, By: systemActor, At: now}); err != nil && !errors.Is(err, shop.ErrConflict) {
			return Order{}, err
		}
		return Order{}, shop.E(shop.ErrConflict, CodeOrderExpired, "order %q expired; place it again", id)
	}
	if err != nil {
		return Order{}, err
	}

	// The charge and its settlement run to the end even if the caller goes
	// away: an abandoned charge would leave its outcome unknown.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.paymentTimeout)
	defer cancel()
	p, err := s.payments.Charge(pctx, Charge{IdempotencyKey: paymentKey(ord), OrderID: ord.ID,
		Amount: shop.Money{Amount: ord.Total, Currency: ord.Currency}, CardNumber: card})
	switch {
	case err == nil:
		return s.settlePaid(pctx, ord, p, caller.UserID)
	case errors.Is(err, shop.ErrPaymentRequired), errors.Is(err, shop.ErrInvalid):
		// Declined: no money was taken.
		if _, terr := s.transition(pctx, ord.ID, Step{To: StatusPending, By: systemActor, At: s.now().UTC(), Reason: shop.CodeOf(err)}); terr != nil {
			level.Error(s.logger).Log("msg", "a declined payment could not return its order to pending; recovery will", "order_id", ord.ID, "err", terr)
		}
		return Order{}, err
	default:
		level.Warn(s.logger).Log("msg", "charge failed; asking the provider what happened", "order_id", ord.ID, "request_id", shop.RequestIDFrom(ctx), "err", err)
		paid, charged, err := s.resolvePayment(pctx, ord, caller.UserID)
		if err == nil && !charged {
			err = shop.E(shop.ErrUnavailable, CodePaymentsUnavailable, "the payment could not be taken; nothing was charged, try again later")
		}
		return paid, err
	}
}

// errPastExpiry: an order was asked to become paying after its time was up.
type errPastExpiry struct{}

func (errPastExpiry) Error() string { return "order is past its expiry" }

// paymentKey is the idempotency key of an order's current payment attempt.
func paymentKey(o Order) string { return fmt.Sprintf("%s/pay/%d", o.ID, o.PaymentAttempts) }

// settlePaid records a charge the provider took: the order becomes paid
// and order.paid goes out. If that cannot be stored the order stays paying,
// and Recover finds the charge and finishes the job. If the order was
// settled meanwhile without this charge, the money goes back (refundLate).
func (s *orderService) settlePaid(ctx context.Context, ord Order, p Payment, actor string) (Order, error) {
	paid, err := s.transition(ctx, ord.ID, Step{To: StatusPaid, By: actor, At: s.now().UTC(), PaymentID: p.ID})
	if errors.Is(err, shop.ErrConflict) {
		cur, gerr := s.get(ctx, ord.ID)
		if gerr == nil && cur.PaymentID == p.ID {
			return cur, nil // Recover settled it with this very charge
		}
		return Order{}, s.refundLate(ctx, ord.ID, p)
	}
	if err != nil {
		level.Error(s.logger).Log("msg", "a charged order could not be marked paid; recovery will", "order_id", ord.ID, "payment_id", p.ID, "err", err)
		return Order{}, paymentPending()
	}
	return paid, nil
}

// refundLate gives back a charge that arrived for an order no longer being
// paid (a provider broke the LookupCharge promise), and records it in the
// order's history.
func (s *orderService) refundLate(ctx context.Context, orderID string, p Payment) error {
	refundID, err := s.payments.Refund(ctx, Refund{PaymentID: p.ID, IdempotencyKey: p.ID + "/void", Amount: p.Amount})
	if err != nil {
		level.Error(s.logger).Log("msg", "MONEY: a charge arrived for an order no longer being paid and could not be refunded; refund it by hand",
			"order_id", orderID, "payment_id", p.ID, "err", err)
		return paymentPending()
	}
	level.Warn(s.logger).Log("msg", "a charge arrived for an order no longer being paid; it was refunded", "order_id", orderID, "payment_id", p.ID, "refund_id", refundID)
	if err := s.store.Note(ctx, orderID, systemActor, s.now().UTC(), "late charge "+p.ID+" refunded as "+refundID); err != nil {
		level.Error(s.logger).Log("msg", "could not record a refunded late charge in the order's history", "order_id", orderID, "err", err)
	}
	return shop.E(shop.ErrConflict, CodePaymentRefunded, "the order changed while it was being paid; the charge was refunded")
}

// resolvePayment settles a paying order whose charge has an unknown outcome
// by asking the provider about its idempotency key: paid if the money was
// taken, pending again if not (charged false). If the provider cannot say,
// or the outcome cannot be stored, the order stays paying for Recover to
// try again, and the error is "payment_pending".
func (s *orderService) resolvePayment(ctx context.Context, ord Order, actor string) (paid Order, charged bool, err error) {
	p, err := s.payments.LookupCharge(ctx, paymentKey(ord))
	switch {
	case err == nil:
		paid, err := s.settlePaid(ctx, ord, p, actor)
		return paid, true, err
	case errors.Is(err, shop.ErrNotFound):
		_, err := s.transition(ctx, ord.ID, Step{To: StatusPending, By: systemActor, At: s.now().UTC(), Reason: ReasonPaymentNotTaken})
		if errors.Is(err, shop.ErrConflict) {
			return Order{}, false, nil // settled meanwhile, by Recover; nothing was charged under this key
		}
		if err != nil {
			level.Error(s.logger).Log("msg", "an uncharged order could not return to pending; recovery will", "order_id", ord.ID, "err", err)
			return Order{}, false, paymentPending()
		}
		return Order{}, false, nil
	default:
		level.Warn(s.logger).Log("msg", "the payment provider cannot say whether an order was charged; recovery will ask again", "order_id", ord.ID, "err", err)
		return Order{}, false, paymentPending()
	}
}

func paymentPending() error {
	e := shop.E(shop.ErrUnavailable, CodePaymentPending, "the outcome of the payment is not known yet; the order will be settled shortly, check it again")
	e.RetryAfter = 5 * time.Second
	return e
}

// CancelOrder implements Service.
func (o *Orders) CancelOrder(ctx context.Context, id string) (Order, error) {
	s := o.s
	caller, err := shop.Authenticated(ctx)
	if err != nil {
		return Order{}, err
	}
	ord, err := s.visible(ctx, caller, id)
	if err != nil {
		return Order{}, err
	}
	return s.transition(ctx, ord.ID, Step{To: StatusCancelled, By: caller.UserID, At: s.now().UTC()})
}

// RefundOrder implements Service.
func (o *Orders) RefundOrder(ctx context.Context, id string) (Order, error) {
	s := o.s
	caller, err := shop.RequireRole(ctx, shop.RoleAdmin)
	if err != nil {
		return Order{}, err
	}
	ord, err := s.get(ctx, id)
	if err != nil {
		return Order{}, err
	}
	if !ord.Status.CanBecome(StatusRefunded) {
		return Order{}, transitionError(ord.Status, StatusRefunded)
	}
	// The refund's key is the order's: refunds racing each other give the
	// money back once, and only one of them moves the order.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.paymentTimeout)
	defer cancel()
	refundID, err := s.payments.Refund(rctx, Refund{PaymentID: ord.PaymentID, IdempotencyKey: ord.ID + "/refund",
		Amount: shop.Money{Amount: ord.Total, Currency: ord.Currency}})
	if err != nil {
		return Order{}, s.dependencyError(ctx, "payments", CodePaymentsUnavailable, err)
	}
	return s.transition(rctx, ord.ID, Step{To: StatusRefunded, By: caller.UserID, At: s.now().UTC(), RefundID: refundID, Reason: "refund " + refundID})
}

// ExpireOrders moves the pending orders whose time is up (up to 500 per
// call) to expired, each with its order.expired event, which releases the
// stock, and returns how many it expired. Orders being paid are left alone
// until their payment ends.
func (o *Orders) ExpireOrders(ctx context.Context) (int, error) {
	s := o.s
	now := s.now().UTC()
	ids, err := s.store.Overdue(ctx, now, expiryBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		_, err := s.transition(ctx, id, Step{To: StatusExpired, By: systemActor, At: now})
		switch {
		case err == nil:
			n++
		case errors.Is(err, shop.ErrConflict): // being paid, paid or cancelled meanwhile
		default:
			return n, err
		}
	}
	return n, nil
}

// expiryBatch is the most orders one ExpireOrders call expires.
const expiryBatch = 500

// RunExpiry calls ExpireOrders every interval (which must be positive, as
// for time.NewTicker) until ctx is done. Failures and expired orders are
// logged to the service's logger (WithLogger).
func (o *Orders) RunExpiry(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := o.ExpireOrders(ctx); err != nil && ctx.Err() == nil {
				level.Error(o.s.logger).Log("msg", "expiring orders failed", "err", err)
			} else if n > 0 {
				level.Info(o.s.logger).Log("msg", "expired unpaid orders", "count", n)
			}
		}
	}
}
