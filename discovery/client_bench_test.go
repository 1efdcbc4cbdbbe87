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
// Measured on two cores against a loopback call of about 44µs: the chain
// with gobreaker costs about 1.09x the bare client, with hystrix-go about
// 1.46x, because hystrix.DoC starts two goroutines per call. The retries
// run on the caller's goroutine (see retryWithCallback); go-kit's
// lb.RetryWithCallback alone, with a goroutine per attempt, cost 1.18x.
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
