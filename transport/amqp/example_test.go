package amqp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/transport/amqp"
)

// Wiring both sides: the order service publishes (in a real service, through
// its outbox relay: outbox.NewRelay(db, pub, logger)), and the inventory
// service consumes from its own queue, "kitshop.inventory". (Not run as a
// test: it needs a broker.)
func Example() {
	const url = "amqp://guest:guest@127.0.0.1:5672/"
	logger := log.NewLogfmtLogger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	// The consuming side. In a service, wrap the handlers with an inbox
	// (inbox.New(db, "inventory", inbox.DeadLetterToTransport())) so
	// redeliveries change nothing and a poison event ends up in the
	// dead-letter queue after a few attempts.
	sub, err := amqp.NewSubscriber(url, "inventory", amqp.WithLogger(logger))
	if err != nil {
		panic(err)
	}
	sub.Subscribe(shop.EventOrderPaid, func(ctx context.Context, e shop.Event) error {
		var data shop.OrderEventData
		if err := json.Unmarshal(e.Data, &data); err != nil {
			return fmt.Errorf("%w: %v", shop.ErrDeadLetter, err) // retrying cannot help
		}
		fmt.Println("inventory: sell the stock reserved for", data.OrderID)
		return nil
	})
	// Start declares the queue (so nothing published from now on is
	// missed) and consumes in the background until ctx is done.
	if err := sub.Start(ctx); err != nil {
		panic(err)
	}

	// The publishing side.
	pub, err := amqp.NewPublisher(url, amqp.WithLogger(logger))
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	e, _ := shop.NewEvent("order", shop.EventOrderPaid, "o1", shop.OrderEventData{OrderID: "o1", Status: "paid"})
	if err := pub.Publish(ctx, e); err != nil {
		fmt.Println("not published; the outbox tries again later:", err)
	}

	// An operator's view of what inventory gave up on (the admin route
	// serves sub as a shop.DeadLetters).
	var dl shop.DeadLetters = sub
	parked, _ := dl.DeadLetters(ctx, 10)
	fmt.Println(len(parked), "dead letters")

	<-sub.Done()
}
