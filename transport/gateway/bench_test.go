package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/kitshop/shop/discovery"
)

// BenchmarkGatewayHop measures GET /products/{id} through the gateway
// against a tuned httputil.ReverseProxy (MaxIdleConnsPerHost raised, as
// NewTransport does) to the same in-memory upstream, and going direct for
// scale; "reverseproxy-bufferpool" is the proxy with the gateway's pool of
// copy buffers (without one, ReverseProxy allocates 32 KiB a request);
// "gateway-accesslog" writes its access log (logfmt, to io.Discard).
// 16 clients per core send requests. Each reports requests a second and the p99 latency; compare the
// gateway's with the proxy's:
//
//	go test -run - -bench GatewayHop -benchtime 5s ./transport/gateway
func BenchmarkGatewayHop(b *testing.B) {
	product := []byte(`{"id":"p1","sku":"TEA-1","name":"Green tea","price":1999,"currency":"USD","category":"tea"}` + "\n")
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(product)
	}))
	defer upstream.Close()

	target, _ := url.Parse(upstream.URL)
	plain := httputil.NewSingleHostReverseProxy(target)
	plain.Transport = NewTransport()
	plainSrv := httptest.NewServer(plain)
	defer plainSrv.Close()
	pooled := httputil.NewSingleHostReverseProxy(target)
	pooled.Transport = NewTransport()
	pooled.BufferPool = newBufferPool()
	pooledSrv := httptest.NewServer(pooled)
	defer pooledSrv.Close()

	in, err := discovery.NewStaticInstancer(upstream.URL)
	if err != nil {
		b.Fatal(err)
	}
	many := Limit{Rate: rate.Limit(1e9), Burst: 1 << 30} // limits checked, never hit
	gateway := func(logger log.Logger) string {
		gw, err := New(Config{
			Upstreams: map[string]sd.Instancer{"catalog": in},
			Routes:    []Route{{Method: "GET", Pattern: "/products/{id}", Service: "catalog", Class: ClassRead}},
			Limits:    map[string]ClassLimits{ClassRead: {PerIP: many, PerUser: many}},
			Registry:  prometheus.NewRegistry(),
			Logger:    logger,
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { gw.Close() })
		srv := httptest.NewServer(gw)
		b.Cleanup(srv.Close)
		return srv.URL
	}

	for _, c := range []struct{ name, url string }{
		{"direct", upstream.URL},
		{"reverseproxy", plainSrv.URL},
		{"reverseproxy-bufferpool", pooledSrv.URL},
		{"gateway", gateway(nil)},
		{"gateway-accesslog", gateway(log.NewLogfmtLogger(io.Discard))},
	} {
		b.Run(c.name, func(b *testing.B) { benchGet(b, c.url+"/products/p1") })
	}
}

// benchGet sends GETs to u from parallel clients, reporting requests a
// second and the p99 latency.
func benchGet(b *testing.B, u string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}}
	defer client.CloseIdleConnections()
	var (
		mu  sync.Mutex
		all []time.Duration
	)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		lat := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			resp, err := client.Get(u)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			lat = append(lat, time.Since(t0))
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}
