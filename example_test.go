package shop_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/kitshop/shop"
)

func ExampleE() {
	err := fmt.Errorf("register: %w", shop.E(shop.ErrConflict, "email_taken", "email %s is already registered", "a@example.com"))

	fmt.Println(errors.Is(err, shop.ErrConflict))
	fmt.Println(shop.KindOf(err).Code())
	fmt.Println(shop.CodeOf(err))
	fmt.Println(shop.CodeOf(errors.New("disk full")))
	// Output:
	// true
	// conflict
	// email_taken
	// internal
}

func ExampleMoney_String() {
	fmt.Println(shop.Money{Amount: 1999, Currency: "USD"})
	fmt.Println(shop.Money{Amount: -250, Currency: "USD"})
	fmt.Println(shop.Money{Amount: 1500, Currency: "JPY"})
	// Output:
	// 19.99 USD
	// -2.50 USD
	// 1500 JPY
}

func ExampleValidateCurrency() {
	fmt.Println(shop.ValidateCurrency("currency", "USD"))
	err := shop.ValidateCurrency("currency", "usd")
	fmt.Println(shop.CodeOf(err))
	// Output:
	// <nil>
	// invalid_currency
}

func ExamplePageRequest_Normalize() {
	// The first page: no cursor, default limit.
	p := shop.PageRequest{}
	after, err := p.Normalize()
	fmt.Printf("limit=%d after=%q err=%v\n", p.Limit, after, err)

	// The next page: the cursor a store handed out with the previous page.
	p = shop.PageRequest{Limit: 10, Cursor: shop.EncodeCursor("01hz")}
	after, err = p.Normalize()
	fmt.Printf("limit=%d after=%q err=%v\n", p.Limit, after, err)

	p = shop.PageRequest{Limit: 1000}
	_, err = p.Normalize()
	fmt.Println(shop.CodeOf(err))
	// Output:
	// limit=20 after="" err=<nil>
	// limit=10 after="01hz" err=<nil>
	// invalid_limit
}

func ExampleRequireRole() {
	ctx := shop.WithIdentity(context.Background(), shop.Identity{UserID: "u1", Role: shop.RoleCustomer})

	id, err := shop.RequireRole(ctx, shop.RoleCustomer, shop.RoleAdmin)
	fmt.Println(id.UserID, err)

	_, err = shop.RequireRole(ctx, shop.RoleAdmin)
	fmt.Println(errors.Is(err, shop.ErrForbidden), err)

	_, err = shop.RequireRole(context.Background(), shop.RoleAdmin)
	fmt.Println(shop.CodeOf(err))
	// Output:
	// u1 <nil>
	// true this action needs the admin role
	// missing_token
}
