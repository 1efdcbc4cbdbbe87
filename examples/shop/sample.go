package main

import (
	"context"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/inventory"
)

// sampleProducts fill an empty catalogue on first start.
var sampleProducts = []struct {
	catalog.NewProduct
	stock int64
}{
	{catalog.NewProduct{SKU: "MUG-001", Name: "Gopher Mug", Description: "Ceramic mug, 350 ml, dishwasher safe.", Price: 1299, Currency: "USD", Category: "kitchen"}, 100},
	{catalog.NewProduct{SKU: "TEE-001", Name: "Go Kit T-Shirt", Description: "Organic cotton, unisex fit.", Price: 2499, Currency: "USD", Category: "apparel"}, 50},
	{catalog.NewProduct{SKU: "STK-001", Name: "Sticker Pack", Description: "Ten vinyl stickers.", Price: 499, Currency: "USD", Category: "accessories"}, 500},
	{catalog.NewProduct{SKU: "HOOD-001", Name: "Microservices Hoodie", Description: "Warm, with a kangaroo pocket.", Price: 4999, Currency: "USD", Category: "apparel"}, 20},
	{catalog.NewProduct{SKU: "BOOK-001", Name: "Distributed Systems Notebook", Description: "A5, dotted, 160 pages.", Price: 1599, Currency: "USD", Category: "stationery"}, 75},
	{catalog.NewProduct{SKU: "CAP-001", Name: "Circuit Breaker Cap", Description: "Adjustable strap.", Price: 1999, Currency: "USD", Category: "apparel"}, 3},
}

// loadSampleData adds the sample products and their stock when the
// catalogue is empty; a catalogue with any product is left alone.
func loadSampleData(ctx context.Context, cat catalog.Service, inv inventory.Service) error {
	ctx = shop.WithIdentity(ctx, systemAdmin)
	page, err := cat.ListProducts(ctx, catalog.ListQuery{PageRequest: shop.PageRequest{Limit: 1}})
	if err != nil || len(page.Items) > 0 {
		return err
	}
	for _, sp := range sampleProducts {
		p, err := cat.CreateProduct(ctx, sp.NewProduct)
		if err != nil {
			return err
		}
		if _, err := inv.AddStock(ctx, p.ID, sp.stock); err != nil {
			return err
		}
	}
	return nil
}
