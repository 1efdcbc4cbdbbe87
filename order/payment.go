package order

import (
	"context"
	"strings"
	"sync"

	"github.com/kitshop/shop"
)

// Charge is one payment request.
type Charge struct {
	// OrderID is the idempotency key: charging the same order twice must
	// take the money once and return the first payment's ID.
	OrderID    string
	Amount     shop.Money
	CardNumber string // digits only, Luhn-valid
}

// PaymentProvider takes payments. A decline is an ErrPaymentRequired error
// (code "card_declined"); an unreachable provider ErrUnavailable. The card
// number must never be logged or stored.
type PaymentProvider interface {
	Charge(ctx context.Context, c Charge) (paymentID string, err error)
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
// accepted. It is idempotent by order ID, like a real provider used with an
// idempotency key.
type DevPayments struct {
	mu       sync.Mutex
	payments map[string]string
}

// NewDevPayments returns an empty development payment provider.
func NewDevPayments() *DevPayments {
	return &DevPayments{payments: map[string]string{}}
}

// Charge implements PaymentProvider.
func (d *DevPayments) Charge(_ context.Context, c Charge) (string, error) {
	if c.CardNumber == TestCardDeclined {
		return "", shop.E(shop.ErrPaymentRequired, "card_declined", "the card was declined")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.payments[c.OrderID]; ok {
		return id, nil
	}
	id := "pay_" + shop.NewID()
	d.payments[c.OrderID] = id
	return id, nil
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
