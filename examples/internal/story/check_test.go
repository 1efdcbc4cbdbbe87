package story

import (
	"strings"
	"testing"
	"time"
)

// fixture is a finished run on paper: two products, one customer with three
// orders (paid, cancelled, left to expire), and what an honest shop answers
// about them.
type fixture struct {
	r   *Run
	c   *customer
	obs observed
}

func newFixture() *fixture {
	now := time.Now()
	r := &Run{byID: map[string]*Product{}}
	for _, p := range []*Product{{ID: "p1", SKU: "SKU-1", Price: 100, StartOnHand: 10}, {ID: "p2", SKU: "SKU-2", Price: 250, StartOnHand: 3, Scarce: true}} {
		r.products = append(r.products, p)
		r.byID[p.ID] = p
	}
	c := &customer{index: 0, userID: "u1", token: "t", byID: map[string]*orderRecord{}}
	r.customers = []*customer{c}
	created := now.Add(-time.Minute)
	order := func(id, status string, lines []apiLine, history ...string) apiOrder {
		o := apiOrder{ID: id, UserID: "u1", Status: status, Lines: lines, Currency: "USD", CreatedAt: created, ExpiresAt: created.Add(time.Second), PaymentID: ""}
		for _, l := range lines {
			o.Total += l.UnitPrice * l.Quantity
		}
		from := ""
		for i, to := range append([]string{statusPending}, history...) {
			o.History = append(o.History, apiStep{From: from, To: to, At: created.Add(time.Duration(i) * 2 * time.Second)})
			from = to
		}
		if status == statusPaid {
			o.PaymentID = "pay-" + id
		}
		return o
	}
	orders := []apiOrder{
		order("o1", statusPaid, []apiLine{{ProductID: "p1", UnitPrice: 100, Quantity: 2}, {ProductID: "p2", UnitPrice: 250, Quantity: 1}}, statusPaying, statusPaid),
		order("o2", statusCancelled, []apiLine{{ProductID: "p1", UnitPrice: 100, Quantity: 3}}, statusCancelled),
		order("o3", statusExpired, []apiLine{{ProductID: "p2", UnitPrice: 250, Quantity: 2}}, statusExpired),
	}
	recs := []*orderRecord{
		{id: "o1", items: map[string]int64{"p1": 2, "p2": 1}, fate: fatePay, paid: true},
		{id: "o2", items: map[string]int64{"p1": 3}, fate: fateCancel, cancelled: true},
		{id: "o3", items: map[string]int64{"p2": 2}, fate: fateExpire},
	}
	for _, rec := range recs {
		rec.placedAt, rec.ttl = created, time.Second
		c.orders = append(c.orders, rec)
		c.byID[rec.id] = rec
	}
	return &fixture{r: r, c: c, obs: observed{
		now:   now,
		admin: orders,
		lists: map[int][]apiOrder{0: append([]apiOrder(nil), orders...)},
		stock: map[string]apiStock{"p1": {"p1", 8, 0, 8}, "p2": {"p2", 2, 0, 2}},
	}}
}

// setStatus changes order id in both views, as the shop would show it.
func (f *fixture) setStatus(id, status string, history ...string) {
	for _, list := range [][]apiOrder{f.obs.admin, f.obs.lists[0]} {
		for i := range list {
			if list[i].ID == id {
				list[i].Status = status
				from := list[i].History[len(list[i].History)-1].To
				for _, to := range history {
					list[i].History = append(list[i].History, apiStep{From: from, To: to, At: f.obs.now})
					from = to
				}
			}
		}
	}
}

func wantOnly(t *testing.T, f *fixture, rule, detail string) {
	t.Helper()
	c := f.r.judge(f.obs)
	if len(c.Violations) != 1 || c.Violations[0].Rule != rule || !strings.Contains(c.Violations[0].Detail, detail) {
		t.Fatalf("violations %v, want one %s mentioning %q", c.Violations, rule, detail)
	}
}

func TestJudgePassesAnHonestShop(t *testing.T) {
	f := newFixture()
	c := f.r.judge(f.obs)
	if !c.Passed() {
		t.Fatalf("violations: %v", c.Violations)
	}
	if c.Orders != 3 || c.ByStatus[statusPaid] != 1 || c.ByStatus[statusCancelled] != 1 || c.ByStatus[statusExpired] != 1 {
		t.Errorf("orders %d by status %v", c.Orders, c.ByStatus)
	}
	want := []ProductCheck{
		{ID: "p1", SKU: "SKU-1", StartOnHand: 10, Sold: 2, Returned: 3, OnHand: 8, Available: 8},
		{ID: "p2", SKU: "SKU-2", Scarce: true, StartOnHand: 3, Sold: 1, Returned: 2, OnHand: 2, Available: 2},
	}
	for i, p := range c.Products {
		if p != want[i] {
			t.Errorf("product %d: %+v, want %+v", i, p, want[i])
		}
	}
}

func TestJudgeHoldsStockToTheOrders(t *testing.T) {
	t.Run("a unit sold twice", func(t *testing.T) {
		f := newFixture()
		f.obs.stock["p1"] = apiStock{"p1", 7, 0, 7}
		wantOnly(t, f, RuleStock, "SKU-1: on_hand 7, want 8")
	})
	t.Run("a cancelled unit not returned", func(t *testing.T) {
		f := newFixture()
		f.obs.stock["p1"] = apiStock{"p1", 8, 3, 5}
		wantOnly(t, f, RuleStock, "SKU-1: reserved 3, want 0")
	})
	t.Run("stock below zero", func(t *testing.T) {
		f := newFixture()
		f.obs.stock["p2"] = apiStock{"p2", 2, 3, -1}
		c := f.r.judge(f.obs)
		if !hasViolation(c, RuleNegative, "SKU-2") || !hasViolation(c, RuleStock, "SKU-2: reserved 3") {
			t.Fatalf("violations %v", c.Violations)
		}
	})
	t.Run("a pending order holds its units", func(t *testing.T) {
		f := newFixture()
		f.c.orders[2].placedAt = f.obs.now // just placed: may still be pending
		f.obs.admin[2].Status = statusPending
		f.obs.admin[2].History = f.obs.admin[2].History[:1]
		f.obs.lists[0][2] = f.obs.admin[2]
		f.obs.stock["p2"] = apiStock{"p2", 2, 2, 0}
		if c := f.r.judge(f.obs); !c.Passed() || c.Products[1].Held != 2 {
			t.Fatalf("violations %v, products %+v", c.Violations, c.Products)
		}
	})
}

func TestJudgeHoldsOrdersToTheCustomersActions(t *testing.T) {
	t.Run("paid though only cancelled", func(t *testing.T) {
		f := newFixture()
		f.setStatus("o2", statusPaid) // history and stock would follow; the status alone breaks the rule
		f.obs.admin[1].History = append(f.obs.admin[1].History[:1], apiStep{From: statusPending, To: statusPaying}, apiStep{From: statusPaying, To: statusPaid})
		f.obs.admin[1].PaymentID = "pay"
		f.obs.stock["p1"] = apiStock{"p1", 5, 0, 5}
		wantOnly(t, f, RuleStatus, "order o2 is paid; after a cancel answered 200 it may only be cancelled")
	})
	t.Run("expired though paid", func(t *testing.T) {
		f := newFixture()
		f.obs.admin[0].Status = statusExpired
		f.obs.admin[0].History = append(f.obs.admin[0].History[:1], apiStep{From: statusPending, To: statusExpired, At: f.obs.admin[0].ExpiresAt})
		f.obs.admin[0].PaymentID = ""
		f.obs.lists[0][0] = f.obs.admin[0]
		f.obs.stock = map[string]apiStock{"p1": {"p1", 10, 0, 10}, "p2": {"p2", 3, 0, 3}}
		wantOnly(t, f, RuleStatus, "order o1 is expired; after a payment answered 200 it may only be paid")
	})
	t.Run("still pending long after its expiry", func(t *testing.T) {
		f := newFixture()
		f.obs.admin[2].Status = statusPending
		f.obs.admin[2].History = f.obs.admin[2].History[:1]
		f.obs.lists[0][2] = f.obs.admin[2]
		f.obs.stock["p2"] = apiStock{"p2", 2, 2, 0}
		wantOnly(t, f, RuleStatus, "order o3 is pending; after leaving it unpaid it may only be expired")
	})
	t.Run("paid with an unknown answer", func(t *testing.T) {
		f := newFixture()
		f.c.orders[0].paid, f.c.orders[0].payUnknown = false, true
		if c := f.r.judge(f.obs); !c.Passed() {
			t.Fatalf("violations %v", c.Violations)
		}
	})
	t.Run("an order nobody placed", func(t *testing.T) {
		f := newFixture()
		extra := f.obs.admin[2]
		extra.ID = "o4"
		f.obs.admin = append(f.obs.admin, extra)
		f.obs.lists[0] = append(f.obs.lists[0], extra)
		wantOnly(t, f, RuleExtra, "customer 0 has 1 orders it never got back (o4), but only 0 placements")
		f.c.unresolved = 1 // a placement whose answer never came may have made it
		if c := f.r.judge(f.obs); !c.Passed() || c.Unknown != 1 {
			t.Fatalf("violations %v, unknown %d", c.Violations, c.Unknown)
		}
	})
	t.Run("an order placed but not listed", func(t *testing.T) {
		f := newFixture()
		f.obs.lists[0] = f.obs.lists[0][1:]
		wantOnly(t, f, RuleMissing, "order o1 of customer 0 answered 201 but is not in the customer's GET /orders")
	})
	t.Run("an order the admin does not see", func(t *testing.T) {
		f := newFixture()
		f.obs.admin = f.obs.admin[:2]
		f.obs.lists[0] = f.obs.lists[0][:2]
		c := f.r.judge(f.obs)
		if !hasViolation(c, RuleMissing, "order o3 of customer 0 answered 201 but the admin's list") {
			t.Fatalf("violations %v", c.Violations)
		}
	})
	t.Run("a retry refused after its key placed an order", func(t *testing.T) {
		f := newFixture()
		f.c.keys = []*keyRecord{{key: "k", ids: []string{"o1"}, late: []answer{{status: 409, code: "insufficient_stock"}}}}
		wantOnly(t, f, RuleIdempotency, `Idempotency-Key "k" had placed order o1, yet a retry answered 409 insufficient_stock`)
	})
	t.Run("lines not as asked", func(t *testing.T) {
		f := newFixture()
		f.obs.admin[1].Lines[0].Quantity = 4
		f.obs.admin[1].Total = 400
		wantOnly(t, f, RuleLines, "order o2: lines map[p1:4], asked for map[p1:3]")
	})
}

func TestHistoryProblem(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	step := func(from, to string, dt time.Duration) apiStep { return apiStep{From: from, To: to, At: at.Add(dt)} }
	for _, c := range []struct {
		name    string
		o       apiOrder
		problem string
	}{
		{"paid", apiOrder{Status: statusPaid, PaymentID: "p", History: []apiStep{step("", statusPending, 0), step(statusPending, statusPaying, 0), step(statusPaying, statusPaid, 0)}}, ""},
		{"declined, then paid", apiOrder{Status: statusPaid, PaymentID: "p", History: []apiStep{step("", statusPending, 0), step(statusPending, statusPaying, 0),
			step(statusPaying, statusPending, 0), step(statusPending, statusPaying, 0), step(statusPaying, statusPaid, 0)}}, ""},
		{"expired on time", apiOrder{Status: statusExpired, ExpiresAt: at.Add(time.Second), History: []apiStep{step("", statusPending, 0), step(statusPending, statusExpired, time.Second)}}, ""},
		{"expired early", apiOrder{Status: statusExpired, ExpiresAt: at.Add(time.Minute), History: []apiStep{step("", statusPending, 0), step(statusPending, statusExpired, time.Second)}}, "before its expiry"},
		{"paid without paying", apiOrder{Status: statusPaid, PaymentID: "p", History: []apiStep{step("", statusPending, 0), step(statusPending, statusPaid, 0)}}, `step 1 goes "pending" -> "paid"`},
		{"cancelled after paid", apiOrder{Status: statusCancelled, History: []apiStep{step("", statusPending, 0), step(statusPending, statusPaying, 0), step(statusPaying, statusPaid, 0), step(statusPaid, statusCancelled, 0)}}, `step 3 goes "paid" -> "cancelled"`},
		{"history behind the status", apiOrder{Status: statusCancelled, History: []apiStep{step("", statusPending, 0)}}, `ends "pending"`},
		{"paid without a payment", apiOrder{Status: statusPaid, History: []apiStep{step("", statusPending, 0), step(statusPending, statusPaying, 0), step(statusPaying, statusPaid, 0)}}, "without a payment ID"},
		{"an unknown status", apiOrder{Status: "shipped", History: []apiStep{step("", statusPending, 0)}}, `"shipped" is not one`},
		{"no history", apiOrder{Status: statusPending}, "no history"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := historyProblem(c.o)
			if (c.problem == "") != (got == "") || !strings.Contains(got, c.problem) {
				t.Fatalf("historyProblem = %q, want %q", got, c.problem)
			}
		})
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.95, 950 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}, {0, time.Millisecond}} {
		got := h.quantile(c.q)
		if got < c.want || float64(got) > float64(c.want)*1.025 {
			t.Errorf("quantile(%g) = %s, want %s within 2.5%% above", c.q, got, c.want)
		}
	}
	var other histogram
	other.add(5 * time.Second)
	h.merge(&other)
	if h.n != 1001 || h.max != 5*time.Second || h.quantile(1) != 5*time.Second {
		t.Errorf("after merging: n %d, max %s, quantile(1) %s", h.n, h.max, h.quantile(1))
	}
	var empty histogram
	if empty.quantile(0.99) != 0 {
		t.Errorf("an empty histogram's p99 is %s", empty.quantile(0.99))
	}
}

func TestNewRefusesBadConfigs(t *testing.T) {
	ok := Config{AdminEmail: "a@example.com", AdminPassword: "password-1"}
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no admin", func(c *Config) { c.AdminEmail = "" }, "admin"},
		{"shares over one", func(c *Config) { c.CancelShare, c.ExpireShare = 0.7, 0.4 }, "add up to more than 1"},
		{"too many products", func(c *Config) { c.Products = 99 }, "at most 100 products"},
		{"not a URL", func(c *Config) { c.Base = "127.0.0.1:8080" }, "not an http://"},
		{"negative customers", func(c *Config) { c.Customers = -1 }, "negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.edit(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, want an error about %q", err, c.want)
			}
		})
	}
	r, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Config(); got.Base != DefaultBase || got.Customers != DefaultCustomers || got.Duration != DefaultDuration || got.Seed == 0 {
		t.Errorf("defaults not filled in: %+v", got)
	}
}
