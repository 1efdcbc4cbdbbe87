// Package loadtest is a small closed-loop HTTP load generator shared by the
// example load tools: a number of connections each send one request after
// another for a while, and the run reports requests per second and latency
// percentiles.
package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

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

// Run drives conns closed loops of template (with body, if any) for d and
// measures them. Responses finishing after d are not counted.
func Run(template *http.Request, body []byte, conns int, d time.Duration) Result {
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
