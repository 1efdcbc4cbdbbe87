package user_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/go-kit/log"
	"golang.org/x/crypto/bcrypt"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
	"github.com/kitshop/shop/user"
)

// Register, log in, and use the token to act as the new customer.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "user-example")
	defer os.RemoveAll(dir)

	store, err := user.NewStore(ctx, filepath.Join(dir, "user.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	tokens, err := user.NewTokens([]byte("a signing key of at least 32 bytes"))
	if err != nil {
		panic(err)
	}
	// MinCost keeps the example fast; leave the default in production.
	svc := user.NewService(store, tokens, user.WithBcryptCost(bcrypt.MinCost))

	ada, err := svc.Register(ctx, user.Registration{Email: " Ada@Example.com", Password: "correct horse", Name: "Ada"})
	if err != nil {
		panic(err)
	}
	fmt.Println(ada.Email, ada.Role)

	_, err = svc.Register(ctx, user.Registration{Email: "ada@example.com", Password: "another one", Name: "Ada"})
	fmt.Println(shop.CodeOf(err), "-", err)

	_, err = svc.Login(ctx, "ada@example.com", "wrong horse")
	fmt.Println(shop.CodeOf(err), "-", err)

	session, err := svc.Login(ctx, "ada@example.com", "correct horse")
	if err != nil {
		panic(err)
	}
	// The HTTP transport does this for every request with a bearer token.
	caller, err := tokens.Verify(context.Background(), session.Token)
	if err != nil {
		panic(err)
	}
	me, _ := svc.Me(shop.WithIdentity(ctx, caller))
	fmt.Println(session.TokenType, me.Name)

	_, err = svc.ListUsers(shop.WithIdentity(ctx, caller), shop.PageRequest{})
	fmt.Println(shop.CodeOf(err))
	// Output:
	// ada@example.com customer
	// email_taken - an account with this email already exists
	// invalid_credentials - the email or password is wrong
	// Bearer Ada
	// forbidden
}

// Serve the service over HTTP and call it through the client, which
// implements the same Service interface and returns the same errors.
func Example_http() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "user-example")
	defer os.RemoveAll(dir)
	store, err := user.NewStore(ctx, filepath.Join(dir, "user.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	tokens, _ := user.NewTokens([]byte("a signing key of at least 32 bytes"))

	var svc user.Service = user.NewService(store, tokens, user.WithBcryptCost(bcrypt.MinCost))
	svc = user.LoggingMiddleware(log.NewNopLogger())(svc)
	handler := user.NewHTTPHandler(user.MakeServerEndpoints(svc), tokens, log.NewNopLogger())
	server := httptest.NewServer(shophttp.WithRequestID(handler))
	defer server.Close()

	client, err := user.MakeClientEndpoints(server.URL, nil)
	if err != nil {
		panic(err)
	}
	u, err := client.Register(ctx, user.Registration{Email: "bob@example.com", Password: "correct horse", Name: "Bob"})
	fmt.Println(u.Email, err)
	_, err = client.Register(ctx, user.Registration{Email: "bob@example.com", Password: "correct horse", Name: "Bob"})
	fmt.Println(shop.KindOf(err) == shop.ErrConflict, shop.CodeOf(err))
	// Output:
	// bob@example.com <nil>
	// true email_taken
}
