package inventorytest_test

import (
	"cmp"
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/inventory/inventorytest"
)

// memStore is an inventory.Store in memory, written with the exported API
// only, as a team outside the repository would write one. One mutex makes
// every call atomic; each call checks everything before it changes anything.
type memStore struct {
	mu           sync.Mutex
	stock        map[string]*inventory.Stock
	reservations map[string]*inventory.Reservation
}

var _ inventory.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{stock: map[string]*inventory.Stock{}, reservations: map[string]*inventory.Reservation{}}
}

// stockOf returns a copy of a stock record with Available filled in.
func stockOf(st *inventory.Stock) inventory.Stock {
	c := *st
	c.Available = max(0, c.OnHand-c.Reserved)
	return c
}

// copyOf returns a reservation the caller may keep and change.
func copyOf(r *inventory.Reservation) inventory.Reservation {
	c := *r
	c.Lines = slices.Clone(r.Lines)
	return c
}

func stockNotFound(productID string) error {
	return shop.E(shop.ErrNotFound, inventory.CodeStockNotFound, "no stock is recorded for product %s", productID)
}

func reservationNotFound(orderID string) error {
	return shop.E(shop.ErrNotFound, inventory.CodeReservationNotFound, "no reservation exists for order %s", orderID)
}

func (m *memStore) Stock(_ context.Context, productID string) (inventory.Stock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.stock[productID]
	if !ok {
		return inventory.Stock{}, stockNotFound(productID)
	}
	return stockOf(st), nil
}

func (m *memStore) AddStock(_ context.Context, productID string, quantity int64, _ time.Time) (inventory.Stock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.stock[productID]
	if !ok {
		st = &inventory.Stock{ProductID: productID}
		m.stock[productID] = st
	}
	st.OnHand += quantity
	return stockOf(st), nil
}

func (m *memStore) RemoveStock(_ context.Context, productID string, quantity int64, _ time.Time) (inventory.Stock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.stock[productID]
	if !ok {
		return inventory.Stock{}, stockNotFound(productID)
	}
	if avail := st.OnHand - st.Reserved; avail < quantity {
		return inventory.Stock{}, shop.E(shop.ErrConflict, inventory.CodeInsufficientStock,
			"cannot remove %d units of product %s: only %d are available", quantity, productID, avail)
	}
	st.OnHand -= quantity
	return stockOf(st), nil
}

func (m *memStore) Reservation(_ context.Context, orderID string) (inventory.Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reservations[orderID]
	if !ok {
		return inventory.Reservation{}, reservationNotFound(orderID)
	}
	return copyOf(r), nil
}

// available returns how many units of productID are free, 0 without stock.
func (m *memStore) available(productID string) int64 {
	if st, ok := m.stock[productID]; ok {
		return st.OnHand - st.Reserved
	}
	return 0
}

func (m *memStore) Reserve(_ context.Context, r inventory.Reservation) (inventory.Reservation, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if existing, ok := m.reservations[r.OrderID]; ok {
		return copyOf(existing), false, nil
	}
	for _, l := range r.Lines {
		if avail := m.available(l.ProductID); avail < l.Quantity {
			return inventory.Reservation{}, false, shop.E(shop.ErrConflict, inventory.CodeInsufficientStock,
				"not enough stock of product %s: %d requested, %d available", l.ProductID, l.Quantity, avail)
		}
	}
	for _, l := range r.Lines {
		m.stock[l.ProductID].Reserved += l.Quantity
	}
	kept := copyOf(&r)
	m.reservations[r.OrderID] = &kept
	return copyOf(&kept), true, nil
}

// held finds orderID's reservation.
func (m *memStore) held(orderID string) (*inventory.Reservation, error) {
	r, ok := m.reservations[orderID]
	if !ok {
		return nil, reservationNotFound(orderID)
	}
	return r, nil
}

// unreserve gives the units of a held reservation back to available.
func (m *memStore) unreserve(r *inventory.Reservation, status inventory.ReservationStatus) {
	for _, l := range r.Lines {
		m.stock[l.ProductID].Reserved -= l.Quantity
	}
	r.Status = status
}

func (m *memStore) Commit(_ context.Context, orderID string, _ time.Time) (inventory.Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.held(orderID)
	if err != nil {
		return inventory.Reservation{}, err
	}
	switch r.Status {
	case inventory.ReservationCommitted, inventory.ReservationReturned:
	case inventory.ReservationHeld:
		for _, l := range r.Lines {
			st := m.stock[l.ProductID]
			st.Reserved -= l.Quantity
			st.OnHand -= l.Quantity
		}
		r.Status = inventory.ReservationCommitted
	default:
		for _, l := range r.Lines {
			if m.available(l.ProductID) < l.Quantity {
				return inventory.Reservation{}, shop.E(shop.ErrConflict, inventory.CodeReservationReleased,
					"the reservation of order %s was %s and product %s no longer has %d units available",
					orderID, r.Status, l.ProductID, l.Quantity)
			}
		}
		for _, l := range r.Lines {
			m.stock[l.ProductID].OnHand -= l.Quantity
		}
		r.Status = inventory.ReservationCommitted
	}
	return copyOf(r), nil
}

func (m *memStore) Release(_ context.Context, orderID string, _ time.Time) (inventory.Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.held(orderID)
	if err != nil {
		return inventory.Reservation{}, err
	}
	switch r.Status {
	case inventory.ReservationReleased, inventory.ReservationExpired:
	case inventory.ReservationHeld:
		m.unreserve(r, inventory.ReservationReleased)
	default:
		return inventory.Reservation{}, shop.E(shop.ErrConflict, inventory.CodeReservationCommitted,
			"the reservation of order %s is already committed and cannot be released", orderID)
	}
	return copyOf(r), nil
}

func (m *memStore) Return(_ context.Context, orderID string, _ time.Time) (inventory.Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.held(orderID)
	if err != nil {
		return inventory.Reservation{}, err
	}
	switch r.Status {
	case inventory.ReservationReturned:
	case inventory.ReservationCommitted:
		for _, l := range r.Lines {
			m.stock[l.ProductID].OnHand += l.Quantity
		}
		r.Status = inventory.ReservationReturned
	default:
		return inventory.Reservation{}, shop.E(shop.ErrConflict, inventory.CodeReservationNotCommitted,
			"the reservation of order %s is %s, not sold; there is nothing to return", orderID, r.Status)
	}
	return copyOf(r), nil
}

func (m *memStore) ExpireHeld(_ context.Context, now time.Time, limit int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var due []*inventory.Reservation
	for _, r := range m.reservations {
		if r.Status == inventory.ReservationHeld && !r.ExpiresAt.After(now) {
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b *inventory.Reservation) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	due = due[:min(limit, len(due))]
	for _, r := range due {
		m.unreserve(r, inventory.ReservationExpired)
	}
	return len(due), nil
}

func (m *memStore) ListHeld(_ context.Context, createdBefore time.Time, after string, limit int) ([]inventory.Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var held []inventory.Reservation
	for _, r := range m.reservations {
		if r.Status == inventory.ReservationHeld && r.OrderID > after && r.CreatedAt.Before(createdBefore) {
			held = append(held, copyOf(r))
		}
	}
	slices.SortFunc(held, func(a, b inventory.Reservation) int { return cmp.Compare(a.OrderID, b.OrderID) })
	return held[:min(limit, len(held))], nil
}

// TestMemStore runs the conformance suite on the in-memory store, so the
// suite is exercised on a store that is not SQL and the Store interface is
// shown to be enough to write one.
func TestMemStore(t *testing.T) {
	inventorytest.Run(t, inventorytest.Harness{
		New: func(t *testing.T) inventory.Service { return inventory.NewService(newMemStore()) },
		As:  inventorytest.Local,
		WithExpirer: func(t *testing.T) (inventory.Service, *inventory.Expirer) {
			st := newMemStore()
			return inventory.NewService(st), inventory.NewExpirer(st)
		},
		Buyers: 200,
	})
}

// overselling is a broken store: it reserves without looking at what is
// available.
type overselling struct{ *memStore }

func (o overselling) Reserve(_ context.Context, r inventory.Reservation) (inventory.Reservation, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if existing, ok := o.reservations[r.OrderID]; ok {
		return copyOf(existing), false, nil
	}
	for _, l := range r.Lines {
		if st, ok := o.stock[l.ProductID]; ok {
			st.Reserved += l.Quantity
		}
	}
	kept := copyOf(&r)
	o.reservations[r.OrderID] = &kept
	return copyOf(&kept), true, nil
}

// brokenEnv makes TestSuiteCatchesAnOversellingStore run the suite on the
// broken store, in the child process it starts.
const brokenEnv = "INVENTORYTEST_RUN_BROKEN_STORE"

// TestSuiteCatchesAnOversellingStore checks that the suite can fail: run
// on a store that oversells, in a child process of this test binary, it
// must report the oversell case (and the all-or-nothing one) as failed.
func TestSuiteCatchesAnOversellingStore(t *testing.T) {
	if os.Getenv(brokenEnv) == "1" {
		inventorytest.Run(t, inventorytest.Harness{
			New: func(t *testing.T) inventory.Service { return inventory.NewService(overselling{newMemStore()}) },
			As:  inventorytest.Local,
		})
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteCatchesAnOversellingStore$", "-test.v")
	cmd.Env = append(os.Environ(), brokenEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed a store that oversells:\n%s", out)
	}
	for _, c := range []string{"ConcurrentReserveCannotOversell", "ReserveAllOrNothing"} {
		if !strings.Contains(string(out), "--- FAIL: TestSuiteCatchesAnOversellingStore/"+c) {
			t.Errorf("case %s did not fail on a store that oversells:\n%s", c, out)
		}
	}
	if !strings.Contains(string(out), "--- PASS: TestSuiteCatchesAnOversellingStore/CommitAndRelease") {
		t.Errorf("cases the broken Reserve does not touch should still pass:\n%s", out)
	}
}
