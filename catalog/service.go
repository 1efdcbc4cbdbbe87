// Package catalog is the product catalogue: create, read, update, delete,
// list and search products. Reads are public; changes need the admin role.
package catalog

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kitshop/shop"
)

// Service is the catalogue. A local value (NewService, New) and a remote
// HTTP client (MakeClientEndpoints) both implement it, with the same errors:
// compare kinds with errors.Is (shop.ErrNotFound, ...) and codes with
// shop.CodeOf.
//
// Changes need the admin role: without an identity in the context they
// fail with shop.ErrUnauthenticated ("missing_token", or the reason the
// transport refused the caller's token), and with another role with
// shop.ErrForbidden "forbidden". The role is checked before the input.
type Service interface {
	// CreateProduct adds a product (admin). SKU, name and category are
	// trimmed of surrounding white space. Errors: ErrInvalid with
	// CodeInvalidSKU, CodeInvalidName, CodeInvalidDescription,
	// CodeInvalidPrice, CodeInvalidCurrency or CodeInvalidCategory;
	// ErrConflict CodeSKUTaken when another product has the SKU.
	CreateProduct(ctx context.Context, p NewProduct) (Product, error)
	// GetProduct returns one product (anyone), or ErrNotFound
	// CodeProductNotFound.
	GetProduct(ctx context.Context, id string) (Product, error)
	// UpdateProduct changes the fields set in patch and returns the product
	// as it now is (admin). updated_at moves forward on every update.
	// Errors: ErrInvalid CodeEmptyPatch when patch sets no field, the
	// validation codes of CreateProduct, ErrNotFound CodeProductNotFound,
	// ErrConflict CodeSKUTaken.
	UpdateProduct(ctx context.Context, id string, patch ProductPatch) (Product, error)
	// DeleteProduct removes a product (admin); later reads are ErrNotFound,
	// and its SKU is free again. Errors: ErrNotFound CodeProductNotFound.
	DeleteProduct(ctx context.Context, id string) error
	// ListProducts returns one page of products (anyone), filtered by
	// category and searched by words (see ListQuery): in ID order without
	// a search, the most relevant first with one. Follow NextCursor to page
	// on; paging while others write never repeats a product nor skips one
	// that existed (and matched) when paging began and still exists.
	// Items is never nil. Errors: ErrInvalid "invalid_limit",
	// "invalid_cursor" or CodeInvalidQuery.
	ListProducts(ctx context.Context, q ListQuery) (shop.Page[Product], error)
}

// Product is an item for sale. Price is in minor units of Currency.
type Product struct {
	ID          string    `json:"id"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Price       int64     `json:"price"`
	Currency    string    `json:"currency"`
	Category    string    `json:"category"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// NewProduct is what CreateProduct needs.
type NewProduct struct {
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Price       int64  `json:"price"`
	Currency    string `json:"currency"`
	Category    string `json:"category"`
}

// ProductPatch is a partial update: nil fields stay as they are.
type ProductPatch struct {
	SKU         *string `json:"sku,omitempty"`
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Price       *int64  `json:"price,omitempty"`
	Currency    *string `json:"currency,omitempty"`
	Category    *string `json:"category,omitempty"`
}

// ListQuery selects a page of products. Category matches exactly. Limit 0
// means shop.DefaultLimit, at most shop.MaxLimit; Cursor is the NextCursor
// of the previous page (of the same query). Without Q, products come in ID
// order, which is creation order to the millisecond.
//
// Q (at most MaxQueryLen characters) is a search: its words (SearchWords:
// runs of letters and digits; everything else separates them) must all be
// found in a product's name, SKU or description, ignoring case and
// diacritics, every word but the last whole and the last also as the start
// of a word ("blue hood" finds "Blue Hoodie", "cafe" finds "Café"). The
// most relevant products come first: those whose name or SKU holds every
// word, then those that need the description (Store.Search). A Q of only
// white space is no search; a Q with no letter or digit in it finds
// nothing.
type ListQuery struct {
	shop.PageRequest
	Category string `json:"category,omitempty"`
	Q        string `json:"q,omitempty"`
}

// Error codes of the catalogue, as returned by shop.CodeOf. Each comes with
// the kind noted beside it.
const (
	CodeInvalidSKU         = "invalid_sku"         // ErrInvalid: sku empty, too long or with other characters
	CodeInvalidName        = "invalid_name"        // ErrInvalid: name empty, too long or not UTF-8
	CodeInvalidDescription = "invalid_description" // ErrInvalid: description too long or not UTF-8
	CodeInvalidPrice       = "invalid_price"       // ErrInvalid: price below zero
	CodeInvalidCurrency    = "invalid_currency"    // ErrInvalid: not a known ISO 4217 code
	CodeInvalidCategory    = "invalid_category"    // ErrInvalid: category too long or not UTF-8
	CodeInvalidQuery       = "invalid_q"           // ErrInvalid: the search q is too long
	CodeEmptyPatch         = "empty_patch"         // ErrInvalid: an update that changes nothing
	CodeSKUTaken           = "sku_taken"           // ErrConflict: another product has this SKU
	CodeProductNotFound    = "product_not_found"   // ErrNotFound: no product has this ID
)

// Limits on product fields and on the search, in characters (Unicode
// code points). The SKU is ASCII, so its limit is also in bytes. SKU, name
// and category are trimmed of surrounding white space before they are
// checked and stored; the description is kept as given.
const (
	MaxSKULen         = 64   // required; letters A-Z a-z, digits, '-', '_', '.'
	MaxNameLen        = 200  // required
	MaxDescriptionLen = 5000 // may be empty
	MaxCategoryLen    = 64   // may be empty
	MaxQueryLen       = 100  // ListQuery.Q
)

// Option changes how NewService builds the service. An option given a
// value it cannot use makes NewService panic with a message naming the
// option: that is a bug in the wiring, not input to handle.
type Option func(*options)

// options are the settings NewService starts from, changed by Options.
type options struct {
	now func() time.Time
}

// WithClock makes the service read the time from now instead of time.Now,
// so tests can control created_at and updated_at. A nil now makes
// NewService panic.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now == nil {
			panic("catalog: WithClock: the clock must not be nil")
		}
		o.now = now
	}
}

// NewService returns the catalogue backed by store; a nil store makes it
// panic. Anyone may read products; creating, changing and deleting them
// needs the admin role in the context (see shop.WithIdentity). The service
// logs nothing itself, so it takes no logger: LoggingMiddleware (or New)
// writes one line per call.
func NewService(store Store, opts ...Option) Service {
	if store == nil {
		panic("catalog: NewService: the store must not be nil")
	}
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return &service{store: store, now: o.now}
}

type service struct {
	store Store
	now   func() time.Time
}

// nowUTC returns the current time as products carry it: in UTC, without
// a monotonic clock reading.
func (s *service) nowUTC() time.Time { return s.now().UTC().Round(0) }

func (s *service) CreateProduct(ctx context.Context, np NewProduct) (Product, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleAdmin); err != nil {
		return Product{}, err
	}
	p := Product{
		SKU:         strings.TrimSpace(np.SKU),
		Name:        strings.TrimSpace(np.Name),
		Description: np.Description,
		Price:       np.Price,
		Currency:    np.Currency,
		Category:    strings.TrimSpace(np.Category),
	}
	if err := validateProduct(p); err != nil {
		return Product{}, err
	}
	p.ID = shop.NewID()
	now := s.nowUTC()
	p.CreatedAt, p.UpdatedAt = now, now
	if err := s.store.Insert(ctx, p); err != nil {
		return Product{}, err
	}
	return p, nil
}

func (s *service) GetProduct(ctx context.Context, id string) (Product, error) {
	return s.store.Get(ctx, id)
}

func (s *service) UpdateProduct(ctx context.Context, id string, patch ProductPatch) (Product, error) {
	if _, err := shop.RequireRole(ctx, shop.RoleAdmin); err != nil {
		return Product{}, err
	}
	if patch == (ProductPatch{}) {
		return Product{}, shop.E(shop.ErrInvalid, CodeEmptyPatch, "the update sets no field; send at least one of sku, name, description, price, currency, category")
	}
	var clean ProductPatch
	if patch.SKU != nil {
		v := strings.TrimSpace(*patch.SKU)
		if err := validateSKU(v); err != nil {
			return Product{}, err
		}
		clean.SKU = &v
	}
	if patch.Name != nil {
		v := strings.TrimSpace(*patch.Name)
		if err := validateName(v); err != nil {
			return Product{}, err
		}
		clean.Name = &v
	}
	if patch.Description != nil {
		v := *patch.Description
		if err := validateDescription(v); err != nil {
			return Product{}, err
		}
		clean.Description = &v
	}
	if patch.Price != nil {
		v := *patch.Price
		if err := validatePrice(v); err != nil {
			return Product{}, err
		}
		clean.Price = &v
	}
	if patch.Currency != nil {
		v := *patch.Currency
		if err := shop.ValidateCurrency("currency", v); err != nil {
			return Product{}, err
		}
		clean.Currency = &v
	}
	if patch.Category != nil {
		v := strings.TrimSpace(*patch.Category)
		if err := validateCategory(v); err != nil {
			return Product{}, err
		}
		clean.Category = &v
	}
	return s.store.Update(ctx, id, clean, s.nowUTC())
}

func (s *service) DeleteProduct(ctx context.Context, id string) error {
	if _, err := shop.RequireRole(ctx, shop.RoleAdmin); err != nil {
		return err
	}
	return s.store.Delete(ctx, id)
}

func (s *service) ListProducts(ctx context.Context, q ListQuery) (shop.Page[Product], error) {
	after, err := q.Normalize()
	if err != nil {
		return shop.Page[Product]{}, err
	}
	if utf8.RuneCountInString(q.Q) > MaxQueryLen {
		return shop.Page[Product]{}, shop.E(shop.ErrInvalid, CodeInvalidQuery, "q must be at most %d characters", MaxQueryLen)
	}
	if strings.TrimSpace(q.Q) != "" {
		return s.search(ctx, q, after)
	}
	items, err := s.store.List(ctx, StoreQuery{After: after, Limit: q.Limit + 1, Category: q.Category})
	if err != nil {
		return shop.Page[Product]{}, err
	}
	page := shop.Page[Product]{Items: items}
	if len(items) > q.Limit {
		page.Items = items[:q.Limit]
		page.NextCursor = shop.EncodeCursor(page.Items[q.Limit-1].ID)
	}
	return page, nil
}

// search answers ListProducts with a search: the store's Search, whose
// cursor the page's NextCursor carries.
func (s *service) search(ctx context.Context, q ListQuery, after string) (shop.Page[Product], error) {
	words := SearchWords(q.Q)
	if len(words) == 0 {
		return shop.Page[Product]{Items: []Product{}}, nil
	}
	res, err := s.store.Search(ctx, SearchQuery{Words: words, Category: q.Category, After: after, Limit: q.Limit})
	if err != nil {
		return shop.Page[Product]{}, err
	}
	page := shop.Page[Product]{Items: res.Items}
	if page.Items == nil {
		page.Items = []Product{}
	}
	if res.Next != "" {
		page.NextCursor = shop.EncodeCursor(res.Next)
	}
	return page, nil
}

// validateProduct checks every field of a product about to be created; the
// text fields are already trimmed.
func validateProduct(p Product) error {
	if err := validateSKU(p.SKU); err != nil {
		return err
	}
	if err := validateName(p.Name); err != nil {
		return err
	}
	if err := validateDescription(p.Description); err != nil {
		return err
	}
	if err := validatePrice(p.Price); err != nil {
		return err
	}
	if err := shop.ValidateCurrency("currency", p.Currency); err != nil {
		return err
	}
	return validateCategory(p.Category)
}

func validateSKU(sku string) error {
	if sku == "" {
		return shop.E(shop.ErrInvalid, CodeInvalidSKU, "sku is required")
	}
	if len(sku) > MaxSKULen {
		return shop.E(shop.ErrInvalid, CodeInvalidSKU, "sku must be at most %d characters", MaxSKULen)
	}
	for i := 0; i < len(sku); i++ {
		c := sku[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return shop.E(shop.ErrInvalid, CodeInvalidSKU, "sku may hold only letters A-Z, digits, '-', '_' and '.'")
		}
	}
	return nil
}

func validateName(name string) error {
	switch {
	case name == "":
		return shop.E(shop.ErrInvalid, CodeInvalidName, "name is required")
	case !utf8.ValidString(name):
		return shop.E(shop.ErrInvalid, CodeInvalidName, "name must be valid UTF-8 text")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return shop.E(shop.ErrInvalid, CodeInvalidName, "name must be at most %d characters", MaxNameLen)
	}
	return nil
}

func validateDescription(d string) error {
	switch {
	case !utf8.ValidString(d):
		return shop.E(shop.ErrInvalid, CodeInvalidDescription, "description must be valid UTF-8 text")
	case utf8.RuneCountInString(d) > MaxDescriptionLen:
		return shop.E(shop.ErrInvalid, CodeInvalidDescription, "description must be at most %d characters", MaxDescriptionLen)
	}
	return nil
}

func validatePrice(price int64) error {
	if price < 0 {
		return shop.E(shop.ErrInvalid, CodeInvalidPrice, "price must be zero or more (in minor units of the currency)")
	}
	return nil
}

func validateCategory(c string) error {
	switch {
	case !utf8.ValidString(c):
		return shop.E(shop.ErrInvalid, CodeInvalidCategory, "category must be valid UTF-8 text")
	case utf8.RuneCountInString(c) > MaxCategoryLen:
		return shop.E(shop.ErrInvalid, CodeInvalidCategory, "category must be at most %d characters", MaxCategoryLen)
	}
	return nil
}
