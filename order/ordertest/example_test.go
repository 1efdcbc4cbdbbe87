package ordertest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/order"
	"github.com/kitshop/shop/order/ordertest"
)

// A harness for an order service on a store of your own: here the in-memory
// store of memstore_test.go, in yours a Postgres, beside a catalog and an
// inventory that Seed fills. In a test function, ordertest.Run(t, h) runs
// every case against it, calling h.New once per case, acting through h.As,
// seeding with h.Seed and delivering the store's events with h.Deliver, as
// the lines below do by hand (TestMemStore runs the whole suite).
func Example() {
	dir, err := os.MkdirTemp("", "ordertest-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	mem := newMemStore()
	b, err := openBackend(dir, mem, mem)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.close()

	h := ordertest.Harness{
		New: func(*testing.T) order.Service { return b.orders },
		As:  ordertest.Local,
		Seed: func(t *testing.T, price int64, currency string, stock int64) string {
			id, err := b.seed(price, currency, stock)
			if err != nil {
				t.Fatal(err)
			}
			return id
		},
		Deliver: func(t *testing.T) {
			if err := b.publish(context.Background()); err != nil {
				t.Fatal(err)
			}
		},
	}

	svc := h.New(nil)
	mug := h.Seed(nil, 1299, "EUR", 2)
	alice := h.As(context.Background(), shop.Identity{UserID: ordertest.CustomerID, Role: shop.RoleCustomer})
	two := order.NewOrder{Items: []order.Item{{ProductID: mug, Quantity: 2}}}

	o, err := svc.PlaceOrder(alice, two)
	fmt.Println(o.Status, shop.Money{Amount: o.Total, Currency: o.Currency}, err)
	_, err = svc.PlaceOrder(alice, two)
	fmt.Println(shop.KindOf(err), shop.CodeOf(err))
	o, err = svc.CancelOrder(alice, o.ID)
	fmt.Println(o.Status, err)
	h.Deliver(nil) // order.cancelled reaches inventory: the mugs are free again
	_, err = svc.PlaceOrder(alice, two)
	fmt.Println("placed again:", err == nil)
	// Output:
	// pending 25.98 EUR <nil>
	// conflict insufficient_stock
	// cancelled <nil>
	// placed again: true
}
