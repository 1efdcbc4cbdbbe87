// Command loadgen is a small closed-loop HTTP load generator: -c connections
// each send one request after another for -d, and it reports requests per
// second and latency percentiles. It needs nothing but Go, so the shop's
// speed can be measured on any machine (examples/bench uses it).
//
//	go run ./examples/loadgen -url http://127.0.0.1:8080/products/ID -c 32 -d 8s
//	go run ./examples/loadgen -method POST -url http://127.0.0.1:8080/orders \
//	    -H 'Authorization: Bearer ...' -body '{"items":[{"product_id":"ID","quantity":1}]}'
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kitshop/shop/examples/internal/loadtest"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	var (
		url      = flag.String("url", "", "target URL (required)")
		method   = flag.String("method", http.MethodGet, "HTTP method")
		body     = flag.String("body", "", "request body (sent with Content-Type: application/json)")
		conns    = flag.Int("c", 32, "concurrent connections")
		duration = flag.Duration("d", 8*time.Second, "how long to measure")
		warmup   = flag.Duration("warmup", time.Second, "load before measuring, not counted")
		asJSON   = flag.Bool("json", false, "print the result as JSON")
		hs       headers
	)
	flag.Var(&hs, "H", "request header 'Name: value' (repeatable)")
	flag.Parse()
	if *url == "" || *conns < 1 || *duration <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	req, err := http.NewRequest(*method, *url, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	for _, h := range hs {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(os.Stderr, "loadgen: header %q is not 'Name: value'\n", h)
			os.Exit(2)
		}
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if *body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if *warmup > 0 {
		loadtest.Run(req, []byte(*body), *conns, *warmup)
	}
	res := loadtest.Run(req, []byte(*body), *conns, *duration)
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(res)
		return
	}
	fmt.Printf("%s %s: %d requests in %s, %.0f req/s, p50 %s, p90 %s, p99 %s, max %s, non-2xx %d, errors %d\n",
		*method, res.URL, res.Requests, res.Duration.Round(time.Millisecond), res.RPS,
		res.P50.Round(time.Microsecond), res.P90.Round(time.Microsecond), res.P99.Round(time.Microsecond),
		res.Max.Round(time.Microsecond), res.Non2xx, res.Errors)
	if res.FirstFail != "" {
		fmt.Println("first failure:", res.FirstFail)
	}
}
