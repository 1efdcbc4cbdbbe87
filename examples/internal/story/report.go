package story

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// OrderCounts says what the customers did with their orders: placements
// made (Placements), refused for lack of stock (Refused) or without a known
// answer (Unresolved); orders placed (Placed), of them placed with an
// Idempotency-Key (Keyed); orders paid, cancelled and left to expire as
// the customers heard it; payments declined as intended (Declined) and
// refused because the order had expired meanwhile (PayRefused).
type OrderCounts struct {
	Placements int `json:"placements"`
	Placed     int `json:"placed"`
	Keyed      int `json:"keyed"`
	Refused    int `json:"refused"`
	Unresolved int `json:"unresolved"`
	Paid       int `json:"paid"`
	Cancelled  int `json:"cancelled"`
	LeftUnpaid int `json:"left_unpaid"`
	Declined   int `json:"declined"`
	PayRefused int `json:"pay_refused"`
}

// Report is the whole run: what the load did and measured, and what the
// check found.
type Report struct {
	Base      string        `json:"base"`
	RunID     string        `json:"run_id"`
	Seed      uint64        `json:"seed"`
	Customers int           `json:"customers"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	Requests  int           `json:"requests"`
	Errors    int           `json:"errors"`
	Rate      float64       `json:"rate_per_s"`
	Orders    OrderCounts   `json:"orders"`
	Steps     []StepReport  `json:"steps"`
	Outcomes  []Outcome     `json:"outcomes"`
	Check     Check         `json:"check"`
}

// Report puts the load's figures beside check, the result of Check.
func (r *Run) Report(check Check) Report {
	elapsed := r.loadEnd.Sub(r.loadStart)
	rep := Report{Base: r.cfg.Base, RunID: r.id, Seed: r.cfg.Seed, Customers: len(r.customers), Elapsed: elapsed,
		Requests: int(r.stats.requests.Load()), Errors: int(r.stats.errors.Load()),
		Steps: r.stats.steps(elapsed), Outcomes: r.stats.outcomeList(), Check: check}
	if elapsed > 0 {
		rep.Rate = float64(rep.Requests) / elapsed.Seconds()
	}
	for _, c := range r.customers {
		o := &rep.Orders
		o.Refused += c.refused
		o.Unresolved += c.unresolved
		o.Placed += len(c.orders)
		for _, rec := range c.orders {
			if rec.key != "" {
				o.Keyed++
			}
			o.Declined += rec.declines
			switch {
			case rec.paid:
				o.Paid++
			case rec.cancelled:
				o.Cancelled++
			case rec.payRefused:
				o.PayRefused++
			case rec.fate == fateExpire:
				o.LeftUnpaid++
			}
		}
	}
	rep.Orders.Placements = rep.Orders.Placed + rep.Orders.Refused + rep.Orders.Unresolved
	return rep
}

// WriteText writes the report for people: the throughput, a table of the
// steps, the answers that were not plain successes, and the check.
func (rep Report) WriteText(w io.Writer) error {
	var b strings.Builder
	secs := rep.Elapsed.Seconds()
	perSec := func(n int) float64 {
		if secs <= 0 {
			return 0
		}
		return float64(n) / secs
	}
	fmt.Fprintf(&b, "loadgen run %s against %s: %d customers for %s (seed %d)\n",
		rep.RunID, rep.Base, rep.Customers, rep.Elapsed.Round(time.Millisecond), rep.Seed)
	o := rep.Orders
	fmt.Fprintf(&b, "requests: %d (%.1f/s), %d errors\n", rep.Requests, rep.Rate, rep.Errors)
	fmt.Fprintf(&b, "orders: %d placed (%.1f/s, %d with an Idempotency-Key), %d refused for stock, %d without a known answer\n",
		o.Placed, perSec(o.Placed), o.Keyed, o.Refused, o.Unresolved)
	fmt.Fprintf(&b, "        %d paid (%.1f/s), %d cancelled, %d left unpaid to expire, %d payments refused as the order had expired, %d declined cards\n",
		o.Paid, perSec(o.Paid), o.Cancelled, o.LeftUnpaid, o.PayRefused, o.Declined)

	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\trequests\trate/s\tok\texpected\tretried\terrors\tp50\tp95\tp99\tmax\t")
	for _, s := range rep.Steps {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t\n", s.Name, s.Requests, s.Rate, s.OK, s.Expected, s.Retried, s.Errors,
			roundDuration(s.P50), roundDuration(s.P95), roundDuration(s.P99), roundDuration(s.Max))
	}
	tw.Flush()

	if len(rep.Outcomes) > 0 {
		b.WriteString("\nanswers other than success, by status and code:\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, oc := range rep.Outcomes {
			kind := "error"
			switch {
			case oc.Expected:
				kind = "expected"
			case oc.Retried:
				kind = "retried"
			}
			status := fmt.Sprint(oc.Status)
			if oc.Status == 0 {
				status = "---"
			}
			example := ""
			if kind == "error" {
				example = oc.Example
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\n", status, oc.Code, oc.Count, kind, strings.Join(oc.Steps, ","), example)
		}
		tw.Flush()
	}

	c := rep.Check
	b.WriteString("\nconsistency check")
	if c.Passed() {
		b.WriteString(": PASS\n")
	} else {
		fmt.Fprintf(&b, ": FAIL, %d violations\n", len(c.Violations))
	}
	var statuses []string
	for _, s := range statusNames(c.ByStatus) {
		statuses = append(statuses, fmt.Sprintf("%d %s", c.ByStatus[s], s))
	}
	fmt.Fprintf(&b, "  %d orders of the run read back (%s), %d the customers never heard of (%d placements without a known answer), %d of other accounts on the run's products\n",
		c.Orders, strings.Join(statuses, ", "), c.Unknown, c.Unresolved, c.Foreign)
	fmt.Fprintf(&b, "  stock read back after %s:\n", c.StockWait.Round(time.Millisecond))
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  product\tstart\tsold\treturned\theld\ton_hand\treserved\tavailable\t")
	for _, p := range c.Products {
		name := p.SKU
		if p.Scarce {
			name += " (scarce)"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", name, p.StartOnHand, p.Sold, p.Returned, p.Held, p.OnHand, p.Reserved, p.Available)
	}
	tw.Flush()
	const shown = 50
	for i, v := range c.Violations {
		if i == shown {
			fmt.Fprintf(&b, "  ... and %d more\n", len(c.Violations)-shown)
			break
		}
		fmt.Fprintf(&b, "  VIOLATION %s: %s\n", v.Rule, v.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
