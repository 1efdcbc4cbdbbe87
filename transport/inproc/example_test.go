package inproc_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/transport/inproc"
)

func ExampleBus() {
	bus := inproc.NewBus()
	bus.Subscribe(shop.EventOrderPaid, func(ctx context.Context, e shop.Event) error {
		var data shop.OrderEventData
		if err := json.Unmarshal(e.Data, &data); err != nil {
			return err
		}
		fmt.Println("inventory: sell the stock reserved for", data.OrderID)
		return nil
	})

	e, _ := shop.NewEvent("order", shop.EventOrderPaid, "o1", shop.OrderEventData{OrderID: "o1", Status: "paid"})
	fmt.Println(bus.Publish(context.Background(), e))
	// Output:
	// inventory: sell the stock reserved for o1
	// <nil>
}
