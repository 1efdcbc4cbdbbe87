package discovery_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	shophttp "github.com/kitshop/shop/transport/http"
)

// One resilient client endpoint over two instances: one answers, the other
// has gone away. The call that meets the dead one is sent again to the
// live one, even though it is not idempotent, because it never reached a
// server. A domain's NewHTTPClient (catalog.NewHTTPClient, ...) builds the
// same chain around its MakeClientEndpoints.
func ExampleNewEndpoint() {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"instance":"live"}`)
	}))
	defer live.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	// The endpoint of one instance: business errors inside the response.
	factory := func(instance string) (endpoint.Endpoint, io.Closer, error) {
		u, err := url.Parse(instance + "/ping")
		if err != nil {
			return nil, nil, err
		}
		return kithttp.NewClient(http.MethodPost, u, shophttp.EncodeJSONRequest,
			shophttp.DecodeResponse(func(err error) pong { return pong{Err: err} })).Endpoint(), nil, nil
	}
	ep, closer, err := discovery.NewEndpoint("pinger", sd.FixedInstancer{gone.URL, live.URL}, factory,
		discovery.ClientTimeout(2*time.Second),
		discovery.RetryIdempotent(func(request any) bool { return false }),
		discovery.ClientBreakers(discovery.GoBreakers(discovery.GoBreakerSettings{ConsecutiveFailures: 3})))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closer.Close()
	for range 2 {
		resp, err := ep(context.Background(), struct{}{})
		fmt.Println(resp.(pong).Instance, err)
	}

	// With no instance at all: 503 pinger_unavailable.
	none, closeNone, _ := discovery.NewEndpoint("pinger", sd.FixedInstancer{}, factory)
	defer closeNone.Close()
	_, err = none(context.Background(), struct{}{})
	fmt.Println(shop.CodeOf(err), err)
	// Output:
	// live <nil>
	// live <nil>
	// pinger_unavailable no instance of the pinger service is known; try again later
}
