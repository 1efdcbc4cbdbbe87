// Command loadgen runs virtual customers against a running shop, a
// monolith or the split shop's gateway, through its public API, and then
// checks through the same API that the shop kept its books.
//
// Each customer registers, logs in, browses and searches the run's
// products, and places orders (some with an Idempotency-Key, sent twice),
// which it pays (some first with the declined test card), cancels or leaves
// to expire. A few products are scarce, so some orders are refused with
// 409 insufficient_stock, an expected outcome. The load runs for -duration
// or until -orders placements, with a progress line (redrawn in place on a
// terminal, a line every few seconds otherwise).
//
// At the end it prints the throughput, p50/p95/p99 latency per step, the
// answers other than success by status and code, and a consistency check
// read back through the API: every paid unit sold exactly once, every
// cancelled or expired one back in stock, no order in a state its
// customer's actions do not allow, no stock below zero, and no
// Idempotency-Key retry that made a second order. It exits 1 when the check
// fails (or the run cannot be set up or read back), 2 on bad flags, 0
// otherwise.
//
// The shop needs an admin account (-admin-email, -admin-password of both),
// which creates the run's own products and stock and reads every order for
// the check. Give the shop a short -order-ttl, such as 2s, so the orders
// left unpaid expire within the run; loadgen then waits for them (at most
// -settle-timeout) and checks their stock came back. With a longer TTL they
// are still pending at the check, which counts their units as reserved.
// In front of the split shop, turn the gateway's rate limits off: they
// would answer a load test with 429s.
//
//	go run ./examples/shop -admin-email admin@example.com -admin-password 'admin-password-1' -order-ttl 2s
//	go run ./examples/loadgen -admin-email admin@example.com -admin-password 'admin-password-1' -duration 20s
//
//	go run ./examples/shop -topology split -gateway-limits=false -order-ttl 2s -admin-email ... -admin-password ...
//
// Ctrl-C ends the load early and still checks; a second Ctrl-C stops at once.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kitshop/shop/examples/internal/story"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stdout), signals()))
}

// signals delivers SIGINT and SIGTERM.
func signals() <-chan os.Signal {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	return ch
}

// isTerminal says whether f is a terminal, where a progress line can be
// redrawn in place.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// run is the whole command, returning its exit status: the first signal on
// sig ends the load (the check still runs), the second stops everything.
func run(args []string, stdout, stderr io.Writer, live bool, sig <-chan os.Signal) int {
	var cfg story.Config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Base, "base", story.DefaultBase, "the shop's public address: the monolith or the split shop's gateway")
	fs.IntVar(&cfg.Customers, "customers", story.DefaultCustomers, "virtual customers running at once")
	fs.DurationVar(&cfg.Duration, "duration", story.DefaultDuration, "how long the load runs (with -orders alone: no limit)")
	fs.IntVar(&cfg.Orders, "orders", 0, "end the load after this many placements (orders placed or refused); 0: no limit")
	fs.StringVar(&cfg.AdminEmail, "admin-email", "", "an admin account of the shop (required): it sets up the run's products and reads all orders")
	fs.StringVar(&cfg.AdminPassword, "admin-password", "", "the admin account's password (required)")
	fs.Float64Var(&cfg.CancelShare, "cancel-share", 0.2, "share of the orders placed that are cancelled")
	fs.Float64Var(&cfg.ExpireShare, "expire-share", 0.1, "share of the orders placed that are left unpaid to expire")
	fs.Float64Var(&cfg.DeclineShare, "decline-share", 0.1, "share of the payments that first try the declined test card")
	fs.Float64Var(&cfg.IdempotentShare, "idempotent-share", 0.2, "share of the placements sent with an Idempotency-Key, and sent again")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the customers' choices; 0 picks one (the report shows it)")
	fs.IntVar(&cfg.Products, "products", story.DefaultProducts, "products with plenty of stock the run creates")
	fs.IntVar(&cfg.ScarceProducts, "scarce", story.DefaultScarceProducts, "products with little stock the run creates, so some orders are refused")
	fs.Int64Var(&cfg.Stock, "stock", story.DefaultStock, "units of each plentiful product")
	fs.Int64Var(&cfg.ScarceStock, "scarce-stock", story.DefaultScarceStock, "units of each scarce product")
	fs.DurationVar(&cfg.SettleTimeout, "settle-timeout", story.DefaultSettleTimeout, "how long to wait after the load for pending orders to expire")
	fs.DurationVar(&cfg.EventWait, "event-wait", story.DefaultEventWait, "how long the check waits for the stock to catch up with the orders")
	fs.DurationVar(&cfg.RequestTimeout, "timeout", story.DefaultRequestTimeout, "the longest one request may take")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of text, and no progress")
	if err := fs.Parse(args); err != nil {
		return 2 // the flag package said why, or showed the help
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected arguments %q\n", fs.Args())
		return 2
	}
	durationSet := false
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })
	if cfg.Orders > 0 && !durationSet {
		cfg.Duration = 0
	}
	if !*asJSON {
		cfg.Progress, cfg.Live = stdout, live
	}
	r, err := story.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}

	endLoad := make(chan struct{})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		for n := 0; ; n++ {
			select {
			case <-sig:
			case <-ctx.Done():
				return
			}
			if n == 0 {
				fmt.Fprintln(stderr, "loadgen: ending the load; the check still runs (Ctrl-C again to stop now)")
				close(endLoad)
				continue
			}
			stop()
			return
		}
	}()

	if err := r.Setup(ctx); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	cfg = r.Config()
	if !*asJSON {
		limit := fmt.Sprintf("for %s", cfg.Duration)
		if cfg.Orders > 0 {
			limit = fmt.Sprintf("for %d placements", cfg.Orders)
			if cfg.Duration > 0 {
				limit += fmt.Sprintf(" or %s", cfg.Duration)
			}
		}
		fmt.Fprintf(stdout, "loadgen: %d customers %s against %s, products in category %s\n", cfg.Customers, limit, cfg.Base, r.Category())
	}
	r.Load(ctx, endLoad)
	if err := r.Settle(ctx); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	check, err := r.Check(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	rep := r.Report(check)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	} else if err := rep.WriteText(stdout); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	if !check.Passed() {
		fmt.Fprintf(stderr, "loadgen: the consistency check failed: %d violations\n", len(check.Violations))
		return 1
	}
	return 0
}
