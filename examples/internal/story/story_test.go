package story

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kitshop/shop/examples/internal/binarytest"
	"github.com/kitshop/shop/examples/internal/story/storytest"
	"github.com/kitshop/shop/internal/testkit"
)

const (
	adminEmail    = storytest.AdminEmail
	adminPassword = storytest.AdminPassword
)

// testConfig is a short run with every kind of order.
func testConfig(base string) Config {
	return Config{
		Base: base, Customers: 4, Duration: 3 * time.Second,
		AdminEmail: adminEmail, AdminPassword: adminPassword,
		CancelShare: 0.2, ExpireShare: 0.2, DeclineShare: 0.3, IdempotentShare: 0.3,
		Seed: 42, EventWait: 3 * time.Second, SettleTimeout: 20 * time.Second,
	}
}

// runStory runs cfg's whole story and returns the run and its check.
func runStory(t *testing.T, cfg Config) (*Run, Check) {
	t.Helper()
	ctx := context.Background()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	r.Load(ctx, nil)
	if err := r.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	check, err := r.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r, check
}

func reportText(t *testing.T, rep Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// wantEveryStep checks that the run went through every step of the story
// and every fate of an order, and that its check passed.
func wantEveryStep(t *testing.T, r *Run, check Check) Report {
	t.Helper()
	rep := r.Report(check)
	text := reportText(t, rep)
	if !check.Passed() {
		t.Fatalf("the check failed against an honest shop:\n%s", text)
	}
	t.Logf("the run's report:\n%s", text)
	for _, s := range rep.Steps {
		if s.Requests == 0 || s.OK+s.Expected == 0 {
			t.Errorf("step %s: %d requests, %d answered as intended; want some", s.Name, s.Requests, s.OK+s.Expected)
		}
		if !regexp.MustCompile(`(?m)^ *` + regexp.QuoteMeta(s.Name) + ` +[1-9]\d* `).MatchString(text) {
			t.Errorf("the report has no row for step %s", s.Name)
		}
	}
	if len(rep.Steps) != len(Steps) {
		t.Errorf("the report has %d steps, want %d", len(rep.Steps), len(Steps))
	}
	o := rep.Orders
	if o.Placed == 0 || o.Paid == 0 || o.Cancelled == 0 || o.LeftUnpaid == 0 || o.Keyed == 0 || o.Declined == 0 || o.Refused == 0 {
		t.Errorf("the run missed a kind of order: %+v\n%s", o, text)
	}
	if rep.Errors != 0 {
		t.Errorf("%d requests failed:\n%s", rep.Errors, text)
	}
	// With a one-second TTL every order the customers left ends expired
	// within the settle wait, and its stock comes back.
	if check.ByStatus[statusPending] != 0 || check.ByStatus[statusPaying] != 0 || check.ByStatus[statusExpired] == 0 {
		t.Errorf("orders by status %v, want none pending or paying and some expired", check.ByStatus)
	}
	if check.Orders != o.Placed {
		t.Errorf("the check read back %d orders, the customers placed %d", check.Orders, o.Placed)
	}
	var sold, returned int64
	for _, p := range check.Products {
		sold += p.Sold
		returned += p.Returned
		if p.Reserved != 0 || p.OnHand != p.StartOnHand-p.Sold {
			t.Errorf("product %+v after the run", p)
		}
	}
	if sold == 0 || returned == 0 {
		t.Errorf("%d units sold and %d returned, want some of each", sold, returned)
	}
	for _, want := range []string{"consistency check: PASS", "requests:", "p99", "insufficient_stock", "card_declined"} {
		if !strings.Contains(text, want) {
			t.Errorf("the report does not say %q:\n%s", want, text)
		}
	}
	return rep
}

func TestStoryAgainstTheMonolith(t *testing.T) {
	base := storytest.StartShop(t)
	var progress testkit.SyncBuffer
	cfg := testConfig(base)
	cfg.Progress, cfg.ProgressEvery = &progress, 500*time.Millisecond
	r, check := runStory(t, cfg)
	wantEveryStep(t, r, check)
	if lines := strings.Count(progress.String(), " req/s "); lines < 3 || strings.Contains(progress.String(), "\r") {
		t.Errorf("progress: %d plain lines, want a few and no \\r:\n%s", lines, progress.String())
	}

	// The shop lies: stock appears behind the checker's back.
	_, _, admin := binarytest.DoJSON(t, "POST", base+"/login", "", fmt.Sprintf(`{"email":%q,"password":%q}`, adminEmail, adminPassword))
	token := admin["token"].(string)
	lied := r.Products()[0]
	if status, _, m := binarytest.DoJSON(t, "POST", base+"/inventory/"+lied.ID, token, `{"quantity":5}`); status != 200 {
		t.Fatalf("adding stock: %d %v", status, m)
	}
	check, err := r.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !hasViolation(check, RuleStock, lied.SKU+": on_hand") {
		t.Fatalf("the check passed over 5 units that appeared on %s; violations: %v", lied.SKU, check.Violations)
	}
	if len(check.Violations) != 1 {
		t.Errorf("violations %v, want only the one on %s", check.Violations, lied.SKU)
	}

	// The shop lies again: a paid order becomes refunded, which no
	// customer asked for.
	var paid string
	for _, c := range r.customers {
		for _, rec := range c.orders {
			if rec.paid && paid == "" {
				paid = rec.id
			}
		}
	}
	if status, _, m := binarytest.DoJSON(t, "POST", base+"/orders/"+paid+"/refund", token, ""); status != 200 {
		t.Fatalf("refunding %s: %d %v", paid, status, m)
	}
	check, err = r.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !hasViolation(check, RuleStatus, "order "+paid+" is refunded") {
		t.Fatalf("the check passed over order %s refunded behind the customer's back; violations: %v", paid, check.Violations)
	}
	if text := reportText(t, r.Report(check)); !strings.Contains(text, "consistency check: FAIL") || !strings.Contains(text, "VIOLATION status: order "+paid) {
		t.Errorf("the report does not show the failure:\n%s", text)
	}
}

func TestStoryAgainstTheSplitShop(t *testing.T) {
	base := storytest.StartShop(t, "-topology", "split", "-service-port", "0", "-gateway-limits=false")
	var progress testkit.SyncBuffer
	cfg := testConfig(base)
	cfg.Progress, cfg.Live, cfg.ProgressEvery = &progress, true, 500*time.Millisecond
	r, check := runStory(t, cfg)
	wantEveryStep(t, r, check)
	// On a terminal the line is redrawn in place, and cleared at the end.
	out := progress.String()
	if strings.Count(out, "\r") < 3 || !strings.Contains(out, " req/s ") || !strings.Contains(out, "\r\033[K") || strings.Count(out, "\n") != strings.Count(out, "settle:") {
		t.Errorf("progress on a terminal: %q", out)
	}
}

func hasViolation(c Check, rule, detail string) bool {
	return slices.ContainsFunc(c.Violations, func(v Violation) bool { return v.Rule == rule && strings.Contains(v.Detail, detail) })
}
