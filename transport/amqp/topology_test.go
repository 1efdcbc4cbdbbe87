package amqp_test

import (
	"context"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/transport/amqp"
)

// An event published before its consumer ever started waits in the
// consumer's queue when the publisher declares it; without that, the topic
// exchange would confirm it and drop it.
func TestPublisherDeclaresConsumerQueues(t *testing.T) {
	e := newEnv(t)
	types := []string{shop.EventOrderPaid}
	pub := e.publisher(amqp.WithConsumerQueues(map[string][]string{"inventory": types}))
	early := event(t, shop.EventOrderPaid, "o1", 1)
	if err := pub.Publish(context.Background(), early); err != nil {
		t.Fatal(err)
	}
	sub := e.subscriber("inventory")
	rec := &testkit.Recorder{}
	if err := sub.Subscribe(shop.EventOrderPaid, rec.Handle); err != nil {
		t.Fatal(err)
	}
	start(t, sub)
	waitUntil(t, 20*time.Second, "the early event", func() bool { return rec.Len() == 1 })
	if got := rec.Events()[0]; got.ID != early.ID {
		t.Errorf("got %s, want the early event %s", got.ID, early.ID)
	}
}
