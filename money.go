package shop

import (
	"fmt"
	"strings"

	"golang.org/x/text/currency"
)

// Money is an amount in the currency's minor units (cents for USD), so sums
// never suffer floating point rounding.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// String formats the amount with the currency's number of decimals, for
// example "19.99 USD".
func (m Money) String() string {
	digits := 2
	if u, err := currency.ParseISO(m.Currency); err == nil {
		d, _ := currency.Standard.Rounding(u)
		digits = d
	}
	// Work in uint64 so that the magnitude of math.MinInt64 is representable.
	sign, a := "", uint64(m.Amount)
	if m.Amount < 0 {
		sign, a = "-", -a
	}
	if digits == 0 {
		return fmt.Sprintf("%s%d %s", sign, a, m.Currency)
	}
	pow := uint64(1)
	for range digits {
		pow *= 10
	}
	return fmt.Sprintf("%s%d.%0*d %s", sign, a/pow, digits, a%pow, m.Currency)
}

// ValidateCurrency checks that code is a known ISO 4217 currency code in upper
// case, such as "USD", and returns an ErrInvalid naming field otherwise.
func ValidateCurrency(field, code string) error {
	if len(code) != 3 || strings.ToUpper(code) != code {
		return E(ErrInvalid, "invalid_"+field, "%s must be an upper-case ISO 4217 code such as USD", field)
	}
	if _, err := currency.ParseISO(code); err != nil {
		return E(ErrInvalid, "invalid_"+field, "%s %q is not a known ISO 4217 currency code", field, code)
	}
	return nil
}
