package order_test

import (
	"net/http/httptest"
	"testing"

	"github.com/kitshop/shop/internal/testkit"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/order"
	"github.com/kitshop/shop/order/ordertest"
	"github.com/kitshop/shop/user"
)

// backend is the fixture of the subtest running now: ordertest.Run runs its
// subtests one after another, and Seed and Deliver act on the service New
// returned last.
type backend struct{ f *fixture }

func (b *backend) seed(t *testing.T, price int64, currency string, stock int64) string {
	t.Helper()
	return b.f.product("CONF-"+shop.NewID(), price, currency, stock)
}

func (b *backend) deliver(t *testing.T) { b.f.deliver() }

// The suite against the local service on a SQLite store in t.TempDir().
func TestConformanceLocal(t *testing.T) {
	b := &backend{}
	ordertest.Run(t, ordertest.Harness{
		New: func(t *testing.T) order.Service {
			b.f = newFixture(t)
			return b.f.orders
		},
		As:      ordertest.Local,
		Seed:    b.seed,
		Deliver: b.deliver,
	})
}

// The suite against the HTTP client, talking to the handler in front of the
// local service, with real tokens.
func TestConformanceHTTP(t *testing.T) {
	tokens, err := user.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{}
	ordertest.Run(t, ordertest.Harness{
		New: func(t *testing.T) order.Service {
			b.f = newFixture(t)
			srv := httptest.NewServer(order.NewHTTPHandler(order.MakeServerEndpoints(b.f.orders), tokens, log.NewNopLogger()))
			t.Cleanup(srv.Close)
			client, err := order.MakeClientEndpoints(srv.URL, nil) // nil: the token comes from the context
			if err != nil {
				t.Fatal(err)
			}
			return client
		},
		As:      testkit.BearerAs(tokens),
		Seed:    b.seed,
		Deliver: b.deliver,
	})
}
