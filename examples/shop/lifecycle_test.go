package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kitshop/shop/examples/internal/binarytest"
)

// sent is one request of the load and how it ended.
type sent struct {
	at      time.Time
	what    string
	status  int
	orderID string
	err     error
}

// refused says whether err is a connection the shop no longer accepted at
// all.
func refused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// TestSIGTERMUnderLoadLosesNoAcceptedRequest stops the built shop with
// SIGTERM while customers read products and place orders: every request
// sent before the signal gets its answer; a later one is answered, or never
// taken in (its connection refused, or closed as the shop stopped reading
// new requests), but never answered with an error; /readyz turns 503
// first, the shop exits 0, and every order it confirmed is there after a
// restart.
func TestSIGTERMUnderLoadLosesNoAcceptedRequest(t *testing.T) {
	bin := binarytest.Build(t, ".")
	for _, tp := range topologies {
		t.Run(tp.name, func(t *testing.T) {
			dir := t.TempDir()
			p, cmd := startBinary(t, bin, dir, append(tp.args, "-shutdown-delay", "300ms")...)
			p.register("steady@example.com", "steady-password", "Steady")
			token := p.login("steady@example.com", "steady-password")
			product := p.products("?q=Mug")[0]["id"].(string)
			admin := p.login(adminEmail, adminPassword)
			p.expect(200, "", "POST", "/inventory/"+product, admin, `{"quantity":100000}`)

			var (
				mu      sync.Mutex
				results []sent
				wg      sync.WaitGroup
				stop    = make(chan struct{})
			)
			client := &http.Client{Timeout: 30 * time.Second}
			for w := range 8 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						r := sent{at: time.Now()}
						var req *http.Request
						if i%2 == 0 {
							r.what = "GET /products/{id}"
							req, _ = http.NewRequest("GET", p.base+"/products/"+product, nil)
						} else {
							r.what = "POST /orders"
							req, _ = http.NewRequest("POST", p.base+"/orders", strings.NewReader(fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":1}]}`, product)))
							req.Header.Set("Authorization", "Bearer "+token)
							req.Header.Set("Idempotency-Key", fmt.Sprintf("w%d-%d", w, i))
						}
						resp, err := client.Do(req)
						r.err = err
						if err == nil {
							r.status = resp.StatusCode
							var body struct {
								ID string `json:"id"`
							}
							raw, _ := io.ReadAll(resp.Body)
							resp.Body.Close()
							if r.what == "POST /orders" && r.status == 201 {
								json.Unmarshal(raw, &body)
								r.orderID = body.ID
							}
						}
						mu.Lock()
						results = append(results, r)
						mu.Unlock()
						if refused(err) {
							return // the shop is gone
						}
					}
				})
			}
			time.Sleep(500 * time.Millisecond)
			termAt := time.Now()
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			sawNotReady := false
			for time.Since(termAt) < 3*time.Second {
				resp, err := http.Get(p.base + "/readyz")
				if err != nil {
					break
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 503 && strings.Contains(string(raw), "shutting_down") {
					sawNotReady = true
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("the shop exited with %v after SIGTERM, want status 0\n%s", err, p.logs.String())
				}
			case <-time.After(60 * time.Second):
				t.Fatal("the shop did not exit within 60s of SIGTERM")
			}
			close(stop)
			wg.Wait()
			if !sawNotReady {
				t.Error(`/readyz never answered 503 "shutting_down" after SIGTERM`)
			}

			var before, after, refusedAfter int
			var confirmed []string
			for _, r := range results {
				if r.orderID != "" {
					confirmed = append(confirmed, r.orderID)
				}
				ok := r.err == nil && r.status >= 200 && r.status < 300
				if r.at.Before(termAt) {
					before++
					if !ok {
						t.Errorf("%s sent %s before SIGTERM failed: status %d, %v", r.what, termAt.Sub(r.at), r.status, r.err)
					}
					continue
				}
				after++
				if r.err != nil {
					refusedAfter++
				} else if !ok {
					t.Errorf("%s sent %s after SIGTERM was answered %d; want a success, or the connection not taken", r.what, r.at.Sub(termAt), r.status)
				}
			}
			t.Logf("%d requests before SIGTERM, %d after (%d not taken in), %d orders confirmed", before, after, refusedAfter, len(confirmed))
			if before < 20 || refusedAfter == 0 {
				t.Fatalf("the load did not straddle the stop: %d before, %d refused after", before, refusedAfter)
			}

			q, _ := startBinary(t, bin, dir, tp.args...)
			for _, id := range confirmed {
				q.expect(200, "", "GET", "/orders/"+id, token, "")
			}
		})
	}
}
