package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-kit/kit/sd"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/transport/gateway"
)

// A gateway in front of one catalog instance: public routes go through,
// internal ones are answered at the door.
func Example() {
	catalog := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"name":"Green tea"}`+"\n", strings.TrimPrefix(r.URL.Path, "/products/"))
	}))
	defer catalog.Close()

	instances, err := discovery.ParseStaticInstancer(catalog.URL)
	if err != nil {
		panic(err)
	}
	gw, err := gateway.New(gateway.Config{
		Upstreams: map[string]sd.Instancer{"catalog": instances},
		Routes: []gateway.Route{
			{Method: "GET", Pattern: "/products/{id}", Service: "catalog", Class: gateway.ClassRead},
		},
		Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		panic(err)
	}
	defer gw.Close()
	door := httptest.NewServer(gw)
	defer door.Close()

	for _, path := range []string{"/products/p1", "/internal/reservations"} {
		resp, err := http.Get(door.URL + path)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s: %d %s", path, resp.StatusCode, body)
	}
	// Output:
	// /products/p1: 200 {"id":"p1","name":"Green tea"}
	// /internal/reservations: 404 {"error":{"kind":"not_found","code":"route_not_found","message":"no route for GET /internal/reservations"}}
}
