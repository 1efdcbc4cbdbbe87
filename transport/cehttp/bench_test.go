package cehttp_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/transport/cehttp"
)

// BenchmarkPublish compares an outbox relay's pass of 64 events (of 64
// subjects) pushed one after another with Publish against one PublishBatch,
// over loopback to a real receiver whose handler returns at once, and to
// one whose handler takes a millisecond (a consumer committing its inbox
// and its effect, or a network farther away than loopback). It reports
// events per second.
func BenchmarkPublish(b *testing.B) {
	for _, handler := range []time.Duration{0, time.Millisecond} {
		b.Run(fmt.Sprintf("handler=%v", handler), func(b *testing.B) {
			benchmarkPublish(b, handler)
		})
	}
}

func benchmarkPublish(b *testing.B, handler time.Duration) {
	const batch = 64
	tokens := newTokens(b)
	c := newConsumer(b, tokens)
	c.recv.Subscribe(shop.EventOrderPaid, func(context.Context, shop.Event) error {
		if handler > 0 {
			time.Sleep(handler)
		}
		return nil
	})
	p := newPublisher(b, serviceToken(tokens), []cehttp.Subscription{
		{Service: "inventory", Instancer: c.instancer(b), Types: []string{shop.EventOrderPaid}},
	})
	events := make([]shop.Event, batch)
	for i := range events {
		events[i] = orderEvent(b, fmt.Sprintf("ord_%d", i))
	}
	ctx := context.Background()

	b.Run("Publish", func(b *testing.B) {
		for b.Loop() {
			for _, e := range events {
				if err := p.Publish(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("PublishBatch", func(b *testing.B) {
		for b.Loop() {
			for _, err := range p.PublishBatch(ctx, events) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	})
}
