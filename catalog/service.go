// Package catalog is the product catalogue: create, read, update, delete,
// list and search products. Reads are public; changes need the admin role.
package catalog

import (
	"context"
	"time"

	"github.com/kitshop/shop"
)

// Service is the catalogue. A local value (NewService) and a remote HTTP
// client (MakeClientEndpoints) both implement it.
type Service interface {
	// CreateProduct adds a product (admin). A SKU already in use is ErrConflict "sku_taken".
	CreateProduct(ctx context.Context, p NewProduct) (Product, error)
	// GetProduct returns one product, or ErrNotFound "product_not_found".
	GetProduct(ctx context.Context, id string) (Product, error)
	// UpdateProduct changes the fields set in patch (admin).
	UpdateProduct(ctx context.Context, id string, patch ProductPatch) (Product, error)
	// DeleteProduct removes a product (admin); later reads are ErrNotFound.
	DeleteProduct(ctx context.Context, id string) error
	// ListProducts returns one page of products in a stable order, filtered by
	// category and by a name search.
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

// ListQuery selects a page of products. Category matches exactly; Q matches
// product names case-insensitively as a substring.
type ListQuery struct {
	shop.PageRequest
	Category string `json:"category,omitempty"`
	Q        string `json:"q,omitempty"`
}
