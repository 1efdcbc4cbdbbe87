package http_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

func ExampleDecodeJSON() {
	var req struct {
		Name string `json:"name"`
	}
	r := httptest.NewRequest(http.MethodPost, "/products", strings.NewReader(`{"name":"mug","colour":"red"}`))
	r.Header.Set("Content-Type", "application/json")

	err := shophttp.DecodeJSON(r, &req, 0)
	fmt.Println(shophttp.StatusOf(err), shop.CodeOf(err))
	fmt.Println(err)
	// Output:
	// 400 unknown_field
	// unknown field "colour"
}

func ExampleEncodeError() {
	e := shop.E(shop.ErrTooManyRequests, "too_many_attempts", "too many login attempts")
	e.RetryAfter = 30 * time.Second

	w := httptest.NewRecorder()
	shophttp.EncodeError(context.Background(), e, w)
	fmt.Println(w.Code, w.Header().Get("Retry-After"))
	fmt.Print(w.Body.String())

	// The client side gets the same kind, code and message back.
	err := shophttp.DecodeError(w.Result())
	fmt.Println(shop.KindOf(err) == shop.ErrTooManyRequests, shop.CodeOf(err), err)
	// Output:
	// 429 30
	// {"error":{"kind":"too_many_requests","code":"too_many_attempts","message":"too many login attempts","retry_after_seconds":30}}
	// true too_many_attempts too many login attempts
}

func ExampleTokens() {
	tokens, err := user.NewTokens([]byte("an example key of at least 32 bytes"))
	if err != nil {
		panic(err)
	}
	token, _, err := tokens.Issue(shop.Identity{UserID: "u1", Role: shop.RoleCustomer}, time.Hour)
	if err != nil {
		panic(err)
	}

	id, err := tokens.Verify(context.Background(), token)
	fmt.Println(id.UserID, id.Role, err)

	_, err = tokens.Verify(context.Background(), token+"x")
	fmt.Println(shop.CodeOf(err))
	// Output:
	// u1 customer <nil>
	// invalid_token
}

func ExampleWithRequestID() {
	h := shophttp.WithRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("handler sees", shop.RequestIDFrom(r.Context()))
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(shophttp.RequestIDHeader, "req-1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println("response carries", w.Header().Get(shophttp.RequestIDHeader))
	// Output:
	// handler sees req-1
	// response carries req-1
}
