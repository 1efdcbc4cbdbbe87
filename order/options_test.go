package order_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kitshop/shop/order"
)

// An option given a value it cannot use makes NewService panic with a
// message naming the option.
func TestOptionsRefuseUnusableValues(t *testing.T) {
	for _, c := range []struct {
		opt  order.Option
		name string
	}{
		{order.WithTTL(0), "order.WithTTL"},
		{order.WithTTL(-time.Minute), "order.WithTTL"},
		{order.WithReservationGrace(-1), "order.WithReservationGrace"},
		{order.WithPaymentTimeout(0), "order.WithPaymentTimeout"},
		{order.WithPaymentTimeout(-time.Second), "order.WithPaymentTimeout"},
		{order.WithClock(nil), "order.WithClock"},
		{order.WithLogger(nil), "order.WithLogger"},
	} {
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			order.NewService(nil, nil, nil, nil, c.opt)
			return "no panic"
		}()
		if !strings.HasPrefix(msg, c.name+": ") {
			t.Errorf("NewService with a bad %s: panic %q, want one naming the option", c.name, msg)
		}
	}
	// Zero grace is usable: the reservation ends with the order.
	order.NewService(nil, nil, nil, nil, order.WithReservationGrace(0))
}
