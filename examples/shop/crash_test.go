package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kitshop/shop/examples/internal/binarytest"
	"github.com/kitshop/shop/internal/testkit"
)

// startBinary runs the built shop as its own process on dataDir and waits
// until it is ready. The process can then be killed like any other.
func startBinary(t *testing.T, bin, dataDir string, extra ...string) (*shopProcess, *exec.Cmd) {
	t.Helper()
	addr := binarytest.FreeAddr(t)
	logs := &testkit.SyncBuffer{}
	cmd := exec.Command(bin, append([]string{"-addr", addr, "-data-dir", dataDir, "-admin-email", adminEmail,
		"-admin-password", adminPassword, "-bcrypt-cost", "4", "-quiet"}, extra...)...)
	cmd.Env = binarytest.CleanEnv()
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p := &shopProcess{t: t, base: "http://" + addr, logs: logs, dataDir: dataDir}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, cmd
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shop did not become ready: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// heldUnits sums what the shop's stock says is reserved, and what its
// pending and paying orders hold, over every product and order.
func heldUnits(p *shopProcess, admin string, products []string) (reserved, ordered int, paying int) {
	for _, id := range products {
		_, r, _ := p.stock(id)
		reserved += int(r)
	}
	cursor := ""
	for {
		m := p.expect(200, "", "GET", "/orders?limit=100&cursor="+cursor, admin, "")
		for _, it := range m["items"].([]any) {
			o := it.(map[string]any)
			switch o["status"] {
			case "pending", "paying":
				for _, l := range o["lines"].([]any) {
					ordered += int(l.(map[string]any)["quantity"].(float64))
				}
			}
			if o["status"] == "paying" {
				paying++
			}
		}
		next, _ := m["next_cursor"].(string)
		if next == "" {
			return
		}
		cursor = next
	}
}

// TestKilledMidBurstRecovers kills the shop with SIGKILL while customers
// place and pay orders, restarts it on the same data, and checks that
// within seconds reserved stock equals the units of the pending orders
// again, that no order is left paying, and that sold units match the paid
// orders.
func TestKilledMidBurstRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the shop binary")
	}
	bin := binarytest.Build(t, ".")
	dataDir := t.TempDir()
	initial := map[string]float64{} // on hand before anything was sold
	for round := range 2 {
		shop, cmd := startBinary(t, bin, dataDir)
		if round == 0 {
			shop.register("crash@example.com", "crash-password-1", "Crash")
		}
		customer := shop.login("crash@example.com", "crash-password-1")
		admin := shop.login(adminEmail, adminPassword)
		var products []string
		for _, it := range shop.products("?limit=100") {
			products = append(products, it["id"].(string))
		}
		if round == 0 {
			for _, id := range products {
				initial[id], _, _ = shop.stock(id)
			}
		}

		// Customers order (some with an Idempotency-Key, some retried) and pay
		// until the process dies under them.
		var placed atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 5 * time.Second}
		for w := range 24 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					body := fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":%d}]}`, products[rand.IntN(len(products))], 1+rand.IntN(2))
					req, _ := http.NewRequest("POST", shop.base+"/orders", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+customer)
					req.Header.Set("Content-Type", "application/json")
					if w%2 == 0 {
						req.Header.Set("Idempotency-Key", fmt.Sprintf("r%d-w%d-%d", round, w, i/2)) // every key sent twice
					}
					resp, err := client.Do(req)
					if err != nil {
						continue
					}
					var o struct{ ID string }
					decodeJSON(resp, &o)
					if resp.StatusCode != 201 || w%3 != 0 {
						continue
					}
					placed.Add(1)
					req, _ = http.NewRequest("POST", shop.base+"/orders/"+o.ID+"/pay", strings.NewReader(`{"card_number":"4242424242424242"}`))
					req.Header.Set("Authorization", "Bearer "+customer)
					req.Header.Set("Content-Type", "application/json")
					if resp, err := client.Do(req); err == nil {
						resp.Body.Close()
					}
				}
			})
		}
		for placed.Load() < 50 {
			time.Sleep(5 * time.Millisecond)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		close(stop)
		wg.Wait()

		shop, _ = startBinary(t, bin, dataDir)
		admin = shop.login(adminEmail, adminPassword)
		var reserved, ordered, paying int
		shop.eventually("reserved stock matches the pending orders", func() bool {
			reserved, ordered, paying = heldUnits(shop, admin, products)
			return reserved == ordered && paying == 0
		})
		// Units that left the shelf belong to paid orders, once their
		// events arrived.
		shop.eventually("sold units match the paid orders", func() bool {
			sold := map[string]float64{}
			cursor := ""
			for {
				m := shop.expect(200, "", "GET", "/orders?limit=100&cursor="+cursor, admin, "")
				for _, it := range m["items"].([]any) {
					o := it.(map[string]any)
					if o["status"] == "paid" {
						for _, l := range o["lines"].([]any) {
							line := l.(map[string]any)
							sold[line["product_id"].(string)] += line["quantity"].(float64)
						}
					}
				}
				next, _ := m["next_cursor"].(string)
				if next == "" {
					break
				}
				cursor = next
			}
			for _, id := range products {
				onHand, _, _ := shop.stock(id)
				if onHand != initial[id]-sold[id] {
					return false
				}
			}
			return true
		})
		t.Logf("round %d: %d orders placed before the kill; after the restart %d units reserved for %d ordered", round, placed.Load(), reserved, ordered)
	}
}

// decodeJSON decodes a response body into v (leaving v as it is if the
// body is not JSON) and closes it.
func decodeJSON(resp *http.Response, v any) {
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(v)
}
