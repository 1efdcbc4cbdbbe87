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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

// Result is what one run measured.
type Result struct {
	URL       string        `json:"url"`
	Requests  int           `json:"requests"`
	Errors    int           `json:"errors"`
	Non2xx    int           `json:"non_2xx"`
	Duration  time.Duration `json:"duration_ns"`
	RPS       float64       `json:"rps"`
	P50       time.Duration `json:"p50_ns"`
	P90       time.Duration `json:"p90_ns"`
	P99       time.Duration `json:"p99_ns"`
	Max       time.Duration `json:"max_ns"`
	FirstFail string        `json:"first_failure,omitempty"`
}

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
		load(req, []byte(*body), *conns, *warmup)
	}
	res := load(req, []byte(*body), *conns, *duration)
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

// load runs conns closed loops of req for d and measures them.
func load(template *http.Request, body []byte, conns int, d time.Duration) Result {
	transport := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	var (
		mu        sync.Mutex
		latencies []time.Duration
		res       = Result{URL: template.URL.String()}
		wg        sync.WaitGroup
	)
	begin := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var errs, non2xx int
			var fail string
			for ctx.Err() == nil {
				r := template.Clone(context.Background())
				if len(body) > 0 {
					r.Body = io.NopCloser(bytes.NewReader(body))
					r.ContentLength = int64(len(body))
				}
				t0 := time.Now()
				resp, err := client.Do(r)
				if err != nil {
					if !errors.Is(err, context.Canceled) {
						errs++
						if fail == "" {
							fail = err.Error()
						}
					}
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if ctx.Err() != nil { // finished after the window closed: don't count it
					break
				}
				mine = append(mine, time.Since(t0))
				if resp.StatusCode < 200 || resp.StatusCode > 299 {
					non2xx++
					if fail == "" {
						fail = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
					}
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			res.Errors += errs
			res.Non2xx += non2xx
			if res.FirstFail == "" {
				res.FirstFail = fail
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Duration = time.Since(begin)
	res.Requests = len(latencies)
	res.RPS = float64(res.Requests) / res.Duration.Seconds()
	if len(latencies) > 0 {
		slices.Sort(latencies)
		pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
		res.P50, res.P90, res.P99, res.Max = pct(0.50), pct(0.90), pct(0.99), latencies[len(latencies)-1]
	}
	return res
}
