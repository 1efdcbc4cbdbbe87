package order

import (
	"context"
	"embed"
	"fmt"
	"strings"
	"sync"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/sqlitedb"
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
// no money. TestCardDeclined is declined; every other Luhn-valid number is
// accepted. Like a real provider it is idempotent by key, and Payments
// lists what it took, so tests can check that no order was charged twice or
// charged without being paid. NewDevPayments keeps its records in memory;
// OpenDevPayments in a SQLite file, so that they survive a restart.
type DevPayments struct {
	mu       sync.Mutex
	charges  map[string]chargeResult // by idempotency key
	payments map[string]*Payment     // by payment ID
	refunds  map[string]string       // refund ID by idempotency key
	db       *sqlitedb.DB            // nil: memory only
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
func (d *DevPayments) Charge(ctx context.Context, c Charge) (Payment, error) {
	if c.IdempotencyKey == "" {
		return Payment{}, shop.E(shop.ErrInvalid, CodeMissingIdempotencyKey, "a charge needs an idempotency key")
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
		if err := d.save(ctx, `INSERT INTO charges(idempotency_key, order_id, amount, currency, decline_code) VALUES (?, ?, ?, ?, ?)`,
			c.IdempotencyKey, c.OrderID, c.Amount.Amount, c.Amount.Currency, "card_declined"); err != nil {
			return Payment{}, err
		}
		err := errDeclined()
		d.charges[c.IdempotencyKey] = chargeResult{err: err}
		return Payment{}, err
	}
	p := &Payment{ID: "pay_" + shop.NewID(), IdempotencyKey: c.IdempotencyKey, OrderID: c.OrderID, Amount: c.Amount}
	if err := d.save(ctx, `INSERT INTO charges(idempotency_key, payment_id, order_id, amount, currency) VALUES (?, ?, ?, ?, ?)`,
		c.IdempotencyKey, p.ID, c.OrderID, c.Amount.Amount, c.Amount.Currency); err != nil {
		return Payment{}, err
	}
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
	return Payment{}, shop.E(shop.ErrNotFound, CodePaymentNotFound, "no payment was taken under this idempotency key")
}

// Refund implements PaymentProvider.
func (d *DevPayments) Refund(ctx context.Context, r Refund) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.refunds[r.IdempotencyKey]; ok {
		return id, nil
	}
	p, ok := d.payments[r.PaymentID]
	if !ok {
		return "", shop.E(shop.ErrNotFound, CodePaymentNotFound, "no payment %q exists", r.PaymentID)
	}
	if p.RefundID != "" {
		return p.RefundID, nil
	}
	id := "re_" + shop.NewID()
	if err := d.save(ctx, `INSERT INTO refunds(idempotency_key, refund_id) VALUES (?1, ?2);
		UPDATE charges SET refund_id = ?2 WHERE payment_id = ?3`, r.IdempotencyKey, id, p.ID); err != nil {
		return "", err
	}
	p.RefundID = id
	d.refunds[r.IdempotencyKey] = id
	return id, nil
}

func errDeclined() error {
	return shop.E(shop.ErrPaymentRequired, CodeCardDeclined, "the card was declined")
}

//go:embed devpayments_migrations/*.sql
var devPaymentsMigrations embed.FS

// OpenDevPayments returns a development payment provider that keeps its
// records in the SQLite file at path (created if needed), so that a shop
// restarted on the same data settles and refunds payments taken before.
// Close it when done.
func OpenDevPayments(ctx context.Context, path string) (*DevPayments, error) {
	db, err := sqlitedb.OpenDir(ctx, path, devPaymentsMigrations, "devpayments_migrations")
	if err != nil {
		return nil, fmt.Errorf("development payments: %w", err)
	}
	d := NewDevPayments()
	d.db = db
	if err := d.load(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("development payments: %w", err)
	}
	return d, nil
}

// load reads the records of a file-backed provider into memory.
func (d *DevPayments) load(ctx context.Context) error {
	rows, err := d.db.R.QueryContext(ctx, `SELECT idempotency_key, payment_id, order_id, amount, currency, decline_code, refund_id FROM charges`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var p Payment
		var decline string
		if err := rows.Scan(&p.IdempotencyKey, &p.ID, &p.OrderID, &p.Amount.Amount, &p.Amount.Currency, &decline, &p.RefundID); err != nil {
			return err
		}
		if decline != "" {
			d.charges[p.IdempotencyKey] = chargeResult{err: errDeclined()}
			continue
		}
		d.payments[p.ID] = &p
		d.charges[p.IdempotencyKey] = chargeResult{paymentID: p.ID}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	refunds, err := d.db.R.QueryContext(ctx, `SELECT idempotency_key, refund_id FROM refunds`)
	if err != nil {
		return err
	}
	defer refunds.Close()
	for refunds.Next() {
		var key, id string
		if err := refunds.Scan(&key, &id); err != nil {
			return err
		}
		d.refunds[key] = id
	}
	return refunds.Err()
}

// save writes one record of a file-backed provider; memory-only providers
// write nothing. It runs under d.mu, so records are written in call order.
func (d *DevPayments) save(ctx context.Context, query string, args ...any) error {
	if d.db == nil {
		return nil
	}
	return d.db.Tx(ctx, func(ctx context.Context, tx *sqlitedb.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
}

// Close closes the file of a provider made by OpenDevPayments.
func (d *DevPayments) Close() error {
	if d.db == nil {
		return nil
	}
	return d.db.Close()
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
		return "", shop.E(shop.ErrInvalid, CodeInvalidCard, "card_number is required")
	}
	if len(digits) < 12 || len(digits) > 19 {
		return "", shop.E(shop.ErrInvalid, CodeInvalidCard, "card_number must have 12 to 19 digits")
	}
	sum := 0
	for i := 0; i < len(digits); i++ {
		c := digits[len(digits)-1-i]
		if c < '0' || c > '9' {
			return "", shop.E(shop.ErrInvalid, CodeInvalidCard, "card_number may hold only digits, spaces and dashes")
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
		return "", shop.E(shop.ErrInvalid, CodeInvalidCard, "card_number is not a valid card number (Luhn check failed)")
	}
	return digits, nil
}
