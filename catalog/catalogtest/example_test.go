package catalogtest_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

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
		if p.ID > q.After && (q.Category == "" || p.Category == q.Category) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b catalog.Product) int { return strings.Compare(a.ID, b.ID) })
	return out[:min(len(out), q.Limit)], nil
}

// Search ranks in two tiers: 0 when the name or SKU holds every word
// whole, 1 for the other matches; in ID order within a tier. The cursor is
// "tier:ID" of the last product of the page.
func (m *memStore) Search(_ context.Context, q catalog.SearchQuery) (catalog.SearchPage, error) {
	afterTier, afterID := 0, ""
	if q.After != "" {
		t, id, ok := strings.Cut(q.After, ":")
		n, err := strconv.Atoi(t)
		if !ok || err != nil || n < 0 || n > 1 {
			return catalog.SearchPage{}, catalog.InvalidSearchCursorError()
		}
		afterTier, afterID = n, id
	}
	words := make([]string, len(q.Words))
	for i, w := range q.Words {
		words[i] = fold(w)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	type hit struct {
		tier int
		p    catalog.Product
	}
	var hits []hit
	for _, p := range m.products {
		if q.Category != "" && p.Category != q.Category {
			continue
		}
		title := foldedWords(p.Name + " " + p.SKU)
		all := append(foldedWords(p.Description), title...)
		if !matches(words, all) {
			continue
		}
		tier := 1
		if matches(words[:len(words)-1], title) && slices.Contains(title, words[len(words)-1]) {
			tier = 0
		}
		if tier > afterTier || tier == afterTier && p.ID > afterID {
			hits = append(hits, hit{tier, p})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.tier != b.tier {
			return a.tier - b.tier
		}
		return strings.Compare(a.p.ID, b.p.ID)
	})
	page := catalog.SearchPage{Items: []catalog.Product{}}
	for i, h := range hits {
		if i == q.Limit {
			last := hits[i-1]
			page.Next = strconv.Itoa(last.tier) + ":" + last.p.ID
			break
		}
		page.Items = append(page.Items, h.p)
	}
	return page, nil
}

// matches reports whether text (folded words) holds every one of words,
// the last whole or as the start of a word.
func matches(words, text []string) bool {
	for i, w := range words {
		found := slices.ContainsFunc(text, func(t string) bool {
			return t == w || i == len(words)-1 && strings.HasPrefix(t, w)
		})
		if !found {
			return false
		}
	}
	return true
}

// foldedWords splits text into words as a search does, folded.
func foldedWords(text string) []string {
	words := catalog.SearchWords(text)
	for i, w := range words {
		words[i] = fold(w)
	}
	return words
}

// fold lower-cases a word and strips its diacritics.
func fold(w string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, w)
	if err != nil {
		out = w
	}
	return strings.ToLower(out)
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
