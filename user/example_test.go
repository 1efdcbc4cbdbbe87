package user_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
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

	store, err := user.OpenSQLiteStore(ctx, filepath.Join(dir, "user.db"))
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

// Serve the service over HTTP as a program would: New adds logging and
// metrics, CheckAccounts refuses the tokens of disabled or deleted accounts.
// The client implements the same Service interface and returns the same
// errors.
func Example_http() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "user-example")
	defer os.RemoveAll(dir)
	store, err := user.OpenSQLiteStore(ctx, filepath.Join(dir, "user.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	tokens, err := user.NewTokens([]byte("a signing key of at least 32 bytes"))
	if err != nil {
		panic(err)
	}
	metrics, err := shop.NewServiceMetrics(prometheus.NewRegistry(), "user")
	if err != nil {
		panic(err)
	}
	logger := log.NewNopLogger()

	svc := user.New(store, tokens, logger, metrics, user.WithBcryptCost(bcrypt.MinCost))
	verifier := user.CheckAccounts(tokens, user.AccountCheck(store))
	handler := user.NewHTTPHandler(user.MakeServerEndpoints(svc), verifier, logger)
	server := httptest.NewServer(shophttp.WithRequestID(handler))
	defer server.Close()

	client, err := user.MakeClientEndpoints(server.URL, nil)
	if err != nil {
		panic(err)
	}
	u, err := client.Register(ctx, user.Registration{Email: "bob@example.com", Password: "correct horse", Name: "Bob"})
	fmt.Println(u.Email, err)
	_, err = client.Register(ctx, user.Registration{Email: "bob@example.com", Password: "correct horse", Name: "Bob"})
	fmt.Println(errors.Is(err, shop.ErrConflict), shop.CodeOf(err) == user.CodeEmailTaken)

	session, err := client.Login(ctx, "bob@example.com", "correct horse")
	if err != nil {
		panic(err)
	}
	// The client was made with a nil token function: it sends the token
	// the context carries.
	me, err := client.Me(shophttp.WithToken(ctx, session.Token))
	fmt.Println(me.Name, err)
	// Output:
	// bob@example.com <nil>
	// true true
	// Bob <nil>
}

// Run the store on a database you opened yourself: migrate it first;
// closing the store leaves the database open.
func ExampleNewSQLiteStore() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "user-example")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "shop.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := user.Migrate(ctx, db); err != nil {
		panic(err)
	}
	store := user.NewSQLiteStore(db)
	tokens, _ := user.NewTokens([]byte("a signing key of at least 32 bytes"))
	svc := user.NewService(store, tokens, user.WithBcryptCost(bcrypt.MinCost))
	u, err := svc.Register(ctx, user.Registration{Email: "cy@example.com", Password: "correct horse", Name: "Cy"})
	fmt.Println(u.Email, err)

	store.Close()
	fmt.Println(db.PingContext(ctx))
	// Output:
	// cy@example.com <nil>
	// <nil>
}
