// Command searchbench measures the catalogue's search at scale in one run on
// one machine: it builds a catalogue of a million products with realistic
// names and descriptions (see catalogue.go), the way a shop of an older
// release has it, applies the search migration, which builds the full-text
// index for those products, starts examples/shop on it, and drives with the
// same load generator and settings a page of the list and the searches:
//
//   - a page of the list (GET /products), the yardstick;
//   - a search with a common word, a rare word, a word nothing has, and a
//     category with a search;
//   - more searches people type, reported with the same aims: two words, a
//     word half typed, a word found only in descriptions.
//
// It reports requests/s and latencies, each search's ratio to the list, the
// time to build the catalogue and the index, and the database's size with
// and without the index, against the aims of the search:
//
//   - every search at least 0.3x the list page's requests per second;
//   - every search's p99 under 20 ms at 16 connections;
//   - the catalogue database at most 2x its size without the index.
//
// Before the load, each search is paged through to its end (100 a page) to
// count what it finds and check that no product comes twice.
//
// Run it from the repository root (it reads the older migrations from
// catalog/migrations and builds ./examples/shop):
//
//	go run ./examples/searchbench                    # 1,000,000 products, -c 16 -d 8s
//	go run ./examples/searchbench -n 200000 -d 4s     # smaller and quicker
//	go run ./examples/searchbench -keep ../sb-data    # keep the data dir...
//	go run ./examples/searchbench -reuse ../sb-data   # ...and measure it again without building
//	go run ./examples/searchbench -wrk                # drive the load with wrk
//
// Absolute figures drift between machines and runs; ratios measured in the
// same run hold. The load generator runs on the same machine as the shop.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/kitshop/shop/examples/internal/loadtest"
)

// The aims of the search, as the issue states them.
const (
	minRatio  = 0.3
	maxP99    = 20 * time.Millisecond
	maxGrowth = 2.0
)

func main() {
	var (
		n        = flag.Int("n", 1_000_000, "products in the catalogue")
		seed     = flag.Uint64("seed", 1, "seed of the generated catalogue")
		conns    = flag.Int("c", 16, "concurrent connections")
		duration = flag.Duration("d", 8*time.Second, "measuring time per target")
		warmup   = flag.Duration("warmup", 2*time.Second, "load before each measurement, not counted")
		rounds   = flag.Int("rounds", 1, "rounds; each target's median round is reported")
		useWrk   = flag.Bool("wrk", false, "drive the load with wrk (apt install wrk) instead of the built-in generator")
		quiet    = flag.Bool("quiet-shop", false, "start the shop with -quiet (no per-request log lines)")
		keep     = flag.String("keep", "", "build the data dir here and keep it (for -reuse)")
		reuse    = flag.String("reuse", "", "measure the data dir a run with -keep built, without building")
	)
	flag.Parse()
	load := loadtest.Run
	if *useWrk {
		load = loadtest.Wrk
	}
	cfg := config{n: *n, seed: *seed, conns: *conns, d: *duration, warmup: *warmup, rounds: max(1, *rounds),
		load: load, quiet: *quiet, keep: *keep, reuse: *reuse}
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "searchbench:", err)
		os.Exit(1)
	}
}

type config struct {
	n             int
	seed          uint64
	conns, rounds int
	d, warmup     time.Duration
	load          func(req *http.Request, body []byte, conns int, d time.Duration) loadtest.Result
	quiet         bool
	keep, reuse   string
}

// The searches. The rare word is picked while generating: a collection
// name found in about ten products.
const (
	commonWord     = "steel"
	searchCategory = "kitchen"
	noMatch        = "qzxjvw"
)

// target is one request the load drives.
type target struct {
	name, query string
	search      bool // a search, held to the aims
	extra       bool // beyond the five the issue names
}

func run(ctx context.Context, cfg config) error {
	tmp, err := os.MkdirTemp("", "kitshop-searchbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	dataDir := filepath.Join(tmp, "data")
	switch {
	case cfg.reuse != "":
		dataDir = cfg.reuse
	case cfg.keep != "":
		dataDir = cfg.keep
	}
	statsFile := filepath.Join(dataDir, "searchbench.json")
	var st buildStats
	if cfg.reuse != "" {
		raw, err := os.ReadFile(statsFile)
		if err != nil {
			return fmt.Errorf("-reuse %s: %w", cfg.reuse, err)
		}
		if err := json.Unmarshal(raw, (*savedStats)(&st)); err != nil {
			return fmt.Errorf("-reuse %s: %w", statsFile, err)
		}
		fmt.Printf("reusing %s: %d products\n", dataDir, st.products)
	} else {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(dataDir, "catalog.db")); err == nil {
			return fmt.Errorf("%s already holds a catalogue; remove it or pass -reuse", dataDir)
		}
		fmt.Printf("building a catalogue of %d products...\n", cfg.n)
		st, err = buildCatalogue(ctx, filepath.Join(dataDir, "catalog.db"), cfg.n, cfg.seed, commonWord, searchCategory,
			func(s string) { fmt.Println(s) })
		if err != nil {
			return err
		}
		raw, _ := json.Marshal((*savedStats)(&st))
		if err := os.WriteFile(statsFile, raw, 0o600); err != nil {
			return err
		}
	}

	fmt.Println("building examples/shop (CGO_ENABLED=0)...")
	bin := filepath.Join(tmp, "shop")
	build := exec.Command("go", "build", "-o", bin, "./examples/shop")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build examples/shop: %w", err)
	}
	addr, err := loadtest.FreeAddr()
	if err != nil {
		return err
	}
	args := []string{"-addr", addr, "-data-dir", dataDir, "-sample-data=false"}
	if cfg.quiet {
		args = append(args, "-quiet")
	}
	began := time.Now()
	shop, err := loadtest.Start(bin, filepath.Join(tmp, "shop.log"), args...)
	if err != nil {
		return err
	}
	defer shop.Stop()
	base := "http://" + addr
	if _, err := loadtest.WaitReady(base+"/readyz", 2*time.Minute); err != nil {
		log, _ := os.ReadFile(filepath.Join(tmp, "shop.log"))
		return fmt.Errorf("shop: %w\n%s", err, log)
	}
	fmt.Printf("shop ready in %s\n", time.Since(began).Round(time.Millisecond))

	targets := []target{
		{"list page", "", false, false},
		{"search, common word", "q=" + commonWord, true, false},
		{"search, rare word", "q=" + url.QueryEscape(st.rareWord), true, false},
		{"search, no match", "q=" + noMatch, true, false},
		{"category + search", "category=" + searchCategory + "&q=" + commonWord, true, false},
		{"search, two words", "q=" + url.QueryEscape("organic cotton"), true, true},
		{"search, word half typed", "q=hoo", true, true},
		{"search, description word", "q=dishwasher", true, true},
	}

	// Count what each search finds, paging through it all.
	counts := map[string]int{}
	for _, t := range targets {
		if !t.search {
			continue
		}
		n, err := countAll(base, t.query)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		counts[t.name] = n
	}

	results := make([][]loadtest.Result, len(targets))
	for round := 1; round <= cfg.rounds; round++ {
		for i, t := range targets {
			req, _ := http.NewRequest("GET", base+"/products?"+t.query, nil)
			fmt.Printf("round %d: %s, %d connections, %s...\n", round, t.name, cfg.conns, cfg.d)
			cfg.load(req, nil, cfg.conns, cfg.warmup)
			r := cfg.load(req, nil, cfg.conns, cfg.d)
			if r.Errors > 0 || r.Non2xx > 0 {
				return fmt.Errorf("%s: %d errors, %d non-2xx answers; first: %s", r.URL, r.Errors, r.Non2xx, r.FirstFail)
			}
			results[i] = append(results[i], r)
		}
	}
	report(cfg, st, targets, results, counts)
	return nil
}

// countAll pages through GET /products?query to its end, 100 a page, and
// returns how many products it found, failing if one comes twice.
func countAll(base, query string) (int, error) {
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		u := base + "/products?limit=100&" + query
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		resp, err := http.Get(u)
		if err != nil {
			return 0, err
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, raw)
		}
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return 0, err
		}
		for _, p := range page.Items {
			if seen[p.ID] {
				return 0, fmt.Errorf("product %s found twice", p.ID)
			}
			seen[p.ID] = true
		}
		if page.NextCursor == "" {
			return len(seen), nil
		}
		cursor = page.NextCursor
	}
}

// median returns the result with the median requests/s.
func median(rs []loadtest.Result) loadtest.Result {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b loadtest.Result) int {
		switch {
		case a.RPS < b.RPS:
			return -1
		case a.RPS > b.RPS:
			return 1
		}
		return 0
	})
	return rs[len(rs)/2]
}

func report(cfg config, st buildStats, targets []target, results [][]loadtest.Result, counts map[string]int) {
	mb := func(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }
	fmt.Printf("\nkitshop search, %d products, %d connections, %s per target, %d round(s), %d cores\n\n",
		st.products, cfg.conns, cfg.d, cfg.rounds, runtime.NumCPU())
	fmt.Printf("catalogue: built in %s (%.0f products/s; bulk inserts, 50,000 a transaction)\n",
		st.catalogue.Round(100*time.Millisecond), float64(st.products)/st.catalogue.Seconds())
	fmt.Printf("index:     the search migration took %s on those products (search keys, both FTS5 indexes built and optimised, triggers)\n",
		st.index.Round(100*time.Millisecond))
	without := st.sizeNew - st.searchBytes
	growth := float64(st.sizeNew) / float64(without)
	fmt.Printf("size:      %s with the index, %s of it the search's tables and index; %s without them (%.2fx); %s before the migration\n",
		mb(st.sizeNew), mb(st.searchBytes), mb(without), growth, mb(st.sizeOld))
	names := make([]string, 0, len(st.objects))
	for name := range st.objects {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return int(st.objects[b] - st.objects[a]) })
	for _, name := range names {
		if st.objects[name] >= 1<<20 {
			fmt.Printf("             %-28s %s\n", name, mb(st.objects[name]))
		}
	}
	fmt.Printf("words:     common %q (about %d products hold it, %d of them in %s), rare %q (its collection names %s products)\n\n",
		commonWord, st.commonDF, st.catDF, searchCategory, st.rareWord, st.rareCount)

	list := median(results[0])
	fmt.Printf("%-26s %-44s %8s %9s %9s %9s %7s\n", "target", "GET /products?", "found", "req/s", "p50", "p99", "x list")
	var verdicts []string
	for i, t := range targets {
		r := median(results[i])
		ratio := r.RPS / list.RPS
		found := "-"
		if t.search {
			found = fmt.Sprint(counts[t.name])
		}
		fmt.Printf("%-26s %-44s %8s %9.0f %9s %9s %6.2fx\n", t.name, t.query, found, r.RPS,
			r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), ratio)
		if t.search {
			label := t.name
			if t.extra {
				label += " (extra)"
			}
			verdicts = append(verdicts,
				verdict(fmt.Sprintf("%s req/s >= %.1fx list", label, minRatio), ratio >= minRatio, fmt.Sprintf("%.2fx", ratio)),
				verdict(fmt.Sprintf("%s p99 < %s", label, maxP99), r.P99 < maxP99, r.P99.Round(10*time.Microsecond).String()))
		}
	}
	verdicts = append(verdicts, verdict(fmt.Sprintf("database with the index <= %.0fx without", maxGrowth), growth <= maxGrowth,
		fmt.Sprintf("%.2fx (%s / %s)", growth, mb(st.sizeNew), mb(without))))
	fmt.Println()
	for _, v := range verdicts {
		fmt.Println(v)
	}
	if runtime.NumCPU() <= 2 {
		fmt.Printf("(%d cores: the load generator and the shop share them)\n", runtime.NumCPU())
	}
}

func verdict(what string, ok bool, figure string) string {
	mark := "PASS"
	if !ok {
		mark = "FAIL"
	}
	return fmt.Sprintf("%s  %-52s %s", mark, what, figure)
}

// savedStats is buildStats as searchbench.json keeps it for -reuse.
type savedStats buildStats

func (s *savedStats) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"products": s.products, "catalogue_ns": s.catalogue, "index_ns": s.index, "vacuum_ns": s.vacuum,
		"size_old": s.sizeOld, "size_new": s.sizeNew, "objects": s.objects, "search_bytes": s.searchBytes,
		"common_df": s.commonDF, "category_df": s.catDF, "rare_word": s.rareWord, "rare_count": s.rareCount,
	})
}

func (s *savedStats) UnmarshalJSON(raw []byte) error {
	var v struct {
		Products    int              `json:"products"`
		Catalogue   time.Duration    `json:"catalogue_ns"`
		Index       time.Duration    `json:"index_ns"`
		Vacuum      time.Duration    `json:"vacuum_ns"`
		SizeOld     int64            `json:"size_old"`
		SizeNew     int64            `json:"size_new"`
		Objects     map[string]int64 `json:"objects"`
		SearchBytes int64            `json:"search_bytes"`
		CommonDF    int              `json:"common_df"`
		CategoryDF  int              `json:"category_df"`
		RareWord    string           `json:"rare_word"`
		RareCount   string           `json:"rare_count"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	if v.Products == 0 || v.RareWord == "" {
		return errors.New("not a searchbench data dir")
	}
	*s = savedStats{products: v.Products, catalogue: v.Catalogue, index: v.Index, vacuum: v.Vacuum, sizeOld: v.SizeOld,
		sizeNew: v.SizeNew, objects: v.Objects, searchBytes: v.SearchBytes, commonDF: v.CommonDF, catDF: v.CategoryDF,
		rareWord: v.RareWord, rareCount: v.RareCount}
	return nil
}
