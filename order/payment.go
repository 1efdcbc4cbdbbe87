package order

import (
	"context"
	"strings"
	"sync"

	"github.com/kitshop/shop"
)

// Charge is one payment request.
type Charge struct {
	// IdempotencyKey identifies this charge: charging twice with one key
	// takes the money at most once and answers the second call as the first
	// (the same Payment, or the same decline). The order service uses
	// "<order id>/pay/<attempt>", a new attempt after each decline.
	IdempotencyKey string
	OrderID        string
	Amount         shop.Money
	CardNumber     string // digits only, Luhn-valid
}

// Payment is money a provider took.
type Payment struct {
	ID             string     `json:"id"`
	IdempotencyKey string     `json:"idempotency_key"`
	OrderID        string     `json:"order_id"`
	Amount         shop.Money `json:"amount"`
	// RefundID is set once the payment was refunded.
	RefundID string `json:"refund_id,omitempty"`
}

// Refund asks to give a payment's money back.
type Refund struct {
	PaymentID string
	// IdempotencyKey makes a repeated refund give the money back once and
	// return the first refund's ID.
	IdempotencyKey string
	Amount         shop.Money
}

// PaymentProvider takes and gives back payments. It is what the order
// service needs of a card processor; implement it to plug in a real one.
//
// Every call is idempotent by its key, so the order service can retry after
// a timeout or a crash without charging twice. Errors: a decline is
// ErrPaymentRequired (code "card_declined"), a card the provider refuses to
// read ErrInvalid, an unreachable provider ErrUnavailable. The card number
// must never be logged or stored.
type PaymentProvider interface {
	// Charge takes c.Amount from the card, once per c.IdempotencyKey.
	Charge(ctx context.Context, c Charge) (Payment, error)
	// LookupCharge returns the payment taken under an idempotency key, or
	// ErrNotFound (code "payment_not_found") when none was taken. After a
	// crash the order service settles an interrupted payment with it, so
	// "not found" must be final: a provider whose charges can still be in
	// flight must let them finish first, or void the key so that they fail.
	LookupCharge(ctx context.Context, idempotencyKey string) (Payment, error)
	// Refund gives the money of a payment back, once per r.IdempotencyKey,
	// and returns the refund's ID. Refunding an unknown payment is ErrNotFound.
	Refund(ctx context.Context, r Refund) (refundID string, err error)
}

// Test card numbers understood by DevPayments.
const (
	// TestCardOK is always accepted.
	TestCardOK = "4242424242424242"
	// TestCardDeclined is always declined.
	TestCardDeclined = "4000000000000002"
)

// DevPayments is a payment provider FOR DEVELOPMENT AND TESTS ONLY: it moves
// no money and keeps its records in memory. TestCardDeclined is declined;
// every other Luhn-valid number is accepted. Like a real provider it is
// idempotent by key, and Payments lists what it took, so tests can check
// that no order was charged twice or charged without being paid.
type DevPayments struct {
	mu       sync.Mutex
	charges  map[string]chargeResult // by idempotency key
	payments map[string]*Payment     // by payment ID
	refunds  map[string]string       // refund ID by idempotency key
}

type chargeResult struct {
	paymentID string
	err       error
}

// NewDevPayments returns an empty development payment provider.
func NewDevPayments() *DevPayments {
	return &DevPayments{charges: map[string]chargeResult{}, payments: map[string]*Payment{}, refunds: map[string]string{}}
}

var _ PaymentProvider = (*DevPayments)(nil)

// Charge implements PaymentProvider.
func (d *DevPayments) Charge(_ context.Context, c Charge) (Payment, error) {
	if c.IdempotencyKey == "" {
		return Payment{}, shop.E(shop.ErrInvalid, "missing_idempotency_key", "a charge needs an idempotency key")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.charges[c.IdempotencyKey]; ok {
		if r.err != nil {
			return Payment{}, r.err
		}
		return *d.payments[r.paymentID], nil
	}
	if c.CardNumber == TestCardDeclined {
		err := shop.E(shop.ErrPaymentRequired, "card_declined", "the card was declined")
		d.charges[c.IdempotencyKey] = chargeResult{err: err}
		return Payment{}, err
	}
	p := &Payment{ID: "pay_" + shop.NewID(), IdempotencyKey: c.IdempotencyKey, OrderID: c.OrderID, Amount: c.Amount}
	d.payments[p.ID] = p
	d.charges[c.IdempotencyKey] = chargeResult{paymentID: p.ID}
	return *p, nil
}

// LookupCharge implements PaymentProvider.
func (d *DevPayments) LookupCharge(_ context.Context, key string) (Payment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.charges[key]; ok && r.err == nil {
		return *d.payments[r.paymentID], nil
	}
	return Payment{}, shop.E(shop.ErrNotFound, "payment_not_found", "no payment was taken under this idempotency key")
}

// Refund implements PaymentProvider.
func (d *DevPayments) Refund(_ context.Context, r Refund) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.refunds[r.IdempotencyKey]; ok {
		return id, nil
	}
	p, ok := d.payments[r.PaymentID]
	if !ok {
		return "", shop.E(shop.ErrNotFound, "payment_not_found", "no payment %q exists", r.PaymentID)
	}
	if p.RefundID != "" {
		return p.RefundID, nil
	}
	p.RefundID = "re_" + shop.NewID()
	d.refunds[r.IdempotencyKey] = p.RefundID
	return p.RefundID, nil
}

// Payments returns every payment taken so far, refunded ones included, in
// no particular order.
func (d *DevPayments) Payments() []Payment {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Payment, 0, len(d.payments))
	for _, p := range d.payments {
		out = append(out, *p)
	}
	return out
}

// normalizeCard strips spaces and dashes from a card number and checks it is
// 12 to 19 digits passing the Luhn check. Errors never echo the number.
func normalizeCard(s string) (string, error) {
	digits := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
	if digits == "" {
		return "", shop.E(shop.ErrInvalid, "invalid_card", "card_number is required")
	}
	if len(digits) < 12 || len(digits) > 19 {
		return "", shop.E(shop.ErrInvalid, "invalid_card", "card_number must have 12 to 19 digits")
	}
	sum := 0
	for i := 0; i < len(digits); i++ {
		c := digits[len(digits)-1-i]
		if c < '0' || c > '9' {
			return "", shop.E(shop.ErrInvalid, "invalid_card", "card_number may hold only digits, spaces and dashes")
		}
		d := int(c - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	if sum%10 != 0 {
		return "", shop.E(shop.ErrInvalid, "invalid_card", "card_number is not a valid card number (Luhn check failed)")
	}
	return digits, nil
}
