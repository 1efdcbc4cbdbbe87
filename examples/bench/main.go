// Command bench measures the shop against its yardstick in one run on one
// machine: it builds examples/shop and the bare reference server
// (examples/bench/bare), starts both, drives the same hot paths of each with
// the same load generator and settings, and reports the ratios the shop's
// speed targets are stated in:
//
//   - GET /products/{id}: requests/s at least 0.7x the bare point read, p99 at
//     most 1.5x;
//   - POST /orders (one line, a customer token): at least 0.5x the bare
//     one-transaction order;
//   - one gateway hop (GET /products/{id} through transport/gateway in front
//     of the shop): at least 0.8x the requests/s of a plain
//     httputil.ReverseProxy with MaxIdleConnsPerHost raised, p99 at most 1.3x;
//   - POST /orders through the gateway of the split shop (examples/shop
//     -topology split: four services and the gateway, five processes)
//     against the monolith: reported, with the CPU each process spends per
//     order; with -profile-split DIR also a CPU profile of every part;
//   - the shop's peak resident memory under that load below 80 MB;
//   - the shop ready to serve (GET /readyz answers 200) within 300 ms of
//     starting on an existing data dir.
//
// Run it from the repository root:
//
//	go run ./examples/bench            # -c 32 -d 8s, one round
//	go run ./examples/bench -rounds 3  # median of three rounds
//	go run ./examples/bench -wrk -profile-split prof  # wrk, and profiles of the split shop
//
// Absolute figures drift between machines and runs; ratios measured in the
// same run hold.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kitshop/shop/examples/internal/loadtest"
)

func main() {
	var (
		conns    = flag.Int("c", 32, "concurrent connections")
		duration = flag.Duration("d", 8*time.Second, "measuring time per target")
		warmup   = flag.Duration("warmup", 2*time.Second, "load before each measurement, not counted")
		rounds   = flag.Int("rounds", 1, "rounds; the median round is reported")
		starts   = flag.Int("starts", 5, "restarts on the existing data dir to time readiness")
		quiet    = flag.Bool("quiet-shop", false, "start the shop with -quiet (no per-request log lines)")
		useWrk   = flag.Bool("wrk", false, "drive the load with wrk (must be installed: apt install wrk) instead of the built-in generator")
		profile  = flag.String("profile-split", "", "directory to write CPU profiles of the split shop's parts to, taken while POST /orders runs through its gateway")
	)
	flag.Parse()
	load := loadtest.Run
	if *useWrk {
		load = loadtest.Wrk
	}
	if err := run(load, *conns, *duration, *warmup, *rounds, *starts, *quiet, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// hopName names the gateway hop's row.
const hopName = "GET via gateway"

type measurement struct {
	name  string
	bare  []loadtest.Result
	shop  []loadtest.Result
	ratio []float64
	// The CPU per request of each process, for the split row.
	bareCPU, shopCPU []cpuShares
}

// loadFunc drives conns connections of a request for a while and measures.
type loadFunc func(req *http.Request, body []byte, conns int, d time.Duration) loadtest.Result

func run(load loadFunc, conns int, d, warmup time.Duration, rounds, starts int, quiet bool, profileDir string) error {
	tmp, err := os.MkdirTemp("", "kitshop-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Println("building examples/shop and examples/bench/bare (CGO_ENABLED=0)...")
	for _, b := range [][2]string{{"shop", "./examples/shop"}, {"bare", "./examples/bench/bare"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(tmp, b[0]), b[1])
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", b[1], err)
		}
	}

	bareAddr, shopAddr := mustFreeAddr(), mustFreeAddr()
	bareDir := filepath.Join(tmp, "bare-data")
	os.MkdirAll(bareDir, 0o700)
	bare, err := loadtest.Start(filepath.Join(tmp, "bare"), filepath.Join(tmp, "bare.log"), "-addr", bareAddr, "-dir", bareDir)
	if err != nil {
		return err
	}
	defer bare.Stop()
	if _, err := loadtest.WaitReady("http://"+bareAddr+"/products/p7", 30*time.Second); err != nil {
		return fmt.Errorf("bare server: %w", err)
	}

	dataDir := filepath.Join(tmp, "shop-data")
	shopArgs := []string{"-addr", shopAddr, "-data-dir", dataDir, "-admin-email", "bench@example.com",
		"-admin-password", "bench-password-1", "-order-ttl", "1h"}
	if quiet {
		shopArgs = append(shopArgs, "-quiet")
	}
	shopLog := filepath.Join(tmp, "shop.log")
	shop, err := loadtest.Start(filepath.Join(tmp, "shop"), shopLog, shopArgs...)
	if err != nil {
		return err
	}
	defer func() { shop.Stop() }()
	base := "http://" + shopAddr
	if _, err := loadtest.WaitReady(base+"/readyz", 30*time.Second); err != nil {
		return fmt.Errorf("shop: %w", err)
	}
	productID, token, err := prepare(base)
	if err != nil {
		return fmt.Errorf("prepare the shop: %w", err)
	}

	newReq := func(method, url, token string) *http.Request {
		r, _ := http.NewRequest(method, url, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		if method == http.MethodPost {
			r.Header.Set("Content-Type", "application/json")
		}
		return r
	}
	bareOrder := []byte(`{"product_id":"p7","quantity":1}`)
	shopOrder := []byte(`{"items":[{"product_id":"` + productID + `","quantity":1}]}`)
	type target struct {
		req  *http.Request
		body []byte
	}
	pairs := []struct {
		name       string
		bare, shop target
	}{
		{"GET /products/{id}", target{newReq("GET", "http://"+bareAddr+"/products/p7", ""), nil},
			target{newReq("GET", base+"/products/"+productID, ""), nil}},
		{"POST /orders", target{newReq("POST", "http://"+bareAddr+"/orders", ""), bareOrder},
			target{newReq("POST", base+"/orders", token), shopOrder}},
	}
	// One gateway hop: GET /products/{id} through the gateway against a
	// tuned ReverseProxy, both in front of the shop (the "bare" column is
	// the ReverseProxy).
	proxyAddr, gatewayAddr, stopProxies, err := proxies(shopAddr)
	if err != nil {
		return fmt.Errorf("start the proxies: %w", err)
	}
	defer stopProxies()
	pairs = append(pairs, struct {
		name       string
		bare, shop target
	}{hopName, target{newReq("GET", "http://"+proxyAddr+"/products/"+productID, ""), nil},
		target{newReq("GET", "http://"+gatewayAddr+"/products/"+productID, ""), nil}})

	// The split shop, on its own data dir: POST /orders through its gateway
	// against the monolith (the "bare" column of that row).
	splitAddr := mustFreeAddr()
	splitArgs := []string{"-topology", "split", "-service-port", "0", "-gateway-limits=false", "-addr", splitAddr,
		"-data-dir", filepath.Join(tmp, "split-data"), "-admin-email", "bench@example.com",
		"-admin-password", "bench-password-1", "-order-ttl", "1h"}
	if quiet {
		splitArgs = append(splitArgs, "-quiet")
	}
	var debugAddrs map[string]string
	if profileDir != "" {
		first, err := freeRun(5)
		if err != nil {
			return err
		}
		debugAddrs = splitDebugAddrs(first)
		splitArgs = append(splitArgs, "-debug-addr", debugAddrs["user"])
		if err := os.MkdirAll(profileDir, 0o700); err != nil {
			return err
		}
	}
	splitShop, err := loadtest.Start(filepath.Join(tmp, "shop"), filepath.Join(tmp, "split.log"), splitArgs...)
	if err != nil {
		return err
	}
	defer func() { splitShop.Stop() }()
	splitBase := "http://" + splitAddr
	if _, err := loadtest.WaitReady(splitBase+"/readyz", 90*time.Second); err != nil {
		return fmt.Errorf("split shop: %w", err)
	}
	splitProduct, splitToken, err := prepare(splitBase)
	if err != nil {
		return fmt.Errorf("prepare the split shop: %w", err)
	}
	pairs = append(pairs, struct {
		name       string
		bare, shop target
	}{splitName, target{newReq("POST", base+"/orders", token), shopOrder},
		target{newReq("POST", splitBase+"/orders", splitToken), []byte(`{"items":[{"product_id":"` + splitProduct + `","quantity":1}]}`)}})

	var peakRSS int64
	var rssMu sync.Mutex
	sample := func(stop <-chan struct{}) {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if kb := residentKB(shop.Cmd.Process.Pid, "VmRSS"); kb > 0 {
					rssMu.Lock()
					peakRSS = max(peakRSS, kb)
					rssMu.Unlock()
				}
			}
		}
	}

	ms := make([]measurement, len(pairs))
	for round := 1; round <= rounds; round++ {
		for i, p := range pairs {
			ms[i].name = p.name
			fmt.Printf("round %d: %s, %d connections, %s each...\n", round, p.name, conns, d)
			load(p.bare.req, p.bare.body, conns, warmup)
			var bareCPU, shopCPU func(float64) cpuShares
			if p.name == splitName {
				bareCPU = measureCPU(map[string]int{"monolith": shop.Cmd.Process.Pid})
			}
			b := load(p.bare.req, p.bare.body, conns, d)
			stop := make(chan struct{})
			load(p.shop.req, p.shop.body, conns, warmup)
			var profiled chan error
			if p.name == splitName {
				shopCPU = measureCPU(parts(splitShop.Cmd.Process.Pid))
				if debugAddrs != nil && round == 1 {
					profiled = make(chan error, 1)
					go func() { profiled <- profileParts(debugAddrs, max(d-time.Second, time.Second), profileDir) }()
				}
			} else {
				go sample(stop)
			}
			s := load(p.shop.req, p.shop.body, conns, d)
			close(stop)
			if profiled != nil {
				if err := <-profiled; err != nil {
					return fmt.Errorf("profile the split shop: %w", err)
				}
			}
			if p.name == splitName {
				ms[i].bareCPU = append(ms[i].bareCPU, bareCPU(b.RPS*d.Seconds()))
				ms[i].shopCPU = append(ms[i].shopCPU, shopCPU(s.RPS*d.Seconds()))
			}
			for _, r := range []loadtest.Result{b, s} {
				if r.Errors > 0 || r.Non2xx > 0 {
					return fmt.Errorf("%s: %d errors, %d non-2xx answers; first: %s", r.URL, r.Errors, r.Non2xx, r.FirstFail)
				}
			}
			ms[i].bare = append(ms[i].bare, b)
			ms[i].shop = append(ms[i].shop, s)
			ms[i].ratio = append(ms[i].ratio, s.RPS/b.RPS)
		}
	}
	hwm := residentKB(shop.Cmd.Process.Pid, "VmHWM")
	if err := splitShop.Stop(); err != nil {
		return fmt.Errorf("stop the split shop: %w", err)
	}

	// Readiness on an existing data dir: stop the shop, start it again, and
	// time from the start of the process until /readyz answers 200.
	var readies []time.Duration
	for range starts {
		if err := shop.Stop(); err != nil {
			return fmt.Errorf("stop the shop: %w", err)
		}
		began := time.Now()
		shop, err = loadtest.Start(filepath.Join(tmp, "shop"), shopLog, shopArgs...)
		if err != nil {
			return err
		}
		if _, err := loadtest.WaitReady(base+"/readyz", 10*time.Second); err != nil {
			return fmt.Errorf("restarted shop: %w", err)
		}
		readies = append(readies, time.Since(began))
	}

	fmt.Printf("\nkitshop speed, %d connections, %s per target, %d round(s), %d cores\n\n",
		conns, d, rounds, runtime.NumCPU())
	fmt.Printf("%-20s %12s %12s %12s %12s %8s %8s\n", "path", "bare req/s", "shop req/s", "bare p99", "shop p99", "ratio", "p99 x")
	verdicts := []string{}
	for _, m := range ms {
		i := medianIndex(m.ratio)
		b, s := m.bare[i], m.shop[i]
		p99x := float64(s.P99) / float64(b.P99)
		fmt.Printf("%-20s %12.0f %12.0f %12s %12s %7.2fx %7.2fx\n", m.name, b.RPS, s.RPS,
			b.P99.Round(time.Microsecond), s.P99.Round(time.Microsecond), m.ratio[i], p99x)
		switch m.name {
		case "GET /products/{id}":
			verdicts = append(verdicts, verdict("GET /products/{id} req/s >= 0.7x bare", m.ratio[i] >= 0.7, fmt.Sprintf("%.2fx", m.ratio[i])),
				verdict("GET /products/{id} p99 <= 1.5x bare", p99x <= 1.5, fmt.Sprintf("%.2fx", p99x)))
		case "POST /orders":
			verdicts = append(verdicts, verdict("POST /orders req/s >= 0.5x bare", m.ratio[i] >= 0.5, fmt.Sprintf("%.2fx", m.ratio[i])))
		case splitName:
			fmt.Printf("  CPU, monolith: %s\n  CPU, split:    %s\n", m.bareCPU[i], m.shopCPU[i])
		case hopName:
			verdicts = append(verdicts, verdict("gateway hop req/s >= 0.8x ReverseProxy", m.ratio[i] >= 0.8, fmt.Sprintf("%.2fx", m.ratio[i])),
				verdict("gateway hop p99 <= 1.3x ReverseProxy", p99x <= 1.3, fmt.Sprintf("%.2fx", p99x)))
		}
	}
	fmt.Printf("(%s: the bare column is a tuned httputil.ReverseProxy, the shop column the gateway, both in front of the shop)\n", hopName)
	fmt.Printf("(%s: the bare column is the monolith, the shop column the split shop's gateway; no target, the ratio is reported)\n", splitName)
	rssMB := float64(max(peakRSS, hwm)) / 1024
	slices.Sort(readies)
	verdicts = append(verdicts,
		verdict("shop peak RSS under load < 80 MB", rssMB < 80, fmt.Sprintf("%.1f MB (sampled peak %.1f MB, VmHWM %.1f MB)", rssMB, float64(peakRSS)/1024, float64(hwm)/1024)),
		verdict("ready within 300 ms on an existing data dir", readies[len(readies)-1] <= 300*time.Millisecond,
			fmt.Sprintf("median %s, worst %s of %d starts", readies[len(readies)/2].Round(time.Millisecond), readies[len(readies)-1].Round(time.Millisecond), len(readies))))
	fmt.Println()
	for _, v := range verdicts {
		fmt.Println(v)
	}
	return nil
}

func verdict(what string, ok bool, figure string) string {
	mark := "PASS"
	if !ok {
		mark = "FAIL"
	}
	return fmt.Sprintf("%s  %-46s %s", mark, what, figure)
}

func medianIndex(xs []float64) int {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case xs[a] < xs[b]:
			return -1
		case xs[a] > xs[b]:
			return 1
		}
		return 0
	})
	return idx[len(idx)/2]
}

// prepare gives the first sample product plenty of stock and returns its ID
// with a fresh customer's token.
func prepare(base string) (productID, token string, err error) {
	var session struct {
		Token string `json:"token"`
	}
	if err := call("POST", base+"/login", "", `{"email":"bench@example.com","password":"bench-password-1"}`, 200, &session); err != nil {
		return "", "", err
	}
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := call("GET", base+"/products?limit=1", "", "", 200, &page); err != nil {
		return "", "", err
	}
	if len(page.Items) == 0 {
		return "", "", errors.New("the shop has no products")
	}
	productID = page.Items[0].ID
	if err := call("POST", base+"/inventory/"+productID, session.Token, `{"quantity":1000000000}`, 200, nil); err != nil {
		return "", "", err
	}
	email := fmt.Sprintf("buyer-%d@example.com", time.Now().UnixNano())
	if err := call("POST", base+"/register", "", `{"email":"`+email+`","password":"buyer-password","name":"Bench Buyer"}`, 201, nil); err != nil {
		return "", "", err
	}
	if err := call("POST", base+"/login", "", `{"email":"`+email+`","password":"buyer-password"}`, 200, &session); err != nil {
		return "", "", err
	}
	return productID, session.Token, nil
}

func call(method, url, token, body string, want int, out any) error {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, url, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// freeRun finds n consecutive loopback ports no listener holds right now
// and returns the first.
func freeRun(n int) (int, error) {
	for first := 20000; first < 60000; first += n {
		free := true
		for port := first; port < first+n && free; port++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				free = false
				continue
			}
			ln.Close()
		}
		if free {
			return first, nil
		}
	}
	return 0, errors.New("no run of free ports for the profilers")
}

// residentKB reads a memory figure (VmRSS, VmHWM) of a process from /proc,
// in KiB; 0 where /proc is not available.
func residentKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// mustFreeAddr is loadtest.FreeAddr for a harness that cannot go on
// without one.
func mustFreeAddr() string {
	a, err := loadtest.FreeAddr()
	if err != nil {
		panic(err)
	}
	return a
}
