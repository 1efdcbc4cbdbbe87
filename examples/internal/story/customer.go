package story

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// customer is one virtual customer and what it did, which the check holds
// the shop to. Only its own goroutine touches it during the load.
type customer struct {
	index           int
	email, password string
	rng             *rand.Rand

	userID, token string
	orders        []*orderRecord
	byID          map[string]*orderRecord
	keys          []*keyRecord
	// unresolved counts placements whose outcome the customer never
	// learned (no answer, or a 5xx): each may or may not have made an order.
	unresolved int
	refused    int // placements refused for lack of stock
}

// What a customer means to do with an order it placed.
const (
	fatePay    = "pay"
	fateCancel = "cancel"
	fateExpire = "expire"
)

// orderRecord is an order a customer placed and what it heard back.
type orderRecord struct {
	id       string
	items    map[string]int64
	answered apiOrder      // the placement's answer
	placedAt time.Time     // on this machine's clock, when the answer came
	ttl      time.Duration // the order's life, as its expiry minus its creation
	key      string
	fate     string

	paid              bool // a payment answered 200
	payUnknown        bool // a payment got no answer or a 5xx
	payRefused        bool // a payment was refused (such as order_expired): not paid
	declines          int  // payments with the declined card answered 402
	cancelled         bool // cancel answered 200
	cancelUnknown     bool
	cancelRefused     bool
	declinedCardTaken bool // the declined card was accepted
}

// keyRecord is one Idempotency-Key and the answers its requests got.
type keyRecord struct {
	key     string
	items   map[string]int64
	ids     []string // the order IDs of the 201 answers, in the order they came
	answers []answer
	// late are the answers of requests sent after a 201 for the key had
	// come back: each must return that order.
	late []answer
}

// story is one customer's part of the load: requests run under ctx, and
// no new order is begun once more ends.
func (r *Run) story(ctx, more context.Context, c *customer) {
	if !r.signUp(ctx, c) {
		return
	}
	for more.Err() == nil && ctx.Err() == nil {
		if r.cfg.Orders > 0 && r.claimed.Add(1) > int64(r.cfg.Orders) {
			return
		}
		r.browse(ctx, c)
		r.buy(ctx, c)
	}
}

// signUp registers and logs the customer in.
func (r *Run) signUp(ctx context.Context, c *customer) bool {
	var u struct {
		ID string `json:"id"`
	}
	a := r.cl.do(ctx, call{step: StepRegister, method: http.MethodPost, path: "/register", want: http.StatusCreated, out: &u,
		body: map[string]string{"email": c.email, "password": c.password, "name": fmt.Sprintf("Loadgen customer %d", c.index)}})
	if !a.success {
		return false
	}
	var login struct {
		Token string `json:"token"`
	}
	a = r.cl.do(ctx, call{step: StepLogin, method: http.MethodPost, path: "/login", want: http.StatusOK, out: &login,
		body: map[string]string{"email": c.email, "password": c.password}})
	if !a.success {
		return false
	}
	c.userID, c.token = u.ID, login.Token
	return true
}

// browse reads a page of the run's products, searches them by name, and
// reads one product and its stock, checking what comes back.
func (r *Run) browse(ctx context.Context, c *customer) {
	limit := 5 + c.rng.IntN(20)
	var page apiProducts
	q := url.Values{"category": {r.category}, "limit": {fmt.Sprint(limit)}}
	if a := r.cl.do(ctx, call{step: StepList, method: http.MethodGet, path: "/products?" + q.Encode(), want: http.StatusOK, out: &page}); a.success {
		r.checkPage(page, "", min(limit, len(r.products)))
		if page.NextCursor != "" && c.rng.IntN(2) == 0 {
			q.Set("cursor", page.NextCursor)
			var next apiProducts
			if a := r.cl.do(ctx, call{step: StepList, method: http.MethodGet, path: "/products?" + q.Encode(), want: http.StatusOK, out: &next}); a.success {
				r.checkPage(next, "", -1)
				for _, p := range next.Items {
					if slices.ContainsFunc(page.Items, func(o apiProduct) bool { return o.ID == p.ID }) {
						r.violation(RuleCatalog, "product %s is on two consecutive pages of the category", p.ID)
					}
				}
			}
		}
	}

	p := r.products[c.rng.IntN(len(r.products))]
	var found apiProducts
	q = url.Values{"category": {r.category}, "q": {p.word}, "limit": {fmt.Sprint(len(r.products))}}
	if a := r.cl.do(ctx, call{step: StepSearch, method: http.MethodGet, path: "/products?" + q.Encode(), want: http.StatusOK, out: &found}); a.success {
		r.checkPage(found, p.word, r.countWord(p.word))
	}

	var got apiProduct
	if a := r.cl.do(ctx, call{step: StepProduct, method: http.MethodGet, path: "/products/" + p.ID, want: http.StatusOK, out: &got}); a.success {
		if got.ID != p.ID || got.SKU != p.SKU || got.Price != p.Price {
			r.violation(RuleCatalog, "GET /products/%s answered %+v, not the product made (sku %s, price %d)", p.ID, got, p.SKU, p.Price)
		}
	}
	var st apiStock
	if a := r.cl.do(ctx, call{step: StepStock, method: http.MethodGet, path: "/inventory/" + p.ID, want: http.StatusOK, out: &st}); a.success {
		switch {
		case st.OnHand < 0 || st.Reserved < 0 || st.Available < 0 || st.Available != st.OnHand-st.Reserved:
			r.violation(RuleNegative, "%s read during the load: on_hand %d, reserved %d, available %d", p.SKU, st.OnHand, st.Reserved, st.Available)
		case st.OnHand > p.StartOnHand:
			r.violation(RuleStock, "%s read during the load: on_hand %d, more than the %d at the start", p.SKU, st.OnHand, p.StartOnHand)
		}
	}
}

// checkPage checks a page of the run's category: only its products, each
// named with word when a search, and want of them (-1: any number).
func (r *Run) checkPage(page apiProducts, word string, want int) {
	for _, got := range page.Items {
		p := r.byID[got.ID]
		switch {
		case p == nil || got.Category != r.category:
			r.violation(RuleCatalog, "the category %s lists product %s (%s, category %q), which the run did not make", r.category, got.ID, got.SKU, got.Category)
		case word != "" && !strings.Contains(strings.ToLower(got.Name), word):
			r.violation(RuleCatalog, "a search for %q found %q", word, got.Name)
		}
	}
	if want >= 0 && len(page.Items) != want {
		r.violation(RuleCatalog, "a page of the category (search %q) holds %d products, want %d", word, len(page.Items), want)
	}
}

func (r *Run) countWord(word string) int {
	n := 0
	for _, p := range r.products {
		if p.word == word {
			n++
		}
	}
	return n
}

// buy places an order and pays it, cancels it or leaves it to expire.
func (r *Run) buy(ctx context.Context, c *customer) {
	items := r.pickItems(c)
	keyed := c.rng.Float64() < r.cfg.IdempotentShare
	atOnce := c.rng.IntN(2) == 0
	fate := fatePay
	switch x := c.rng.Float64(); {
	case x < r.cfg.CancelShare:
		fate = fateCancel
	case x < r.cfg.CancelShare+r.cfg.ExpireShare:
		fate = fateExpire
	}
	decline := c.rng.Float64() < r.cfg.DeclineShare

	var o *orderRecord
	if keyed {
		o = r.placeKeyed(ctx, c, items, atOnce)
	} else {
		o = r.place(ctx, c, items)
	}
	if o == nil {
		return
	}
	o.fate = fate
	r.placed.Add(1)
	switch fate {
	case fateCancel:
		r.cancel(ctx, c, o)
	case fatePay:
		if decline && !r.pay(ctx, c, o, StepPayDeclined, cardDeclined) {
			return
		}
		r.pay(ctx, c, o, StepPay, cardAccepted)
	}
}

// pickItems chooses one to three plentiful products, and now and then a
// scarce one: one to three units of each (one or two of a scarce one).
func (r *Run) pickItems(c *customer) []item {
	var plenty, scarce []*Product
	for _, p := range r.products {
		if p.Scarce {
			scarce = append(scarce, p)
		} else {
			plenty = append(plenty, p)
		}
	}
	var items []item
	for _, i := range c.rng.Perm(len(plenty))[:min(1+c.rng.IntN(3), len(plenty))] {
		items = append(items, item{ProductID: plenty[i].ID, Quantity: 1 + c.rng.Int64N(3)})
	}
	if len(scarce) > 0 && (len(items) == 0 || c.rng.Float64() < 0.2) {
		items = append(items, item{ProductID: scarce[c.rng.IntN(len(scarce))].ID, Quantity: 1 + c.rng.Int64N(2)})
	}
	return items
}

func itemMap(items []item) map[string]int64 {
	m := map[string]int64{}
	for _, it := range items {
		m[it.ProductID] += it.Quantity
	}
	return m
}

func placeCall(step string, c *customer, items []item, key string, out *apiOrder) call {
	return call{step: step, method: http.MethodPost, path: "/orders", token: c.token, key: key, want: http.StatusCreated,
		expect: []string{"insufficient_stock"}, out: out, body: map[string]any{"items": items}}
}

// place places an order without an Idempotency-Key.
func (r *Run) place(ctx context.Context, c *customer, items []item) *orderRecord {
	var o apiOrder
	a := r.cl.do(ctx, placeCall(StepPlace, c, items, "", &o))
	switch {
	case a.success:
		return r.placed201(c, items, "", o)
	case a.unknown():
		c.unresolved++
	case a.code == "insufficient_stock":
		c.refused++
	}
	return nil
}

// placeKeyed places an order with an Idempotency-Key and sends it again:
// after the first answer, or both at once. While no answer is known it
// asks again, with the same key, a few times.
func (r *Run) placeKeyed(ctx context.Context, c *customer, items []item, atOnce bool) *orderRecord {
	k := &keyRecord{key: fmt.Sprintf("lg-%d-%d", c.index, len(c.keys)), items: itemMap(items)}
	c.keys = append(c.keys, k)
	var answers [2]answer
	var orders [2]apiOrder
	if atOnce {
		var wg sync.WaitGroup
		for i, step := range []string{StepPlace, StepPlaceRetry} {
			wg.Go(func() { answers[i] = r.cl.do(ctx, placeCall(step, c, items, k.key, &orders[i])) })
		}
		wg.Wait()
	} else {
		answers[0] = r.cl.do(ctx, placeCall(StepPlace, c, items, k.key, &orders[0]))
		answers[1] = r.cl.do(ctx, placeCall(StepPlaceRetry, c, items, k.key, &orders[1]))
		if answers[0].success {
			k.late = append(k.late, answers[1])
		}
	}
	var first *apiOrder
	note := func(a answer, o *apiOrder) {
		k.answers = append(k.answers, a)
		if a.success {
			k.ids = append(k.ids, o.ID)
			if first == nil {
				first = o
			}
		}
	}
	for i := range answers {
		note(answers[i], &orders[i])
	}
	for i := 0; i < 3 && !slices.ContainsFunc(k.answers, func(a answer) bool { return !a.unknown() }); i++ {
		time.Sleep(200 * time.Millisecond)
		var o apiOrder
		note(r.cl.do(ctx, placeCall(StepPlaceRetry, c, items, k.key, &o)), &o)
	}
	for _, id := range k.ids[min(1, len(k.ids)):] {
		if id != k.ids[0] {
			r.violation(RuleIdempotency, "customer %d's Idempotency-Key %q answered 201 with orders %s and %s", c.index, k.key, k.ids[0], id)
		}
	}
	switch {
	case first != nil:
		return r.placed201(c, items, k.key, *first)
	case !slices.ContainsFunc(k.answers, func(a answer) bool { return !a.unknown() }):
		c.unresolved++
	case slices.ContainsFunc(k.answers, func(a answer) bool { return a.code == "insufficient_stock" }):
		c.refused++
	}
	return nil
}

// placed201 records an order the shop placed and checks its answer.
func (r *Run) placed201(c *customer, items []item, key string, o apiOrder) *orderRecord {
	rec := &orderRecord{id: o.ID, items: itemMap(items), answered: o, placedAt: time.Now(), ttl: o.ExpiresAt.Sub(o.CreatedAt), key: key}
	if existing := c.byID[o.ID]; existing != nil {
		// Another key's or placement's order: the shop handed out one
		// order twice.
		r.violation(RuleIdempotency, "customer %d got order %s for two different placements", c.index, o.ID)
		return nil
	}
	c.orders = append(c.orders, rec)
	c.byID[o.ID] = rec
	if o.Status != statusPending && key == "" {
		r.violation(RuleStatus, "order %s was placed as %q, not pending", o.ID, o.Status)
	}
	if msg := r.linesProblem(rec.items, o); msg != "" {
		r.violation(RuleLines, "order %s as placed: %s", o.ID, msg)
	}
	return rec
}

// linesProblem says what is wrong with an order's lines and total given
// what was asked for, or "".
func (r *Run) linesProblem(want map[string]int64, o apiOrder) string {
	got := map[string]int64{}
	var total int64
	for _, l := range o.Lines {
		got[l.ProductID] += l.Quantity
		total += l.UnitPrice * l.Quantity
		if p := r.byID[l.ProductID]; p != nil && l.UnitPrice != p.Price {
			return fmt.Sprintf("%s priced %d, the product costs %d", p.SKU, l.UnitPrice, p.Price)
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("lines %v, asked for %v", got, want)
	}
	for id, q := range want {
		if got[id] != q {
			return fmt.Sprintf("lines %v, asked for %v", got, want)
		}
	}
	if total != o.Total {
		return fmt.Sprintf("total %d, the lines add up to %d", o.Total, total)
	}
	return ""
}

// pay pays the order with card and says whether it may go on to pay again
// (after a decline).
func (r *Run) pay(ctx context.Context, c *customer, o *orderRecord, step, card string) bool {
	var got apiOrder
	expect := []string{"order_expired", "invalid_transition"} // a short -order-ttl can overtake the customer
	if card == cardDeclined {
		expect = append(expect, "card_declined")
	}
	a := r.cl.do(ctx, call{step: step, method: http.MethodPost, path: "/orders/" + o.id + "/pay", token: c.token, want: http.StatusOK,
		expect: expect, out: &got, body: map[string]string{"card_number": card}})
	switch {
	case a.success:
		o.paid = true
		if card == cardDeclined {
			o.declinedCardTaken = true
			r.violation(RuleStatus, "order %s was paid with the card that is always declined", o.id)
		}
		if got.Status != statusPaid || got.ID != o.id {
			r.violation(RuleStatus, "paying order %s answered 200 with order %s %q", o.id, got.ID, got.Status)
		}
		return false
	case a.unknown():
		o.payUnknown = true
		return false
	case a.code == "card_declined" && card == cardDeclined:
		o.declines++
		return true
	default:
		o.payRefused = true
		return false
	}
}

func (r *Run) cancel(ctx context.Context, c *customer, o *orderRecord) {
	var got apiOrder
	a := r.cl.do(ctx, call{step: StepCancel, method: http.MethodPost, path: "/orders/" + o.id + "/cancel", token: c.token, want: http.StatusOK,
		expect: []string{"invalid_transition"}, out: &got}) // the order may have expired already
	switch {
	case a.success:
		o.cancelled = true
		if got.Status != statusCancelled || got.ID != o.id {
			r.violation(RuleStatus, "cancelling order %s answered 200 with order %s %q", o.id, got.ID, got.Status)
		}
	case a.unknown():
		o.cancelUnknown = true
	default:
		o.cancelRefused = true
	}
}
