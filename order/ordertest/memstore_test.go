package ordertest_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/order"
	"github.com/kitshop/shop/order/ordertest"
	"github.com/kitshop/shop/transport/inproc"
)

// memStore is an order.Store kept in memory, written with the order
// package's exported API only, as a team bringing its own store would. Its
// "outbox" is a slice of events that Publish hands to a shop.Publisher.
type memStore struct {
	mu     sync.Mutex
	orders map[string]order.Order
	claims map[[2]string]order.Claim // by user ID and key
	outbox []shop.Event
}

func newMemStore() *memStore {
	return &memStore{orders: map[string]order.Order{}, claims: map[[2]string]order.Claim{}}
}

var _ order.Store = (*memStore)(nil)

// clone copies an order, so that callers never share its slices.
func clone(o order.Order) order.Order {
	o.Lines = slices.Clone(o.Lines)
	o.History = slices.Clone(o.History)
	return o
}

func notFound(id string) error { return shop.E(shop.ErrNotFound, "", "no order %q", id) }

func (m *memStore) Create(_ context.Context, o order.Order) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.orders[o.ID]; ok {
		return fmt.Errorf("order %s exists", o.ID)
	}
	m.orders[o.ID] = clone(o)
	return nil
}

func (m *memStore) Get(_ context.Context, id string) (order.Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok {
		return order.Order{}, notFound(id)
	}
	return clone(o), nil
}

func (m *memStore) List(_ context.Context, userID, before string, limit int) ([]order.Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []order.Order
	for _, o := range m.orders {
		if (userID == "" || o.UserID == userID) && (before == "" || o.ID < before) {
			out = append(out, clone(o))
		}
	}
	slices.SortFunc(out, func(a, b order.Order) int { return cmp.Compare(b.ID, a.ID) })
	return out[:min(limit, len(out))], nil
}

// Transition is atomic because it holds the lock from reading the order to
// recording its event.
func (m *memStore) Transition(_ context.Context, id string, st order.Step) (order.Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.orders[id]
	if !ok {
		return order.Order{}, notFound(id)
	}
	next, err := st.Apply(clone(cur))
	if err != nil {
		return order.Order{}, err
	}
	e, announce, err := order.EventFor(next)
	if err != nil {
		return order.Order{}, err
	}
	m.orders[id] = next
	if announce {
		m.outbox = append(m.outbox, e)
	}
	return clone(next), nil
}

func (m *memStore) Note(_ context.Context, id, by string, at time.Time, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.orders[id]
	if !ok {
		return notFound(id)
	}
	o.History = append(slices.Clip(o.History), order.StatusChange{From: o.Status, To: o.Status, By: by, At: at, Reason: reason})
	m.orders[id] = o
	return nil
}

func (m *memStore) Paying(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id, o := range m.orders {
		if o.Status == order.StatusPaying {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

func (m *memStore) Overdue(_ context.Context, now time.Time, limit int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var due []order.Order
	for _, o := range m.orders {
		if o.Status == order.StatusPending && !o.ExpiresAt.After(now) {
			due = append(due, o)
		}
	}
	slices.SortFunc(due, func(a, b order.Order) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	ids := make([]string, 0, min(limit, len(due)))
	for _, o := range due[:min(limit, len(due))] {
		ids = append(ids, o.ID)
	}
	return ids, nil
}

func (m *memStore) ClaimKey(_ context.Context, c order.Claim) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{c.UserID, c.Key}
	if _, taken := m.claims[k]; taken {
		return false, nil
	}
	m.claims[k] = c
	return true, nil
}

func (m *memStore) KeyClaim(_ context.Context, userID, key string) (order.Claim, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.claims[[2]string{userID, key}]
	return c, ok, nil
}

func (m *memStore) DropClaim(_ context.Context, c order.Claim) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{c.UserID, c.Key}
	if cur, ok := m.claims[k]; ok && cur.OrderID == c.OrderID {
		if _, stored := m.orders[c.OrderID]; !stored {
			delete(m.claims, k)
		}
	}
	return nil
}

func (m *memStore) UnusedClaims(context.Context) ([]order.Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []order.Claim
	for _, c := range m.claims {
		if _, stored := m.orders[c.OrderID]; !stored {
			out = append(out, c)
		}
	}
	return out, nil
}

// Publish hands the recorded events to pub, in the order they were
// recorded; an event pub refuses stays for the next call.
func (m *memStore) Publish(ctx context.Context, pub shop.Publisher) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.outbox) > 0 {
		if err := pub.Publish(ctx, m.outbox[0]); err != nil {
			return err
		}
		m.outbox = m.outbox[1:]
	}
	return nil
}

// backend is one subtest's shop: a catalog and an inventory (on SQLite, in
// dir), the order service on an in-memory store, and a bus from the store's
// events to inventory.
type backend struct {
	catalog   catalog.Service
	inventory inventory.Service
	orders    order.Service
	publish   func(context.Context) error
	closers   []func() error
}

// openBackend opens a backend in dir whose order service runs on st, a
// memStore or a store wrapping mem, whose events it delivers.
func openBackend(dir string, st order.Store, mem *memStore) (*backend, error) {
	ctx := context.Background()
	b := &backend{}
	cs, err := catalog.OpenSQLiteStore(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, cs.Close)
	is, err := inventory.OpenSQLiteStore(ctx, filepath.Join(dir, "inventory.db"))
	if err != nil {
		b.close()
		return nil, err
	}
	b.closers = append(b.closers, is.Close)
	b.catalog, b.inventory = catalog.NewService(cs), inventory.NewService(is)
	bus := inproc.NewBus()
	for typ, h := range inventory.EventHandlers(b.inventory, log.NewNopLogger()) {
		if err := bus.Subscribe(typ, h); err != nil {
			b.close()
			return nil, err
		}
	}
	b.publish = func(ctx context.Context) error { return mem.Publish(ctx, bus) }
	b.orders = order.NewService(st, b.catalog, b.inventory, order.NewDevPayments())
	return b, nil
}

func (b *backend) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// seed creates a product with stock, as an admin.
func (b *backend) seed(price int64, currency string, stock int64) (string, error) {
	admin := shop.WithIdentity(context.Background(), shop.Identity{UserID: "seeder", Role: shop.RoleAdmin})
	p, err := b.catalog.CreateProduct(admin, catalog.NewProduct{SKU: "SKU-" + shop.NewID(), Name: "Product", Price: price, Currency: currency})
	if err != nil {
		return "", err
	}
	if _, err := b.inventory.AddStock(admin, p.ID, stock); err != nil {
		return "", err
	}
	return p.ID, nil
}

// harness returns a Harness whose New opens a fresh backend in the
// subtest's temporary directory, on the store wrap makes of a new memStore.
func harness(wrap func(*memStore) order.Store) ordertest.Harness {
	var cur *backend
	return ordertest.Harness{
		New: func(t *testing.T) order.Service {
			mem := newMemStore()
			b, err := openBackend(t.TempDir(), wrap(mem), mem)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.close)
			cur = b
			return b.orders
		},
		As: ordertest.Local,
		Seed: func(t *testing.T, price int64, currency string, stock int64) string {
			id, err := cur.seed(price, currency, stock)
			if err != nil {
				t.Fatal(err)
			}
			return id
		},
		Deliver: func(t *testing.T) {
			if err := cur.publish(context.Background()); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// TestMemStore runs the suite on the in-memory store, so the suite runs on
// a store that is not SQL and the Store interface is shown to be enough to
// write one outside the order package.
func TestMemStore(t *testing.T) {
	ordertest.Run(t, harness(func(m *memStore) order.Store { return m }))
}

// forgetful is a broken store: it records no events, so inventory never
// hears of cancellations and refunds.
type forgetful struct{ *memStore }

func (f forgetful) Transition(ctx context.Context, id string, st order.Step) (order.Order, error) {
	o, err := f.memStore.Transition(ctx, id, st)
	f.mu.Lock()
	f.outbox = nil
	f.mu.Unlock()
	return o, err
}

// nosy is a broken store: its List ignores whose orders it was asked for.
type nosy struct{ *memStore }

func (n nosy) List(ctx context.Context, _, before string, limit int) ([]order.Order, error) {
	return n.memStore.List(ctx, "", before, limit)
}

// brokenEnv names the broken store TestBrokenStore runs the suite on, in
// the child process TestSuiteCatchesBrokenStores starts.
const brokenEnv = "ORDERTEST_BROKEN_STORE"

// TestBrokenStore runs the suite on a broken store, only in a child
// process of TestSuiteCatchesBrokenStores (it fails, as it should).
func TestBrokenStore(t *testing.T) {
	switch os.Getenv(brokenEnv) {
	case "forgetful":
		ordertest.Run(t, harness(func(m *memStore) order.Store { return forgetful{m} }))
	case "nosy":
		ordertest.Run(t, harness(func(m *memStore) order.Store { return nosy{m} }))
	default:
		t.Skip("runs in the child process of TestSuiteCatchesBrokenStores")
	}
}

// TestSuiteCatchesBrokenStores checks that the suite can fail: run on a
// store that loses events, and on one that lists everyone's orders, in a
// child process of this test binary, it must report the cases they break
// and pass the others.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, c := range []struct {
		store      string
		fail, pass []string
	}{
		{"forgetful", []string{"CancelReleasesStock", "RefundReturnsStock"}, []string{"PlaceOrder", "PayOrder", "StateMachineConflicts"}},
		{"nosy", []string{"IdempotencyKeyRetries", "ListOrdersPagesNewestFirst"}, []string{"PlaceOrder", "PayOrder", "CancelReleasesStock"}},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStore$", "-test.v")
		cmd.Env = append(os.Environ(), brokenEnv+"="+c.store)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("the suite passed the %s store:\n%s", c.store, out)
			continue
		}
		for _, name := range c.fail {
			if !strings.Contains(string(out), "--- FAIL: TestBrokenStore/"+name+" ") {
				t.Errorf("%s did not fail on the %s store:\n%s", name, c.store, out)
			}
		}
		for _, name := range c.pass {
			if !strings.Contains(string(out), "--- PASS: TestBrokenStore/"+name+" ") {
				t.Errorf("%s should still pass on the %s store:\n%s", name, c.store, out)
			}
		}
	}
}
