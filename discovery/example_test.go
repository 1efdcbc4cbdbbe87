package discovery_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"
	"github.com/go-kit/log"

	"github.com/kitshop/shop/discovery"
)

// A static list, as a flag gives it, behind go-kit's endpointer and
// round-robin balancer. A Consul instancer plugs in the same way.
func ExampleParseStaticInstancer() {
	instancer, err := discovery.ParseStaticInstancer("10.0.0.8:5002, http://10.0.0.7:5002")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(instancer.Instances())

	// The factory turns an instance (a base URL) into an endpoint; a
	// domain's MakeClientEndpoints does it for real.
	factory := func(instance string) (endpoint.Endpoint, io.Closer, error) {
		return func(context.Context, any) (any, error) { return instance, nil }, nil, nil
	}
	endpointer := sd.NewEndpointer(instancer, factory, log.NewNopLogger())
	defer endpointer.Close()
	balancer := lb.NewRoundRobin(endpointer)
	_ = balancer // lb.Retry(3, time.Second, balancer) and the rest of the chain

	_, err = discovery.ParseStaticInstancer("10.0.0.7:5002,,10.0.0.8:5002")
	fmt.Println(err)
	// Output:
	// [http://10.0.0.7:5002 http://10.0.0.8:5002]
	// discovery: instance list "10.0.0.7:5002,,10.0.0.8:5002" has an empty item
}

// A service registers once it serves, finds its dependencies through
// Consul, and on a graceful shutdown deregisters before it stops answering.
func ExampleRegistrar() {
	ctx := context.Background()
	client, err := discovery.NewConsulClient("127.0.0.1:8500") // -consul
	if err != nil {
		panic(err)
	}

	// Where this instance serves (its /healthz included), then whom it calls.
	srv := &http.Server{Addr: "127.0.0.1:5003"}
	go srv.ListenAndServe()
	reg, err := discovery.RegistrationFor("orders", srv.Addr)
	if err != nil {
		panic(err)
	}
	registrar, err := discovery.NewRegistrar(client, reg)
	if err != nil {
		panic(err)
	}
	if err := registrar.Register(ctx); err != nil {
		panic(err)
	}
	inventory := discovery.NewConsulInstancer(client, "inventory")
	defer inventory.Stop()

	// ... serve until SIGTERM, then:
	shutdown, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	registrar.Deregister(shutdown) // first: watchers drop this instance
	srv.Shutdown(shutdown)         // then: finish what is in flight
}
