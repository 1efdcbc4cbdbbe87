// Package order places, pays, cancels and expires orders. It prices lines
// from the catalog and holds stock through inventory, both reached only
// through their Service interfaces, so a local value or a remote HTTP client
// plugs in the same way.
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
// client (MakeClientEndpoints) both implement it.
type Service interface {
	// PlaceOrder prices the items from the catalog, reserves their stock and
	// stores the order as pending (customers only). A non-empty
	// NewOrder.IdempotencyKey makes a retry return the first order.
	PlaceOrder(ctx context.Context, o NewOrder) (Order, error)
	// GetOrder returns an order of the caller's (any order for an admin);
	// anyone else's order is ErrNotFound, so IDs cannot be probed.
	GetOrder(ctx context.Context, id string) (Order, error)
	// ListOrders pages through the caller's orders, newest first (all orders
	// for an admin).
	ListOrders(ctx context.Context, p shop.PageRequest) (shop.Page[Order], error)
	// PayOrder charges the card through the PaymentProvider and marks the
	// order paid (its owner only). While the charge runs the order is
	// paying: cancelling it is refused and it does not expire. Whatever
	// happens, an order ends paid and charged once, or not paid and not
	// charged.
	PayOrder(ctx context.Context, id, cardNumber string) (Order, error)
	// CancelOrder cancels a pending order and releases its stock (owner or
	// admin). A payment in progress makes it ErrConflict "payment_in_progress".
	CancelOrder(ctx context.Context, id string) (Order, error)
	// RefundOrder gives a paid order's money back and marks it refunded
	// (admin only); its units go back on hand. Refunding an order that is not
	// paid, or twice, is ErrConflict "invalid_transition".
	RefundOrder(ctx context.Context, id string) (Order, error)
}

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

// transitions is the order state machine: from a status, the statuses it may
// become. Anything not listed is refused.
var transitions = map[Status][]Status{
	StatusPending: {StatusPaying, StatusCancelled, StatusExpired},
	StatusPaying:  {StatusPaid, StatusPending},
	StatusPaid:    {StatusRefunded},
}

// CanBecome reports whether the state machine allows s -> to.
func (s Status) CanBecome(to Status) bool {
	return slices.Contains(transitions[s], to)
}

// transitionError is the 409 for a transition the state machine refuses. An
// order being paid gets "payment_in_progress", with a hint to retry soon.
func transitionError(from, to Status) error {
	if from == StatusPaying && to != StatusPaid && to != StatusPending {
		e := shop.E(shop.ErrConflict, "payment_in_progress", "order is being paid; it cannot become %s now", to)
		e.RetryAfter = time.Second
		return e
	}
	if to == StatusPaying { // what the caller asked for is to pay
		to = StatusPaid
	}
	return shop.E(shop.ErrConflict, "invalid_transition", "order is %s; it cannot become %s", from, to)
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

// Order is a customer's order. Total is in minor units of Currency.
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

	// paymentAttempts counts the charges tried; see paymentKey.
	paymentAttempts int
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
	// key with other items is ErrConflict "idempotency_key_reused".
	IdempotencyKey string `json:"-"`
}

// Limits on an order.
const (
	MaxItems       = 100
	MaxQuantity    = 10_000
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

// serviceIdentity is how the order service presents itself to inventory.
var serviceIdentity = shop.Identity{UserID: "order", Role: shop.RoleService}

// Option configures the service.
type Option func(*orderService)

// WithTTL sets how long an unpaid order lives before it expires.
func WithTTL(d time.Duration) Option { return func(s *orderService) { s.ttl = d } }

// WithReservationGrace sets how much longer than the order inventory holds
// its reservation (default DefaultReservationGrace).
func WithReservationGrace(d time.Duration) Option { return func(s *orderService) { s.grace = d } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(s *orderService) { s.now = now } }

// WithPaymentTimeout bounds one charge and its settlement (default
// DefaultPaymentTimeout).
func WithPaymentTimeout(d time.Duration) Option {
	return func(s *orderService) { s.paymentTimeout = d }
}

// WithLogger sets where the service reports failures it handles itself
// (such as a reservation it could not release).
func WithLogger(l log.Logger) Option { return func(s *orderService) { s.logger = l } }

type orderService struct {
	store          *Store
	catalog        catalog.Service
	inventory      inventory.Service
	payments       PaymentProvider
	ttl            time.Duration
	grace          time.Duration
	paymentTimeout time.Duration
	now            func() time.Time
	logger         log.Logger

	placing inflight // orders between reserving stock and being stored
	paying  inflight // orders whose charge this process is running
}

// NewService returns the order service. catalog and inventory may be local
// services or HTTP clients; payments charges cards (DevPayments for
// development and tests). Run one per order database: what a crash left
// behind is recognised as what no live Orders is working on (see Recover).
func NewService(store *Store, cat catalog.Service, inv inventory.Service, payments PaymentProvider, opts ...Option) *Orders {
	s := &orderService{store: store, catalog: cat, inventory: inv, payments: payments,
		ttl: DefaultTTL, grace: DefaultReservationGrace, paymentTimeout: DefaultPaymentTimeout,
		now: time.Now, logger: log.NewNopLogger()}
	for _, o := range opts {
		o(s)
	}
	return &Orders{s}
}

// Orders is the order service returned by NewService. Besides Service it
// offers ExpireOrders, RunExpiry, Recover and RunRecovery, which the process
// hosting it runs.
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
		return Order{}, shop.E(shop.ErrInvalid, "invalid_idempotency_key", "Idempotency-Key must be at most %d characters", MaxIdemKeySize)
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
		err := s.store.claimKey(ctx, id.UserID, in.IdempotencyKey, hash, ord.ID, now)
		if errors.Is(err, errKeyTaken) {
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
	svcCtx := shop.WithIdentity(ctx, serviceIdentity)
	if _, err := s.inventory.Reserve(svcCtx, ord.ID, reservationLines(items), ord.ExpiresAt.Add(s.grace)); err != nil {
		s.unclaim(id.UserID, in.IdempotencyKey, ord.ID)
		return Order{}, s.dependencyError(ctx, "inventory", err)
	}
	if err := s.store.create(ctx, ord); err != nil {
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
	for {
		c, ok, err := s.store.keyClaim(ctx, userID, key)
		if err != nil || !ok {
			return Order{}, false, err
		}
		if c.hash != hash {
			return Order{}, false, shop.E(shop.ErrConflict, "idempotency_key_reused", "this Idempotency-Key was already used for a different order")
		}
		ord, err := s.store.get(ctx, c.orderID)
		if err == nil {
			return ord, true, nil
		}
		if !errors.Is(err, shop.ErrNotFound) {
			return Order{}, false, err
		}
		if !s.placing.wait(ctx, c.orderID, idempotencyWait) {
			return Order{}, false, requestInProgress()
		}
	}
}

func requestInProgress() error {
	e := shop.E(shop.ErrConflict, "request_in_progress", "a request with this Idempotency-Key is still being processed; retry shortly")
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
	if err := s.store.dropClaim(ctx, userID, key, orderID); err != nil {
		level.Warn(s.logger).Log("msg", "could not free the idempotency key of an unstored order", "order_id", orderID, "err", err)
	}
}

// release gives an unstored order's reservation back, detached from the
// request so a cancelled request still cleans up. A failure is logged; the
// reservation then expires on its own.
func (s *orderService) release(orderID string) {
	ctx, cancel := context.WithTimeout(shop.WithIdentity(context.Background(), serviceIdentity), 10*time.Second)
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
			return nil, 0, "", shop.E(shop.ErrInvalid, "unknown_product", "product %q does not exist", it.ProductID)
		}
		if err != nil {
			return nil, 0, "", s.dependencyError(ctx, "catalog", err)
		}
		if currency == "" {
			currency = p.Currency
		} else if p.Currency != currency {
			return nil, 0, "", shop.E(shop.ErrInvalid, "mixed_currency", "all items of an order must share one currency; %q is priced in %s, earlier items in %s", p.ID, p.Currency, currency)
		}
		if p.Price > 0 && it.Quantity > (math.MaxInt64-total)/p.Price {
			return nil, 0, "", shop.E(shop.ErrInvalid, "total_too_large", "the order total is too large")
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
func (s *orderService) dependencyError(ctx context.Context, service string, err error) error {
	if shop.KindOf(err) != nil {
		return err
	}
	level.Warn(s.logger).Log("msg", "dependency failed", "service", service, "request_id", shop.RequestIDFrom(ctx), "err", err)
	return shop.E(shop.ErrUnavailable, service+"_unavailable", "the %s service is unavailable; try again later", service)
}

// normalizeItems validates items and merges repeated products, keeping the
// order of first appearance.
func normalizeItems(items []Item) ([]Item, error) {
	if len(items) == 0 {
		return nil, shop.E(shop.ErrInvalid, "invalid_items", "items must list at least one product")
	}
	if len(items) > MaxItems {
		return nil, shop.E(shop.ErrInvalid, "invalid_items", "items may list at most %d products", MaxItems)
	}
	out := make([]Item, 0, len(items))
	index := make(map[string]int, len(items))
	for i, it := range items {
		pid := strings.TrimSpace(it.ProductID)
		if pid == "" {
			return nil, shop.E(shop.ErrInvalid, "invalid_items", "items[%d].product_id is required", i)
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			return nil, shop.E(shop.ErrInvalid, "invalid_quantity", "items[%d].quantity must be between 1 and %d", i, MaxQuantity)
		}
		if j, ok := index[pid]; ok {
			out[j].Quantity += it.Quantity
			if out[j].Quantity > MaxQuantity {
				return nil, shop.E(shop.ErrInvalid, "invalid_quantity", "the quantity of product %q must be at most %d", pid, MaxQuantity)
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
	ord, err := s.store.get(ctx, id)
	if err != nil {
		return Order{}, err
	}
	if caller.Role != shop.RoleAdmin && ord.UserID != caller.UserID {
		return Order{}, errOrderNotFound(id)
	}
	return ord, nil
}

func errOrderNotFound(id string) error {
	return shop.E(shop.ErrNotFound, "order_not_found", "order %q not found", id)
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
	return o.s.store.list(ctx, owner, before, p.Limit)
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
		return Order{}, shop.E(shop.ErrForbidden, "not_order_owner", "only the customer who placed an order can pay it")
	}
	// Marked in flight before the order becomes paying, so Recover never
	// takes this payment for one a crash interrupted.
	end := s.paying.start(ord.ID)
	defer end()
	now := s.now().UTC()
	ord, err = s.store.transition(ctx, ord.ID, step{to: StatusPaying, by: caller.UserID, at: now, newAttempt: true,
		check: func(o Order) error {
			if !now.Before(o.ExpiresAt) {
				return errPastExpiry
			}
			return nil
		}})
	if errors.Is(err, errPastExpiry) {
		if _, err := s.store.transition(ctx, id, step{to: StatusExpired, by: systemActor, at: now}); err != nil && !errors.Is(err, shop.ErrConflict) {
			return Order{}, err
		}
		return Order{}, shop.E(shop.ErrConflict, "order_expired", "order %q expired; place it again", id)
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
		if _, terr := s.store.transition(pctx, ord.ID, step{to: StatusPending, by: systemActor, at: s.now().UTC(), reason: shop.CodeOf(err)}); terr != nil {
			level.Error(s.logger).Log("msg", "a declined payment could not return its order to pending; recovery will", "order_id", ord.ID, "err", terr)
		}
		return Order{}, err
	default:
		level.Warn(s.logger).Log("msg", "charge failed; asking the provider what happened", "order_id", ord.ID, "request_id", shop.RequestIDFrom(ctx), "err", err)
		paid, charged, err := s.resolvePayment(pctx, ord, caller.UserID)
		if err == nil && !charged {
			err = shop.E(shop.ErrUnavailable, "payments_unavailable", "the payment could not be taken; nothing was charged, try again later")
		}
		return paid, err
	}
}

// errPastExpiry: an order was asked to become paying after its time was up.
var errPastExpiry = errors.New("order is past its expiry")

// paymentKey is the idempotency key of an order's current payment attempt.
func paymentKey(o Order) string { return fmt.Sprintf("%s/pay/%d", o.ID, o.paymentAttempts) }

// settlePaid records a charge the provider took: the order becomes paid
// and order.paid goes out. If that cannot be stored the order stays paying,
// and Recover finds the charge and finishes the job. If the order was
// settled meanwhile without this charge, the money goes back (refundLate).
func (s *orderService) settlePaid(ctx context.Context, ord Order, p Payment, actor string) (Order, error) {
	paid, err := s.store.transition(ctx, ord.ID, step{to: StatusPaid, by: actor, at: s.now().UTC(), paymentID: p.ID})
	if errors.Is(err, shop.ErrConflict) {
		cur, gerr := s.store.get(ctx, ord.ID)
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
	if err := s.store.note(ctx, orderID, systemActor, s.now().UTC(), "late charge "+p.ID+" refunded as "+refundID); err != nil {
		level.Error(s.logger).Log("msg", "could not record a refunded late charge in the order's history", "order_id", orderID, "err", err)
	}
	return shop.E(shop.ErrConflict, "payment_refunded", "the order changed while it was being paid; the charge was refunded")
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
		_, err := s.store.transition(ctx, ord.ID, step{to: StatusPending, by: systemActor, at: s.now().UTC(), reason: "payment_not_taken"})
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
	e := shop.E(shop.ErrUnavailable, "payment_pending", "the outcome of the payment is not known yet; the order will be settled shortly, check it again")
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
	return s.store.transition(ctx, ord.ID, step{to: StatusCancelled, by: caller.UserID, at: s.now().UTC()})
}

// RefundOrder implements Service.
func (o *Orders) RefundOrder(ctx context.Context, id string) (Order, error) {
	s := o.s
	caller, err := shop.RequireRole(ctx, shop.RoleAdmin)
	if err != nil {
		return Order{}, err
	}
	ord, err := s.store.get(ctx, id)
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
		return Order{}, s.dependencyError(ctx, "payments", err)
	}
	return s.store.transition(rctx, ord.ID, step{to: StatusRefunded, by: caller.UserID, at: s.now().UTC(), refundID: refundID, reason: "refund " + refundID})
}

// ExpireOrders moves every pending order whose time is up to expired (each
// with its order.expired event, which releases the stock) and returns how
// many it expired.
func (o *Orders) ExpireOrders(ctx context.Context) (int, error) {
	s := o.s
	now := s.now().UTC()
	ids, err := s.store.overdue(ctx, now, 500)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		_, err := s.store.transition(ctx, id, step{to: StatusExpired, by: systemActor, at: now})
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

// RunExpiry calls ExpireOrders every interval until ctx is done.
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
