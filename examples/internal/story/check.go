package story

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The rules the check holds the shop to, as Violation.Rule names them.
const (
	// RuleStock: a product's on hand is not its start minus the units of
	// its paid orders, or its reserved units are not those of its pending
	// (and paying) orders, once the events had time to arrive; or a read
	// during the load shows more on hand than at the start.
	RuleStock = "stock"
	// RuleNegative: stock below zero, or available not on hand minus
	// reserved, at the end or in a read during the load.
	RuleNegative = "negative-stock"
	// RuleStatus: an order in a status its customer's actions do not allow
	// (paid though never paid, cancelled though never cancelled, expired
	// though paid, still pending long after its expiry, a status the API
	// does not have), or a success answer showing the wrong status.
	RuleStatus = "status"
	// RuleHistory: an order's history is not a walk of the documented
	// state machine ending in its status, or a paid order has no payment.
	RuleHistory = "history"
	// RuleLines: an order's lines, prices or total are not what was asked
	// for at the product's price.
	RuleLines = "lines"
	// RuleMissing: an order the shop placed (201) is not listed, to its
	// customer or to the admin.
	RuleMissing = "missing-order"
	// RuleExtra: a customer has more orders than its placements can
	// explain (each placement whose answer never came may have made one).
	RuleExtra = "extra-order"
	// RuleIdempotency: requests with one Idempotency-Key answered with
	// different orders, or a retry was refused after the first had placed
	// its order.
	RuleIdempotency = "idempotency"
	// RuleCatalog: a page, search or product read answered with products
	// the run did not make, or other than it made them.
	RuleCatalog = "catalog"
	// RuleVisibility: a customer's list shows someone else's order, or a
	// different status than the admin sees for a settled order.
	RuleVisibility = "visibility"
)

// Violation is one broken rule (one of the Rule... constants) and what was
// seen.
type Violation struct {
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
}

// ProductCheck is one product of the run at the check: its units on hand
// at the start, the units its orders sold (paid), returned (cancelled,
// expired, refunded) and hold (pending or paying), and the stock read back.
type ProductCheck struct {
	ID          string `json:"id"`
	SKU         string `json:"sku"`
	Scarce      bool   `json:"scarce"`
	StartOnHand int64  `json:"start_on_hand"`
	Sold        int64  `json:"sold"`
	Returned    int64  `json:"returned"`
	Held        int64  `json:"held"`
	OnHand      int64  `json:"on_hand"`
	Reserved    int64  `json:"reserved"`
	Available   int64  `json:"available"`
}

// Check is what the consistency check read back and found.
type Check struct {
	// Orders is how many orders of the run the shop holds, by status.
	Orders   int            `json:"orders"`
	ByStatus map[string]int `json:"by_status"`
	// Unresolved is how many placements never got a known answer, and
	// Unknown how many orders of the run's customers the customers never
	// heard of (at most Unresolved when the shop is right).
	Unresolved int `json:"unresolved"`
	Unknown    int `json:"unknown"`
	// Foreign is how many orders of other accounts touch the run's
	// products; they count in the stock like the run's own.
	Foreign    int            `json:"foreign"`
	Products   []ProductCheck `json:"products"`
	Violations []Violation    `json:"violations"`
	// StockWait is how long the stock took to agree with the orders (or
	// EventWait, when it never did).
	StockWait time.Duration `json:"stock_wait_ns"`
}

// Passed says whether no rule was broken.
func (c Check) Passed() bool { return len(c.Violations) == 0 }

// expiryGrace is how long after its expiry an order may still be pending:
// the shop sweeps for expired orders every tenth of -order-ttl, at most
// every 5 s.
const expiryGrace = 10 * time.Second

// Settle waits until no order of the run is pending or paying, at most
// cfg.SettleTimeout; it does not wait for pending orders that expire later
// than that (a shop with a long -order-ttl), which the check then counts
// as holding their units.
func (r *Run) Settle(ctx context.Context) error {
	deadline := time.Now().Add(r.cfg.SettleTimeout)
	lastSaid := time.Time{}
	for {
		orders, err := r.adminOrders(ctx)
		if err != nil {
			return err
		}
		pending, paying := 0, 0
		var latest time.Time // when the last pending order known to the customers expires, on this clock
		for _, o := range orders {
			switch o.Status {
			case statusPending:
				pending++
				if rec := r.record(o.ID); rec != nil {
					latest = maxTime(latest, rec.placedAt.Add(rec.ttl))
				}
			case statusPaying:
				paying++
			}
		}
		now := time.Now()
		switch {
		case pending == 0 && paying == 0:
			return nil
		case now.After(deadline):
			r.say("settle: %d orders still pending and %d paying after %s; the check counts their units as reserved", pending, paying, r.cfg.SettleTimeout)
			return nil
		case paying == 0 && latest.After(deadline):
			r.say("settle: %d orders stay pending (the last expires in %s, after the settle wait of %s); the check counts their units as reserved",
				pending, latest.Sub(now).Round(time.Second), r.cfg.SettleTimeout)
			return nil
		}
		if now.Sub(lastSaid) >= 2*time.Second {
			r.say("settle: waiting for %d pending and %d paying orders", pending, paying)
			lastSaid = now
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// say writes a line to the progress writer, if any.
func (r *Run) say(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
	}
}

// record returns the customers' record of order id, or nil.
func (r *Run) record(id string) *orderRecord {
	for _, c := range r.customers {
		if rec := c.byID[id]; rec != nil {
			return rec
		}
	}
	return nil
}

// observed is what the check read back from the shop.
type observed struct {
	now   time.Time
	admin []apiOrder         // every order on the run's products or of its customers, as the admin sees it
	lists map[int][]apiOrder // each signed-in customer's own GET /orders
	stock map[string]apiStock
}

// Check reads the run's orders and stock back through the public API and
// judges them. It waits up to cfg.EventWait for the stock to agree with
// the orders, since paying, cancelling and expiring reach the inventory as
// events. It may be called again, after Settle or later. An error means
// the shop could not be read; broken rules are in Check.Violations.
func (r *Run) Check(ctx context.Context) (Check, error) {
	obs := observed{lists: map[int][]apiOrder{}}
	for _, c := range r.customers {
		if c.token == "" {
			continue
		}
		list, err := r.listOrders(ctx, c.token, time.Time{})
		if err != nil {
			return Check{}, fmt.Errorf("check: customer %d's orders: %w", c.index, err)
		}
		obs.lists[c.index] = list
	}
	start := time.Now()
	for {
		before, err := r.adminOrders(ctx)
		if err != nil {
			return Check{}, err
		}
		stock := map[string]apiStock{}
		for _, p := range r.products {
			var st apiStock
			if a := r.admin.do(ctx, call{method: http.MethodGet, path: "/inventory/" + p.ID, want: http.StatusOK, out: &st}); !a.success {
				return Check{}, fmt.Errorf("check: stock of %s: %v", p.SKU, a)
			}
			stock[p.ID] = st
		}
		after, err := r.adminOrders(ctx)
		if err != nil {
			return Check{}, err
		}
		obs.admin, obs.stock, obs.now = after, stock, time.Now()
		// The stock was read between two readings of the orders that
		// agree: it belongs to those orders, so it must match them now.
		if sameStatuses(before, after) && len(r.stockViolations(r.productChecks(obs))) == 0 {
			break
		}
		if time.Since(start) > r.cfg.EventWait {
			break
		}
		select {
		case <-ctx.Done():
			return Check{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	ch := r.judge(obs)
	ch.StockWait = time.Since(start)
	return ch, nil
}

func sameStatuses(a, b []apiOrder) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]string{}
	for _, o := range a {
		m[o.ID] = o.Status
	}
	for _, o := range b {
		if m[o.ID] != o.Status {
			return false
		}
	}
	return true
}

// adminOrders pages through every order as the admin, newest first, until
// the orders are older than the run's first product, and keeps those on the
// run's products or of its customers.
func (r *Run) adminOrders(ctx context.Context) ([]apiOrder, error) {
	all, err := r.listOrders(ctx, r.adminToken, r.anchor.Add(-time.Second))
	if err != nil {
		return nil, fmt.Errorf("check: the admin's list of orders: %w", err)
	}
	users := map[string]bool{}
	for _, c := range r.customers {
		if c.userID != "" {
			users[c.userID] = true
		}
	}
	var out []apiOrder
	for _, o := range all {
		if users[o.UserID] || slices.ContainsFunc(o.Lines, func(l apiLine) bool { return r.byID[l.ProductID] != nil }) {
			out = append(out, o)
		}
	}
	return out, nil
}

// listOrders pages through GET /orders with token, stopping at orders
// created before since (zero: at the end).
func (r *Run) listOrders(ctx context.Context, token string, since time.Time) ([]apiOrder, error) {
	var out []apiOrder
	cursor := ""
	for {
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page apiOrders
		if a := r.admin.do(ctx, call{method: http.MethodGet, path: "/orders?" + q.Encode(), token: token, want: http.StatusOK, out: &page}); !a.success {
			return nil, fmt.Errorf("%v", a)
		}
		for _, o := range page.Items {
			if !since.IsZero() && o.CreatedAt.Before(since) {
				return out, nil
			}
			out = append(out, o)
		}
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// productChecks adds up, per product of the run, the units of its orders
// by what became of them, beside the stock read back.
func (r *Run) productChecks(obs observed) []ProductCheck {
	var out []ProductCheck
	for _, p := range r.products {
		pc := ProductCheck{ID: p.ID, SKU: p.SKU, Scarce: p.Scarce, StartOnHand: p.StartOnHand}
		for _, o := range obs.admin {
			for _, l := range o.Lines {
				if l.ProductID != p.ID {
					continue
				}
				switch o.Status {
				case statusPaid:
					pc.Sold += l.Quantity
				case statusPending, statusPaying:
					pc.Held += l.Quantity
				default:
					pc.Returned += l.Quantity
				}
			}
		}
		st := obs.stock[p.ID]
		pc.OnHand, pc.Reserved, pc.Available = st.OnHand, st.Reserved, st.Available
		out = append(out, pc)
	}
	return out
}

// stockViolations holds each product's stock to its orders.
func (r *Run) stockViolations(pcs []ProductCheck) []Violation {
	var out []Violation
	for _, pc := range pcs {
		if pc.OnHand < 0 || pc.Reserved < 0 || pc.Available < 0 || pc.Available != pc.OnHand-pc.Reserved {
			out = append(out, Violation{RuleNegative, fmt.Sprintf("%s: on_hand %d, reserved %d, available %d", pc.SKU, pc.OnHand, pc.Reserved, pc.Available)})
		}
		if want := pc.StartOnHand - pc.Sold; pc.OnHand != want {
			out = append(out, Violation{RuleStock, fmt.Sprintf("%s: on_hand %d, want %d (%d at the start, %d sold)", pc.SKU, pc.OnHand, want, pc.StartOnHand, pc.Sold)})
		}
		if pc.Reserved != pc.Held {
			out = append(out, Violation{RuleStock, fmt.Sprintf("%s: reserved %d, want %d (the units of its pending and paying orders)", pc.SKU, pc.Reserved, pc.Held)})
		}
	}
	return out
}

// allowed returns the statuses an order may be in at now, given what its
// customer did and heard.
func allowed(rec *orderRecord, now time.Time) []string {
	switch {
	case rec.paid:
		return []string{statusPaid}
	case rec.cancelled:
		return []string{statusCancelled}
	}
	out := []string{statusExpired}
	if now.Before(rec.placedAt.Add(rec.ttl + expiryGrace)) {
		out = append(out, statusPending)
	}
	if rec.payUnknown {
		out = append(out, statusPaid, statusPaying, statusPending)
	}
	if rec.cancelUnknown {
		out = append(out, statusCancelled)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// judge holds what was read back to what the customers did.
func (r *Run) judge(obs observed) Check {
	ch := Check{ByStatus: map[string]int{}}
	var v []Violation
	add := func(rule, format string, args ...any) {
		v = append(v, Violation{Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	r.mu.Lock()
	v = append(v, r.live...)
	r.mu.Unlock()

	byID := map[string]apiOrder{}
	customerOf := map[string]*customer{}
	for _, c := range r.customers {
		if c.userID != "" {
			customerOf[c.userID] = c
		}
	}
	for _, o := range obs.admin {
		byID[o.ID] = o
		if customerOf[o.UserID] == nil {
			ch.Foreign++
			continue
		}
		ch.Orders++
		ch.ByStatus[o.Status]++
	}
	for _, o := range obs.admin {
		if msg := historyProblem(o); msg != "" {
			add(RuleHistory, "order %s: %s", o.ID, msg)
		}
	}

	for _, c := range r.customers {
		ch.Unresolved += c.unresolved
		for _, rec := range c.orders {
			o, ok := byID[rec.id]
			if !ok {
				add(RuleMissing, "order %s of customer %d answered 201 but the admin's list of orders does not hold it", rec.id, c.index)
				continue
			}
			if o.UserID != c.userID {
				add(RuleVisibility, "order %s of customer %d belongs to user %s", rec.id, c.index, o.UserID)
			}
			if ok := allowed(rec, obs.now); !slices.Contains(ok, o.Status) {
				add(RuleStatus, "order %s is %s; after %s it may only be %s", rec.id, o.Status, rec.did(), strings.Join(ok, " or "))
			}
			if msg := r.linesProblem(rec.items, o); msg != "" {
				add(RuleLines, "order %s: %s", rec.id, msg)
			}
		}
		list, signedIn := obs.lists[c.index]
		if !signedIn {
			continue
		}
		listed := map[string]apiOrder{}
		for _, o := range list {
			listed[o.ID] = o
			if o.UserID != c.userID {
				add(RuleVisibility, "customer %d's list shows order %s of user %s", c.index, o.ID, o.UserID)
			}
			if a, ok := byID[o.ID]; ok && o.Status != a.Status && final(o.Status) {
				add(RuleVisibility, "order %s is %s to its customer and %s to the admin", o.ID, o.Status, a.Status)
			}
		}
		for _, rec := range c.orders {
			if _, ok := listed[rec.id]; !ok {
				add(RuleMissing, "order %s of customer %d answered 201 but is not in the customer's GET /orders", rec.id, c.index)
			}
		}
		var unknown []string
		for id, o := range listed {
			if c.byID[id] != nil {
				continue
			}
			unknown = append(unknown, id)
			if a, ok := byID[id]; ok {
				o = a
			}
			// Nobody paid or cancelled an order its customer never heard of.
			if o.Status != statusExpired && o.Status != statusPending {
				add(RuleStatus, "order %s, which customer %d never got an answer for, is %s; it may only be pending or expired", id, c.index, o.Status)
			}
		}
		slices.Sort(unknown)
		ch.Unknown += len(unknown)
		if len(unknown) > c.unresolved {
			add(RuleExtra, "customer %d has %d orders it never got back (%s), but only %d placements without a known answer",
				c.index, len(unknown), strings.Join(unknown, ", "), c.unresolved)
		}
		for _, k := range c.keys {
			for _, a := range k.late {
				if !a.success && !a.unknown() {
					add(RuleIdempotency, "customer %d's Idempotency-Key %q had placed order %s, yet a retry answered %s", c.index, k.key, k.ids[0], a)
				}
			}
		}
	}

	ch.Products = r.productChecks(obs)
	v = append(v, r.stockViolations(ch.Products)...)
	ch.Violations = v
	return ch
}

// final says whether an order in status s stays so without anyone acting.
func final(s string) bool {
	return s == statusCancelled || s == statusExpired || s == statusRefunded
}

// historyProblem says what is wrong with an order's history, or "".
func historyProblem(o apiOrder) string {
	if _, known := transitions[o.Status]; !known && !final(o.Status) {
		return fmt.Sprintf("status %q is not one the API has", o.Status)
	}
	if len(o.History) == 0 {
		return "no history"
	}
	if h := o.History[0]; h.From != "" || h.To != statusPending {
		return fmt.Sprintf("the history begins %q -> %q, not with the order placed pending", h.From, h.To)
	}
	for i := 1; i < len(o.History); i++ {
		prev, h := o.History[i-1], o.History[i]
		if h.From != prev.To || !slices.Contains(transitions[h.From], h.To) {
			return fmt.Sprintf("step %d goes %q -> %q after %q", i, h.From, h.To, prev.To)
		}
		if h.To == statusExpired && h.At.Before(o.ExpiresAt.Add(-time.Second)) {
			return fmt.Sprintf("expired at %s, before its expiry at %s", h.At.Format(time.RFC3339Nano), o.ExpiresAt.Format(time.RFC3339Nano))
		}
	}
	if last := o.History[len(o.History)-1].To; last != o.Status {
		return fmt.Sprintf("the history ends %q but the order is %q", last, o.Status)
	}
	if o.Status == statusPaid && o.PaymentID == "" {
		return "paid without a payment ID"
	}
	return ""
}

// did says what the customer did with an order and heard back.
func (rec *orderRecord) did() string {
	var s []string
	if rec.declines > 0 {
		s = append(s, fmt.Sprintf("%d declined payments", rec.declines))
	}
	switch {
	case rec.paid:
		s = append(s, "a payment answered 200")
	case rec.payUnknown:
		s = append(s, "a payment without a known answer")
	case rec.payRefused:
		s = append(s, "a refused payment")
	case rec.cancelled:
		s = append(s, "a cancel answered 200")
	case rec.cancelUnknown:
		s = append(s, "a cancel without a known answer")
	case rec.cancelRefused:
		s = append(s, "a refused cancel")
	case rec.fate == fateExpire:
		s = append(s, "leaving it unpaid")
	}
	if len(s) == 0 {
		return "placing it"
	}
	return strings.Join(s, ", ")
}

// statusNames returns the keys of m, sorted.
func statusNames(m map[string]int) []string {
	return slices.Sorted(maps.Keys(m))
}
