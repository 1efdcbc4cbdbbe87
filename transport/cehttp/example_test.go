package cehttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/transport/cehttp"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

// The order service pushes its events to the inventory service, which runs
// in a process of its own.
func Example() {
	// Every service checks tokens with the same key.
	tokens, err := user.NewTokens([]byte("an example key of at least 32 bytes"))
	if err != nil {
		panic(err)
	}

	// The inventory service: a Receiver on its internal route.
	receiver := cehttp.NewReceiver(tokens, log.NewNopLogger())
	receiver.Subscribe(shop.EventOrderPaid, func(ctx context.Context, e shop.Event) error {
		var data shop.OrderEventData
		if err := json.Unmarshal(e.Data, &data); err != nil {
			return fmt.Errorf("%w: %v", shop.ErrDeadLetter, err)
		}
		caller, _ := shop.IdentityFrom(ctx)
		fmt.Printf("inventory: %s of %s from %s (%s)\n", e.Type, data.OrderID, e.Source, caller.Role)
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("POST "+cehttp.Path, receiver)
	inventory := httptest.NewServer(shophttp.Routes(mux))
	defer inventory.Close()

	// The order service: a Publisher for its outbox relay, pushing with a
	// service token to wherever inventory runs (a static list here; a
	// discovery.ConsulInstancer in a real deployment).
	instances, err := discovery.NewStaticInstancer(inventory.URL)
	if err != nil {
		panic(err)
	}
	publisher, err := cehttp.NewPublisher(
		tokens.TokenSource(shop.Identity{UserID: "order", Role: shop.RoleService}, time.Hour),
		[]cehttp.Subscription{{
			Service:   "inventory",
			Instancer: instances,
			Types:     []string{shop.EventOrderPaid, shop.EventOrderCancelled, shop.EventOrderExpired, shop.EventOrderRefunded},
		}},
	)
	if err != nil {
		panic(err)
	}
	defer publisher.Close()

	e, err := shop.NewEvent("kitshop/order", shop.EventOrderPaid, "ord_1", shop.OrderEventData{OrderID: "ord_1", Status: "paid"})
	if err != nil {
		panic(err)
	}
	fmt.Println("published:", publisher.Publish(context.Background(), e))

	// Nobody subscribed to user.registered: nothing to push.
	e, _ = shop.NewEvent("kitshop/user", shop.EventUserRegistered, "u_1", shop.UserEventData{UserID: "u_1"})
	fmt.Println("published:", publisher.Publish(context.Background(), e))
	// Output:
	// inventory: order.paid of ord_1 from kitshop/order (service)
	// published: <nil>
	// published: <nil>
}
