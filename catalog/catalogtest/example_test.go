package catalogtest_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/catalog/catalogtest"
)

// memStore is a catalog.Store kept in memory, written with the catalogue's
// exported API only, as a team bringing its own store would: the suite then
// checks the service on it.
type memStore struct {
	mu       sync.Mutex
	products map[string]catalog.Product // by ID
}

func newMemStore() *memStore { return &memStore{products: map[string]catalog.Product{}} }

// skuHolder returns the ID of the product with sku, if any; mu is held.
func (m *memStore) skuHolder(sku string) (string, bool) {
	for id, p := range m.products {
		if p.SKU == sku {
			return id, true
		}
	}
	return "", false
}

func (m *memStore) Insert(_ context.Context, p catalog.Product) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.skuHolder(p.SKU); taken {
		return catalog.SKUTakenError(p.SKU)
	}
	m.products[p.ID] = p
	return nil
}

func (m *memStore) Get(_ context.Context, id string) (catalog.Product, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.products[id]
	if !ok {
		return catalog.Product{}, catalog.ProductNotFoundError(id)
	}
	return p, nil
}

func (m *memStore) Update(_ context.Context, id string, patch catalog.ProductPatch, now time.Time) (catalog.Product, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.products[id]
	if !ok {
		return catalog.Product{}, catalog.ProductNotFoundError(id)
	}
	if patch.SKU != nil {
		if holder, taken := m.skuHolder(*patch.SKU); taken && holder != id {
			return catalog.Product{}, catalog.SKUTakenError(*patch.SKU)
		}
		p.SKU = *patch.SKU
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.Name, patch.Name)
	set(&p.Description, patch.Description)
	set(&p.Currency, patch.Currency)
	set(&p.Category, patch.Category)
	if patch.Price != nil {
		p.Price = *patch.Price
	}
	p.UpdatedAt = now
	if !now.After(m.products[id].UpdatedAt) {
		p.UpdatedAt = m.products[id].UpdatedAt.Add(time.Nanosecond)
	}
	m.products[id] = p
	return p, nil
}

func (m *memStore) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.products[id]; !ok {
		return catalog.ProductNotFoundError(id)
	}
	delete(m.products, id)
	return nil
}

func (m *memStore) List(_ context.Context, q catalog.StoreQuery) ([]catalog.Product, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []catalog.Product{}
	for _, p := range m.products {
		if p.ID > q.After && (q.Category == "" || p.Category == q.Category) &&
			strings.Contains(strings.ToLower(p.Name), strings.ToLower(q.Q)) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b catalog.Product) int { return strings.Compare(a.ID, b.ID) })
	return out[:min(len(out), q.Limit)], nil
}

var _ catalog.Store = (*memStore)(nil)

// The catalogue on a store of your own: New gives each subtest a service on
// an empty store, and locally acting as someone is shop.WithIdentity.
func TestMemoryStore(t *testing.T) {
	catalogtest.Run(t, catalogtest.Harness{
		New: func(t *testing.T) catalog.Service { return catalog.NewService(newMemStore()) },
		As:  catalogtest.Local,
	})
}
