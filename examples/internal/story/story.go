// Package story runs virtual customers against a running shop through its
// public API, and then checks, through the same API, that the shop kept its
// books: every paid unit sold once, every cancelled or expired one back in
// stock, no order in a state its customer's actions do not allow, no stock
// below zero, and no Idempotency-Key retry that made a second order.
//
// A run has four phases, each a method of Run:
//
//	r, err := story.New(cfg)
//	err = r.Setup(ctx)          // as the admin: the run's own products, with known stock
//	r.Load(ctx, nil)            // the customers' story, until cfg.Duration or cfg.Orders
//	err = r.Settle(ctx)         // wait until the run's orders are paid, cancelled or expired
//	check, err := r.Check(ctx)  // read everything back and judge it
//	r.Report(check).WriteText(os.Stdout)
//
// Each virtual customer registers, logs in, and then, over and over,
// browses the run's products (a page of the category, a name search, one
// product, its stock) and places an order of one to four lines (some with
// an Idempotency-Key, sent twice, one after the other or both at once). It
// then cancels the order, leaves it to expire, or pays it (some first with
// the test card that is declined). A few products have little stock, so some
// orders are refused with 409 insufficient_stock; the report counts those
// as expected refusals, not errors.
//
// The run creates its own products (SKUs and a category unique to the run),
// so the stock check is exact for them whatever else the shop holds. Orders
// that others place on them meanwhile are read back too and counted in.
package story

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kitshop/shop"
)

// Config says what a run does. New fills in the defaults of zero fields
// (see the Default... constants); shares are probabilities from 0 to 1.
type Config struct {
	// Base is the shop's public address, a monolith or a gateway
	// (default http://127.0.0.1:8080).
	Base string
	// Customers is how many virtual customers run at once (default 8).
	Customers int
	// Duration ends the load after this long, and Orders after this many
	// placements (each an order placed or refused); the first reached ends
	// it. With neither set the load runs for DefaultDuration.
	Duration time.Duration
	Orders   int
	// AdminEmail and AdminPassword sign in an admin account, which creates
	// the run's products and stock and reads every order for the check.
	AdminEmail, AdminPassword string
	// CancelShare of the orders placed are cancelled, ExpireShare left to
	// expire, and the rest paid (CancelShare+ExpireShare at most 1).
	// DeclineShare of the payments first try the declined test card.
	// IdempotentShare of the placements carry an Idempotency-Key and are
	// sent twice. Negative values mean 0.
	CancelShare, ExpireShare, DeclineShare, IdempotentShare float64
	// Seed makes the customers' choices repeatable (the timing of a
	// concurrent run is not); 0 picks one from the clock.
	Seed uint64
	// Products is how many products with plenty of stock (Stock units
	// each) the run creates, and ScarceProducts how many with ScarceStock
	// units, which run out and come back as orders end. Products plus
	// ScarceProducts is at most 100, so one page holds them all.
	Products, ScarceProducts int
	Stock, ScarceStock       int64
	// SettleTimeout bounds how long Settle waits for the run's pending
	// orders to expire (default 30s); pending orders that would expire
	// later are left pending and counted as reserved.
	SettleTimeout time.Duration
	// EventWait bounds how long the check waits for the stock to catch up
	// with the orders, which reach the inventory as events (default 15s).
	EventWait time.Duration
	// RequestTimeout bounds one request (default 15s: a retry with an
	// Idempotency-Key may wait up to 10 s for the first request).
	RequestTimeout time.Duration
	// Progress, if not nil, receives a progress line every ProgressEvery
	// (default 1s when Live, else 5s): redrawn in place with \r when Live
	// (a terminal), one line after the other otherwise.
	Progress      io.Writer
	Live          bool
	ProgressEvery time.Duration
	// Client sends the requests; nil: a client of the run's own, with
	// enough idle connections for every customer.
	Client *http.Client
}

// Defaults of Config's zero fields.
const (
	DefaultBase           = "http://127.0.0.1:8080"
	DefaultCustomers      = 8
	DefaultDuration       = 30 * time.Second
	DefaultProducts       = 8
	DefaultScarceProducts = 2
	DefaultStock          = 100_000
	DefaultScarceStock    = 3
	DefaultSettleTimeout  = 30 * time.Second
	DefaultEventWait      = 15 * time.Second
	DefaultRequestTimeout = 15 * time.Second
)

// The development payment provider's test cards.
const (
	cardAccepted = "4242424242424242"
	cardDeclined = "4000000000000002"
)

// Product is one product the run created for itself: its ID and SKU,
// whether it is scarce, its price, and the units on hand once set up.
type Product struct {
	ID          string `json:"id"`
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Scarce      bool   `json:"scarce"`
	Price       int64  `json:"price"`
	StartOnHand int64  `json:"start_on_hand"`

	word string // the word of its name the customers search for
}

// Run is one run of the story against one shop. Its methods are meant to be
// called in order, each once (Check may be called again).
type Run struct {
	cfg      Config
	cl       *client
	admin    *client // the same shop, not counted in the statistics
	stats    *stats
	id       string
	category string

	adminToken string
	products   []*Product
	byID       map[string]*Product
	anchor     time.Time // the shop's clock: when the first product of the run was made
	customers  []*customer

	loadStart, loadEnd time.Time
	claimed            atomic.Int64 // placements begun, for cfg.Orders
	placed             atomic.Int64 // orders placed (201)

	mu   sync.Mutex
	live []Violation // seen during the load
}

// New checks cfg, fills in its defaults and returns a run that has not
// started.
func New(cfg Config) (*Run, error) {
	if cfg.Base == "" {
		cfg.Base = DefaultBase
	}
	cfg.Base = strings.TrimRight(cfg.Base, "/")
	if !strings.HasPrefix(cfg.Base, "http://") && !strings.HasPrefix(cfg.Base, "https://") {
		return nil, fmt.Errorf("base %q is not an http:// or https:// URL", cfg.Base)
	}
	if cfg.Customers == 0 {
		cfg.Customers = DefaultCustomers
	}
	if cfg.Duration == 0 && cfg.Orders == 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Products == 0 {
		cfg.Products = DefaultProducts
	}
	if cfg.ScarceProducts == 0 {
		cfg.ScarceProducts = DefaultScarceProducts
	}
	if cfg.Stock == 0 {
		cfg.Stock = DefaultStock
	}
	if cfg.ScarceStock == 0 {
		cfg.ScarceStock = DefaultScarceStock
	}
	if cfg.SettleTimeout == 0 {
		cfg.SettleTimeout = DefaultSettleTimeout
	}
	if cfg.EventWait == 0 {
		cfg.EventWait = DefaultEventWait
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.ProgressEvery == 0 {
		cfg.ProgressEvery = 5 * time.Second
		if cfg.Live {
			cfg.ProgressEvery = time.Second
		}
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	for _, s := range []*float64{&cfg.CancelShare, &cfg.ExpireShare, &cfg.DeclineShare, &cfg.IdempotentShare} {
		*s = max(*s, 0)
	}
	switch {
	case cfg.AdminEmail == "" || cfg.AdminPassword == "":
		return nil, errors.New("an admin account is needed (admin email and password): it creates the run's products and reads every order for the check")
	case cfg.Customers < 0, cfg.Duration < 0, cfg.Orders < 0, cfg.Products < 0, cfg.ScarceProducts < 0,
		cfg.SettleTimeout < 0, cfg.EventWait < 0, cfg.RequestTimeout < 0, cfg.ProgressEvery < 0:
		return nil, errors.New("customers, duration, orders, products and the timeouts cannot be negative")
	case cfg.Products+cfg.ScarceProducts > shop.MaxLimit:
		return nil, fmt.Errorf("at most %d products in all, so one page holds them", shop.MaxLimit)
	case cfg.Stock < 1 || cfg.ScarceStock < 1:
		return nil, errors.New("stock and scarce stock must be at least 1")
	case cfg.CancelShare+cfg.ExpireShare > 1:
		return nil, fmt.Errorf("cancel share %g and expire share %g add up to more than 1", cfg.CancelShare, cfg.ExpireShare)
	case cfg.DeclineShare > 1 || cfg.IdempotentShare > 1:
		return nil, errors.New("decline share and idempotent share are at most 1")
	}
	hc := cfg.Client
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConns:        4*cfg.Customers + 8,
			MaxIdleConnsPerHost: 4*cfg.Customers + 8,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	st := newStats()
	id := shop.NewID()
	r := &Run{
		cfg:      cfg,
		stats:    st,
		cl:       &client{base: cfg.Base, http: hc, timeout: cfg.RequestTimeout, stats: st},
		admin:    &client{base: cfg.Base, http: hc, timeout: cfg.RequestTimeout},
		id:       id,
		category: "loadgen-" + strings.ToLower(id),
		byID:     map[string]*Product{},
	}
	return r, nil
}

// Config returns the run's configuration with its defaults filled in.
func (r *Run) Config() Config { return r.cfg }

// Products returns the products the run created (after Setup).
func (r *Run) Products() []Product {
	out := make([]Product, len(r.products))
	for i, p := range r.products {
		out[i] = *p
	}
	return out
}

// Category returns the category of the run's products.
func (r *Run) Category() string { return r.category }

// words name the products, so that a search for one finds exactly the
// products named with it: none is part of another, of "loadgen" or of a
// number.
var words = []string{"mug", "hoodie", "sticker", "poster", "tote", "socks", "beanie", "notebook", "lanyard", "keychain"}

// Setup signs in the admin and creates the run's products with their stock.
func (r *Run) Setup(ctx context.Context) error {
	var login struct {
		Token string `json:"token"`
		User  struct {
			Role string `json:"role"`
		} `json:"user"`
	}
	a := r.admin.do(ctx, call{method: http.MethodPost, path: "/login", want: http.StatusOK, out: &login,
		body: map[string]string{"email": r.cfg.AdminEmail, "password": r.cfg.AdminPassword}})
	if !a.success {
		return fmt.Errorf("setup: admin login at %s: %v", r.cfg.Base, a)
	}
	if login.User.Role != string(shop.RoleAdmin) {
		return fmt.Errorf("setup: %s is a %q account, not an admin", r.cfg.AdminEmail, login.User.Role)
	}
	r.adminToken = login.Token
	rng := rand.New(rand.NewPCG(r.cfg.Seed, 0))
	n := r.cfg.Products + r.cfg.ScarceProducts
	for i := range n {
		scarce := i >= r.cfg.Products
		word := words[i%len(words)]
		p := &Product{
			SKU:    fmt.Sprintf("LG-%s-%d", r.id, i),
			Name:   fmt.Sprintf("Loadgen %s %d", word, i),
			Scarce: scarce,
			Price:  100 + rng.Int64N(4900),
			word:   word,
		}
		stock := r.cfg.Stock
		if scarce {
			stock = r.cfg.ScarceStock
		}
		var created struct {
			ID        string    `json:"id"`
			CreatedAt time.Time `json:"created_at"`
		}
		a := r.admin.do(ctx, call{method: http.MethodPost, path: "/products", token: r.adminToken, want: http.StatusCreated, out: &created,
			body: map[string]any{"sku": p.SKU, "name": p.Name, "description": "Made by a load generator run.",
				"price": p.Price, "currency": "USD", "category": r.category}})
		if !a.success {
			return fmt.Errorf("setup: creating product %s: %v", p.SKU, a)
		}
		p.ID = created.ID
		if r.anchor.IsZero() {
			r.anchor = created.CreatedAt
		}
		var st apiStock
		a = r.admin.do(ctx, call{method: http.MethodPost, path: "/inventory/" + p.ID, token: r.adminToken, want: http.StatusOK, out: &st,
			body: map[string]int64{"quantity": stock}})
		if !a.success {
			return fmt.Errorf("setup: adding stock to %s: %v", p.SKU, a)
		}
		if st.OnHand < stock || st.Reserved != 0 {
			return fmt.Errorf("setup: the new product %s has stock %+v after adding %d", p.SKU, st, stock)
		}
		p.StartOnHand = st.OnHand
		r.products = append(r.products, p)
		r.byID[p.ID] = p
	}
	for i := range r.cfg.Customers {
		r.customers = append(r.customers, &customer{
			index:    i,
			email:    fmt.Sprintf("lg-%s-%d@loadgen.example", strings.ToLower(r.id), i),
			password: fmt.Sprintf("lg-%016x", rng.Uint64()),
			rng:      rand.New(rand.NewPCG(r.cfg.Seed, uint64(i)+1)),
			byID:     map[string]*orderRecord{},
		})
	}
	return nil
}

// Load runs the customers until cfg.Duration has passed, cfg.Orders
// placements were made, or stop closes (nil: never), whichever comes first;
// each customer finishes the order it is at. When ctx ends, the requests in
// flight are cut short and Load returns at once.
func (r *Run) Load(ctx context.Context, stop <-chan struct{}) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		var deadline <-chan time.Time
		if r.cfg.Duration > 0 {
			t := time.NewTimer(r.cfg.Duration)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-stop:
		case <-deadline:
		case <-lctx.Done():
		}
		cancel()
	}()
	r.loadStart = time.Now()
	done := make(chan struct{})
	var progress sync.WaitGroup
	if r.cfg.Progress != nil {
		progress.Go(func() { r.progress(done) })
	}
	var wg sync.WaitGroup
	for _, c := range r.customers {
		wg.Go(func() { r.story(ctx, lctx, c) })
	}
	wg.Wait()
	r.loadEnd = time.Now()
	close(done)
	progress.Wait()
}

// progress writes a line every cfg.ProgressEvery until stop closes.
func (r *Run) progress(stop <-chan struct{}) {
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	lastN, lastT := int64(0), r.loadStart
	for {
		select {
		case <-stop:
			if r.cfg.Live {
				fmt.Fprint(r.cfg.Progress, "\r\033[K")
			}
			return
		case now := <-t.C:
			n := r.stats.requests.Load()
			rate := float64(n-lastN) / now.Sub(lastT).Seconds()
			lastN, lastT = n, now
			line := fmt.Sprintf("%6.1fs  %d requests  %.0f req/s  %d orders  %d errors  p99 %s",
				now.Sub(r.loadStart).Seconds(), n, rate, r.placed.Load(), r.stats.errors.Load(), roundDuration(r.stats.p99()))
			if r.cfg.Live {
				fmt.Fprint(r.cfg.Progress, "\r"+line+"\033[K")
			} else {
				fmt.Fprintln(r.cfg.Progress, line)
			}
		}
	}
}

// violation notes a broken rule seen during the load.
func (r *Run) violation(rule, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.live) < maxLiveViolations {
		r.live = append(r.live, Violation{Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
}

// maxLiveViolations bounds what the load remembers of a shop that breaks
// a rule on every request.
const maxLiveViolations = 1000

// roundDuration rounds d for people: 3 significant digits or so.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= 100*time.Microsecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
