package discovery_test

import (
	"context"
	"testing"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"

	"github.com/kitshop/shop/discovery"
)

// BenchmarkClientChain measures one call through the whole chain of
// NewEndpoint (limit, breaker, attempt timeout, endpointer, round robin,
// retry, overall timeout), with each breaker, next to the bare go-kit HTTP
// client endpoint it wraps, against the same httptest server:
//
//	go test -run '^$' -bench ClientChain -benchmem -count 5 ./discovery
//
// On a loopback call of about 40µs the chain costs far more than a real
// network call would notice: go-kit's lb.RetryWithCallback runs each attempt
// on a goroutine of its own, and hystrix-go's DoC two more per call.
func BenchmarkClientChain(b *testing.B) {
	be := newBackend(b, "a")
	bare, _, err := factory("/ping")(be.url())
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, ep endpoint.Endpoint) {
		b.ReportAllocs()
		ctx := context.Background()
		for b.Loop() {
			if _, err := ep(ctx, read{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, bare) })
	for _, kind := range []struct {
		name     string
		breakers discovery.BreakerFactory
	}{
		{"hystrix", discovery.HystrixBreakers(discovery.HystrixSettings{})},
		{"gobreaker", discovery.GoBreakers(discovery.GoBreakerSettings{})},
	} {
		ep, closer, err := discovery.NewEndpoint("bench", sd.FixedInstancer{be.url()}, factory("/ping"),
			discovery.ClientBreakers(kind.breakers), discovery.RetryIdempotent(idempotent))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(kind.name, func(b *testing.B) { run(b, ep) })
		closer.Close()
	}
}
