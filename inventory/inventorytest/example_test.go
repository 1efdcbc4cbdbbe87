package inventorytest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/inventory/inventorytest"
)

// A harness for an inventory on a store of your own: here the in-memory
// store of memstore_test.go, in yours a Postgres or a cache. In a test
// function, inventorytest.Run(t, h) runs every case against it, calling
// h.New once per case and acting through h.As, as the lines below do by
// hand.
func Example() {
	h := inventorytest.Harness{
		New: func(t *testing.T) inventory.Service { return inventory.NewService(newMemStore()) },
		As:  inventorytest.Local,
		WithExpirer: func(t *testing.T) (inventory.Service, *inventory.Expirer) {
			st := newMemStore()
			return inventory.NewService(st), inventory.NewExpirer(st)
		},
	}

	svc, expirer := h.WithExpirer(nil)
	ctx := context.Background()
	admin := h.As(ctx, shop.Identity{UserID: "admin-1", Role: shop.RoleAdmin})
	orders := h.As(ctx, shop.Identity{UserID: "order", Role: shop.RoleService})

	if _, err := svc.AddStock(admin, "mug", 3); err != nil {
		panic(err)
	}
	expires := time.Now().Add(15 * time.Minute)
	r, created, err := svc.Reserve(orders, "order-1", []inventory.Line{{ProductID: "mug", Quantity: 2}}, expires)
	fmt.Println(r.Status, created, err)
	_, created, err = svc.Reserve(orders, "order-1", []inventory.Line{{ProductID: "mug", Quantity: 2}}, expires)
	fmt.Println("again:", created, err)
	n, err := expirer.ExpireReservations(ctx, expires)
	fmt.Println("expired:", n, err)
	st, _ := svc.GetStock(ctx, "mug")
	fmt.Println("available:", st.Available)
	// Output:
	// held true <nil>
	// again: false <nil>
	// expired: 1 <nil>
	// available: 3
}
