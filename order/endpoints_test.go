package order_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/go-kit/kit/endpoint"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/order"
)

// named returns a middleware that records its name in calls on the way in.
func named(name string, calls *[]string) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, req any) (any, error) {
			*calls = append(*calls, name)
			return next(ctx, req)
		}
	}
}

// Every endpoint is wrapped in the middlewares, the first the outermost,
// and Endpoints, as a Service, carries business errors in the response.
func TestMakeServerEndpointsWrapsEveryEndpoint(t *testing.T) {
	f := newFixture(t)
	var calls []string
	e := order.MakeServerEndpoints(f.orders, named("outer", &calls), named("inner", &calls))
	e = e.Wrap(named("wrapped", &calls))
	var svc order.Service = e

	p := f.product("EP", 100, "USD", 5)
	o, err := svc.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}, IdempotencyKey: "ep-1"})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := svc.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}, IdempotencyKey: "ep-1"}); err != nil || again.ID != o.ID {
		t.Fatalf("the key did not reach the service: %v, %v", again.ID, err)
	}
	svc.GetOrder(asAlice, o.ID)
	svc.ListOrders(asAlice, shop.PageRequest{})
	svc.PayOrder(asAlice, o.ID, order.TestCardOK)
	_, err = svc.CancelOrder(asAlice, o.ID)
	wantErr(t, err, shop.ErrConflict, order.CodeInvalidTransition)
	svc.RefundOrder(asAdmin, o.ID)
	if want := 7 * 3; len(calls) != want {
		t.Fatalf("%d middleware calls for 7 calls, want %d: %v", len(calls), want, calls)
	}
	for i := 0; i < len(calls); i += 3 {
		if got := calls[i : i+3]; !reflect.DeepEqual(got, []string{"wrapped", "outer", "inner"}) {
			t.Fatalf("middleware order %v, want wrapped, outer, inner", got)
		}
	}

	resp, err := order.MakeGetOrderEndpoint(f.orders)(asBob, order.GetOrderRequest{ID: o.ID})
	if err != nil {
		t.Fatalf("a business error failed the endpoint: %v", err)
	}
	wantErr(t, resp.(order.OrderResponse).Failed(), shop.ErrNotFound, order.CodeOrderNotFound)
}

// The request types carry every field in JSON, so any transport can carry
// them as they are.
func TestRequestsMarshalEveryField(t *testing.T) {
	for _, c := range []struct {
		req  any
		want string
	}{
		{order.PlaceOrderRequest{Items: []order.Item{{ProductID: "p1", Quantity: 2}}, IdempotencyKey: "k1"},
			`{"items":[{"product_id":"p1","quantity":2}],"idempotency_key":"k1"}`},
		{order.GetOrderRequest{ID: "o1"}, `{"id":"o1"}`},
		{order.ListOrdersRequest{PageRequest: shop.PageRequest{Limit: 5, Cursor: "c"}}, `{"limit":5,"cursor":"c"}`},
		{order.PayOrderRequest{ID: "o1", CardNumber: order.TestCardOK}, `{"id":"o1","card_number":"4242424242424242"}`},
		{order.CancelOrderRequest{ID: "o1"}, `{"id":"o1"}`},
		{order.RefundOrderRequest{ID: "o1"}, `{"id":"o1"}`},
	} {
		raw, err := json.Marshal(c.req)
		if err != nil || string(raw) != c.want {
			t.Errorf("%T marshals to %s (%v), want %s", c.req, raw, err, c.want)
		}
		back := reflect.New(reflect.TypeOf(c.req))
		if err := json.Unmarshal(raw, back.Interface()); err != nil || !reflect.DeepEqual(back.Elem().Interface(), c.req) {
			t.Errorf("%T does not survive a JSON round trip: %+v, %v", c.req, back.Elem().Interface(), err)
		}
	}
	raw, _ := json.Marshal(order.OrderResponse{Order: order.Order{ID: "o1", Status: order.StatusPending}, Err: shop.ErrConflict})
	var m map[string]any
	json.Unmarshal(raw, &m)
	if _, leaked := m["Err"]; leaked || m["id"] != "o1" || m["status"] != "pending" || m["payment_attempts"] != float64(0) || len(m) != 10 {
		t.Fatalf("OrderResponse marshals to %s, want the order's own fields", raw)
	}
}
