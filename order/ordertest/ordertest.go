// Package ordertest is the conformance suite of the order desk: Run checks
// that an order.Service behaves as the order package documents (pricing,
// validation with kinds and codes, roles, idempotency keys, visibility,
// paging, paying, cancelling, refunding, the state machine, and the stock
// that the order events free), whatever is behind it: the local service on
// a Store of your own (Postgres, in memory), a client of your own transport,
// or both.
//
// A Harness says how to get a fresh service, how to act as someone over
// it, and how to seed the products its orders buy. For the local service
// on your own store, acting as someone is a context with shop.WithIdentity,
// which Local puts:
//
//	func TestMyStore(t *testing.T) {
//		var b *myBackend // a catalog and an inventory beside the order desk
//		ordertest.Run(t, ordertest.Harness{
//			New: func(t *testing.T) order.Service {
//				b = newMyBackend(t) // fresh, with a catalog.Service and an inventory.Service
//				return order.NewService(newMyStore(t), b.catalog, b.inventory, order.NewDevPayments())
//			},
//			As: ordertest.Local,
//			Seed: func(t *testing.T, price int64, currency string, stock int64) string {
//				return b.product(t, price, currency, stock) // CreateProduct, then AddStock
//			},
//			Deliver: func(t *testing.T) {
//				b.deliverEvents(t) // the store's order events to inventory.EventHandlers
//			},
//		})
//	}
//
// For a remote client, acting as someone means sending their credentials.
// Over HTTP, make the client with a nil token func, so that
// shophttp.PassToken(nil) sends the token the context carries, and put a
// token for the identity in the context:
//
//	New: func(t *testing.T) order.Service {
//		b = newMyBackend(t)
//		srv := httptest.NewServer(order.NewHTTPHandler(
//			order.MakeServerEndpoints(b.orders), tokens, logger))
//		t.Cleanup(srv.Close)
//		client, err := order.MakeClientEndpoints(srv.URL, nil)
//		if err != nil {
//			t.Fatal(err)
//		}
//		return client
//	},
//	As: func(ctx context.Context, id shop.Identity) context.Context {
//		token, _, err := tokens.Issue(id, time.Hour)
//		if err != nil {
//			panic(err)
//		}
//		return shophttp.WithToken(ctx, token)
//	},
//
// This package's example_test.go is a runnable instance of the first, and
// its memstore_test.go runs the suite on an in-memory order.Store written
// with the exported API only (and checks that the suite fails on stores
// that lose events or show everyone's orders). The order package's
// conformance_test.go runs it on the SQLite store, locally and over HTTP.
//
// Stock is checked only through the order desk itself: a refused order
// reserves nothing, so the last units can still be ordered, and after a
// cancel or a refund, once Deliver has brought the order events to
// inventory, the units can be ordered again. The suite thus needs no
// inventory client of its own, and it checks the Store's promise that
// Transition records each order's event with the change. Without Deliver,
// the two subtests that need it are skipped.
//
// The suite compares error kinds with errors.Is and codes with
// shop.CodeOf, compares times with time.Time.Equal, and needs nothing of
// SQL.
package ordertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/order"
)

// Harness is what Run needs to know about the service under test.
type Harness struct {
	// New returns a fresh order service with no orders. Run calls it at the
	// start of every subtest, and runs the subtests one after another, so
	// Seed and Deliver act on the service New returned last. The service
	// must reach a catalog and an inventory (the ones Seed fills; they may
	// be shared across subtests, since every product is seeded anew) and
	// charge through a payment provider that accepts order.TestCardOK and
	// declines order.TestCardDeclined, as order.DevPayments does. Release
	// what it made with t.Cleanup. Required.
	New func(t *testing.T) order.Service
	// As returns ctx acting as id over the service: Local for a local
	// service; for a remote client, the context that makes it send a
	// credential of id (such as shophttp.WithToken(ctx, token) for a client
	// made with a nil token function). A context not passed through As must
	// be anonymous.
	As func(ctx context.Context, id shop.Identity) context.Context
	// Seed creates a product priced price (minor units of currency) with
	// stock units on hand, in the catalog and inventory behind the service
	// New returned last, and returns its ID. Required.
	Seed func(t *testing.T, price int64, currency string, stock int64) (productID string)
	// Deliver, when set, delivers every order event the service's store has
	// recorded to inventory (inventory.EventHandlers) and returns once they
	// were applied: for SQLiteStore, run RunOutbox until PendingEvents is
	// 0. The subtests that check the stock after a cancel or a refund need
	// it and are skipped without it.
	Deliver func(t *testing.T)
}

// The user IDs of the callers the suite acts as, through Harness.As:
// CustomerID and OtherCustomerID with shop.RoleCustomer, AdminID with
// shop.RoleAdmin. A transport that checks accounts must know them.
const (
	CustomerID      = "ordertest-alice"
	OtherCustomerID = "ordertest-bob"
	AdminID         = "ordertest-admin"
)

// Local is Harness.As for a local service (NewService, New, or anything
// wrapping them in process): it puts id in the context with
// shop.WithIdentity, as a transport does once it has verified a token.
func Local(ctx context.Context, id shop.Identity) context.Context {
	return shop.WithIdentity(ctx, id)
}

// Run runs the suite against the services h builds, one subtest per
// behaviour; it fails t where a behaviour differs:
//
//   - PlaceOrder: prices from the catalog, merges repeated products, stores a
//     pending order with its history, and GetOrder returns it;
//   - PlaceOrderRefusesBadRequests: roles, validation (kind and code) and
//     insufficient stock, with nothing stored or reserved;
//   - PlaceOrderHoldsAllOrNothing: a line that cannot be served holds
//     nothing of the others;
//   - IdempotencyKeyRetries: a retry returns the first order and reserves
//     nothing; the key with other items is refused; keys are per customer;
//   - ConcurrentRetriesGetOneOrder: concurrent requests with one key give
//     one order;
//   - OthersOrdersAreNotFound: another customer's order answers
//     ErrNotFound, to reading, paying and cancelling alike;
//   - ListOrdersPagesNewestFirst: a customer pages through their own orders
//     newest first, an admin sees all, bad limits and cursors are refused;
//   - PayOrder: card checks, the owner rule, a decline (back to pending,
//     with its reason), then a payment;
//   - CancelOrder and RefundOrder: who may, and what the history records;
//   - StateMachineConflicts: every refused transition is ErrConflict
//     CodeInvalidTransition naming both statuses, and changes nothing;
//   - CancelReleasesStock and RefundReturnsStock (with Harness.Deliver):
//     the order events reach inventory and free, or give back, the units.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.As == nil || h.Seed == nil {
		t.Fatal("ordertest: Harness needs New, As and Seed")
	}
	for _, c := range []struct {
		name string
		run  func(*testing.T, *suite)
	}{
		{"PlaceOrder", testPlace},
		{"PlaceOrderRefusesBadRequests", testPlaceRefused},
		{"PlaceOrderHoldsAllOrNothing", testPlaceHoldsStock},
		{"IdempotencyKeyRetries", testIdempotencyKey},
		{"ConcurrentRetriesGetOneOrder", testConcurrentRetries},
		{"OthersOrdersAreNotFound", testVisibility},
		{"ListOrdersPagesNewestFirst", testList},
		{"PayOrder", testPay},
		{"CancelOrder", testCancel},
		{"RefundOrder", testRefund},
		{"StateMachineConflicts", testConflicts},
		{"CancelReleasesStock", testCancelReleasesStock},
		{"RefundReturnsStock", testRefundReturnsStock},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, &suite{h: h, svc: h.New(t),
				alice: shop.Identity{UserID: CustomerID, Role: shop.RoleCustomer},
				bob:   shop.Identity{UserID: OtherCustomerID, Role: shop.RoleCustomer},
				admin: shop.Identity{UserID: AdminID, Role: shop.RoleAdmin}})
		})
	}
}

// suite is one subtest's service and the ways to act on it.
type suite struct {
	h                 Harness
	svc               order.Service
	alice, bob, admin shop.Identity
}

func (s *suite) as(id shop.Identity) context.Context { return s.h.As(context.Background(), id) }

func (s *suite) seed(t *testing.T, price int64, currency string, stock int64) string {
	t.Helper()
	id := s.h.Seed(t, price, currency, stock)
	if id == "" {
		t.Fatal("Seed returned no product ID")
	}
	return id
}

// place places an order of qty units of product as alice.
func (s *suite) place(t *testing.T, product string, qty int64) order.Order {
	t.Helper()
	o, err := s.svc.PlaceOrder(s.as(s.alice), order.NewOrder{Items: []order.Item{{ProductID: product, Quantity: qty}}})
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	return o
}

func (s *suite) deliver(t *testing.T) {
	t.Helper()
	if s.h.Deliver == nil {
		t.Skip("the harness has no Deliver")
	}
	s.h.Deliver(t)
}

// wantErr fails unless err has the kind (errors.Is) and the code
// (shop.CodeOf).
func wantErr(t *testing.T, what string, err error, kind *shop.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %s/%s", what, kind.Code(), code)
	}
	if !errors.Is(err, kind) || shop.CodeOf(err) != code {
		t.Fatalf("%s: got %v/%s (%v), want %s/%s", what, shop.KindOf(err), shop.CodeOf(err), err, kind.Code(), code)
	}
}

func lastChange(o order.Order) order.StatusChange {
	if len(o.History) == 0 {
		return order.StatusChange{}
	}
	return o.History[len(o.History)-1]
}

func testPlace(t *testing.T, s *suite) {
	mug := s.seed(t, 1299, "USD", 10)
	tee := s.seed(t, 2500, "USD", 5)
	o, err := s.svc.PlaceOrder(s.as(s.alice), order.NewOrder{Items: []order.Item{
		{ProductID: mug, Quantity: 2}, {ProductID: tee, Quantity: 1}, {ProductID: mug, Quantity: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if o.ID == "" || o.Status != order.StatusPending || o.UserID != s.alice.UserID || o.Currency != "USD" {
		t.Fatalf("placed order = %+v, want a pending USD order of %s", o, s.alice.UserID)
	}
	if o.Total != 3*1299+2500 {
		t.Fatalf("total = %d, want %d", o.Total, 3*1299+2500)
	}
	if len(o.Lines) != 2 || o.Lines[0].ProductID != mug || o.Lines[0].Quantity != 3 || o.Lines[0].UnitPrice != 1299 ||
		o.Lines[1].ProductID != tee || o.Lines[1].Quantity != 1 || o.Lines[1].UnitPrice != 2500 || o.Lines[0].Name == "" {
		t.Fatalf("lines = %+v, want repeated products merged in order of first appearance, with names and unit prices", o.Lines)
	}
	if !o.ExpiresAt.After(o.CreatedAt) || o.CreatedAt.IsZero() {
		t.Fatalf("created %v, expires %v: an order must expire after it was created", o.CreatedAt, o.ExpiresAt)
	}
	if len(o.History) != 1 || o.History[0].To != order.StatusPending || o.History[0].By != s.alice.UserID || o.History[0].From != "" {
		t.Fatalf("history = %+v, want one entry: created pending by %s", o.History, s.alice.UserID)
	}

	got, err := s.svc.GetOrder(s.as(s.alice), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != o.ID || got.Status != order.StatusPending || got.Total != o.Total || len(got.Lines) != 2 ||
		got.Lines[0] != o.Lines[0] || got.Lines[1] != o.Lines[1] || len(got.History) != 1 ||
		!got.CreatedAt.Equal(o.CreatedAt) || !got.ExpiresAt.Equal(o.ExpiresAt) {
		t.Fatalf("GetOrder = %+v, want the placed order %+v", got, o)
	}
}

func testPlaceRefused(t *testing.T, s *suite) {
	usd := s.seed(t, 100, "USD", 5)
	eur := s.seed(t, 100, "EUR", 5)
	cases := []struct {
		name string
		ctx  context.Context
		in   order.NewOrder
		kind *shop.Kind
		code string
	}{
		{"anonymous", context.Background(), order.NewOrder{Items: []order.Item{{ProductID: usd, Quantity: 1}}}, shop.ErrUnauthenticated, "missing_token"},
		{"an admin is not a customer", s.as(s.admin), order.NewOrder{Items: []order.Item{{ProductID: usd, Quantity: 1}}}, shop.ErrForbidden, "forbidden"},
		{"no items", s.as(s.alice), order.NewOrder{}, shop.ErrInvalid, order.CodeInvalidItems},
		{"too many items", s.as(s.alice), order.NewOrder{Items: make([]order.Item, order.MaxItems+1)}, shop.ErrInvalid, order.CodeInvalidItems},
		{"empty product ID", s.as(s.alice), order.NewOrder{Items: []order.Item{{ProductID: " ", Quantity: 1}}}, shop.ErrInvalid, order.CodeInvalidItems},
		{"zero quantity", s.as(s.alice), order.NewOrder{Items: []order.Item{{ProductID: usd, Quantity: 0}}}, shop.ErrInvalid, order.CodeInvalidQuantity},
		{"negative quantity", s.as(s.alice), order.NewOrder{Items: []order.Item{{ProductID: usd, Quantity: -3}}}, shop.ErrInvalid, order.CodeInvalidQuantity},
		{"quantity above the limit", s.as(s.alice), order.NewOrder{Items: []order.Item{{ProductID: usd, Quantity: order.MaxQuantity + 1}}}, shop.ErrInvalid, order.CodeInvalidQuantity},
		{"unknown product", s.as(s.alice), order.NewOrder{Items: []order.Item{{ProductID: usd, Quantity: 1}, {ProductID: "ordertest-no-such-product", Quantity: 1}}}, shop.ErrInvalid, order.CodeUnknownProduct},
		{"mixed currencies", s.as(s.alice), order.NewOrder{Items: []order.Item{{ProductID: usd, Quantity: 1}, {ProductID: eur, Quantity: 1}}}, shop.ErrInvalid, order.CodeMixedCurrency},
		{"not enough stock", s.as(s.alice), order.NewOrder{Items: []order.Item{{ProductID: usd, Quantity: 1}, {ProductID: usd, Quantity: 5}}}, shop.ErrConflict, "insufficient_stock"},
		{"idempotency key too long", s.as(s.alice), order.NewOrder{Items: []order.Item{{ProductID: usd, Quantity: 1}}, IdempotencyKey: strings.Repeat("k", order.MaxIdemKeySize+1)}, shop.ErrInvalid, order.CodeInvalidIdempotencyKey},
	}
	for _, c := range cases {
		_, err := s.svc.PlaceOrder(c.ctx, c.in)
		wantErr(t, c.name, err, c.kind, c.code)
	}
	page, err := s.svc.ListOrders(s.as(s.admin), shop.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 {
		t.Fatalf("refused requests stored %d orders", len(page.Items))
	}
	// Nothing was reserved either: all the stock can still be ordered.
	s.place(t, usd, 5)
	s.place(t, eur, 5)
}

func testPlaceHoldsStock(t *testing.T, s *suite) {
	a := s.seed(t, 100, "USD", 3)
	b := s.seed(t, 100, "USD", 1)
	s.place(t, a, 2)
	_, err := s.svc.PlaceOrder(s.as(s.bob), order.NewOrder{Items: []order.Item{{ProductID: a, Quantity: 2}}})
	wantErr(t, "ordering more than is left", err, shop.ErrConflict, "insufficient_stock")
	// A line that cannot be served holds nothing of the others.
	_, err = s.svc.PlaceOrder(s.as(s.bob), order.NewOrder{Items: []order.Item{{ProductID: a, Quantity: 1}, {ProductID: b, Quantity: 2}}})
	wantErr(t, "an order with one line short", err, shop.ErrConflict, "insufficient_stock")
	if _, err := s.svc.PlaceOrder(s.as(s.bob), order.NewOrder{Items: []order.Item{{ProductID: a, Quantity: 1}, {ProductID: b, Quantity: 1}}}); err != nil {
		t.Fatalf("the last units after a refused order: %v", err)
	}
}

func testIdempotencyKey(t *testing.T, s *suite) {
	p := s.seed(t, 500, "USD", 3)
	in := order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 2}}, IdempotencyKey: "ordertest-key-1"}
	first, err := s.svc.PlaceOrder(s.as(s.alice), in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.svc.PlaceOrder(s.as(s.alice), in)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again.ID != first.ID || again.Total != first.Total {
		t.Fatalf("retry = order %s, want the first order %s", again.ID, first.ID)
	}
	// The same key with other items is another request, and refused.
	_, err = s.svc.PlaceOrder(s.as(s.alice), order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 3}}, IdempotencyKey: in.IdempotencyKey})
	wantErr(t, "the key with other items", err, shop.ErrConflict, order.CodeIdempotencyKeyReused)

	// The retry reserved nothing: one unit is left, and only one.
	s.place(t, p, 1)
	_, err = s.svc.PlaceOrder(s.as(s.alice), order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}})
	wantErr(t, "ordering past the stock", err, shop.ErrConflict, "insufficient_stock")

	// Keys belong to one customer: bob's equal key is a new order of his.
	q := s.seed(t, 500, "USD", 5)
	mine := order.NewOrder{Items: []order.Item{{ProductID: q, Quantity: 1}}, IdempotencyKey: "ordertest-key-2"}
	a, err := s.svc.PlaceOrder(s.as(s.alice), mine)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.svc.PlaceOrder(s.as(s.bob), mine)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || b.UserID != s.bob.UserID {
		t.Fatalf("bob's order with alice's key = %+v, want a new order of bob's", b)
	}
	page, err := s.svc.ListOrders(s.as(s.alice), shop.PageRequest{})
	if err != nil || len(page.Items) != 3 {
		t.Fatalf("alice has %d orders (%v), want 3", len(page.Items), err)
	}
}

func testConcurrentRetries(t *testing.T, s *suite) {
	p := s.seed(t, 900, "USD", 3)
	in := order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 3}}, IdempotencyKey: "ordertest-burst"}
	const n = 12
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			o, err := s.svc.PlaceOrder(s.as(s.alice), in)
			ids[i], errs[i] = o.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("retry %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("retry %d got order %s, retry 0 got %s: one key must give one order", i, ids[i], ids[0])
		}
	}
	page, err := s.svc.ListOrders(s.as(s.alice), shop.PageRequest{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("alice has %d orders (%v), want 1", len(page.Items), err)
	}
}

func testVisibility(t *testing.T, s *suite) {
	p := s.seed(t, 100, "USD", 5)
	o := s.place(t, p, 1)

	_, err := s.svc.GetOrder(s.as(s.bob), o.ID)
	wantErr(t, "bob reads alice's order", err, shop.ErrNotFound, order.CodeOrderNotFound)
	_, err = s.svc.GetOrder(s.as(s.alice), "ordertest-no-such-order")
	wantErr(t, "an unknown order", err, shop.ErrNotFound, order.CodeOrderNotFound)
	_, err = s.svc.GetOrder(context.Background(), o.ID)
	wantErr(t, "anonymous", err, shop.ErrUnauthenticated, "missing_token")
	if got, err := s.svc.GetOrder(s.as(s.admin), o.ID); err != nil || got.ID != o.ID {
		t.Fatalf("an admin reads alice's order: %+v, %v", got, err)
	}
	// Bob can neither pay nor cancel it: to him it does not exist.
	_, err = s.svc.PayOrder(s.as(s.bob), o.ID, order.TestCardOK)
	wantErr(t, "bob pays alice's order", err, shop.ErrNotFound, order.CodeOrderNotFound)
	_, err = s.svc.CancelOrder(s.as(s.bob), o.ID)
	wantErr(t, "bob cancels alice's order", err, shop.ErrNotFound, order.CodeOrderNotFound)
	if got, _ := s.svc.GetOrder(s.as(s.alice), o.ID); got.Status != order.StatusPending {
		t.Fatalf("after bob's attempts the order is %s, want pending", got.Status)
	}
}

func testList(t *testing.T, s *suite) {
	p := s.seed(t, 100, "USD", 100)
	var mine []string
	for i := range 7 {
		who := s.alice
		if i%3 == 2 {
			who = s.bob
		}
		o, err := s.svc.PlaceOrder(s.as(who), order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		if who == s.alice {
			mine = append(mine, o.ID)
		}
		time.Sleep(2 * time.Millisecond) // IDs of distinct milliseconds keep the expected order exact
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > len(mine) {
			t.Fatal("paging does not end")
		}
		page, err := s.svc.ListOrders(s.as(s.alice), shop.PageRequest{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 2 {
			t.Fatalf("a page of limit 2 has %d orders", len(page.Items))
		}
		for _, o := range page.Items {
			if o.UserID != s.alice.UserID || len(o.History) != 1 || len(o.Lines) != 1 {
				t.Fatalf("alice's list holds %+v", o)
			}
			seen = append(seen, o.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != len(mine) {
		t.Fatalf("alice saw %d orders, has %d", len(seen), len(mine))
	}
	for i := range seen {
		if seen[i] != mine[len(mine)-1-i] {
			t.Fatalf("alice's orders = %v, want newest first %v", seen, mine)
		}
	}
	all, err := s.svc.ListOrders(s.as(s.admin), shop.PageRequest{Limit: shop.MaxLimit})
	if err != nil || len(all.Items) != 7 || all.NextCursor != "" {
		t.Fatalf("an admin sees %d orders (%v), want all 7 on one page", len(all.Items), err)
	}
	_, err = s.svc.ListOrders(s.as(s.alice), shop.PageRequest{Limit: shop.MaxLimit + 1})
	wantErr(t, "a limit above the maximum", err, shop.ErrInvalid, "invalid_limit")
	_, err = s.svc.ListOrders(s.as(s.alice), shop.PageRequest{Cursor: "???"})
	wantErr(t, "a malformed cursor", err, shop.ErrInvalid, "invalid_cursor")
	_, err = s.svc.ListOrders(context.Background(), shop.PageRequest{})
	wantErr(t, "anonymous", err, shop.ErrUnauthenticated, "missing_token")
}

func testPay(t *testing.T, s *suite) {
	p := s.seed(t, 1000, "USD", 3)
	o := s.place(t, p, 2)

	_, err := s.svc.PayOrder(s.as(s.alice), o.ID, "4242 4242 4242 4241")
	wantErr(t, "a card failing the Luhn check", err, shop.ErrInvalid, order.CodeInvalidCard)
	_, err = s.svc.PayOrder(s.as(s.alice), o.ID, "")
	wantErr(t, "no card", err, shop.ErrInvalid, order.CodeInvalidCard)
	_, err = s.svc.PayOrder(s.as(s.admin), o.ID, order.TestCardOK)
	wantErr(t, "an admin pays a customer's order", err, shop.ErrForbidden, order.CodeNotOrderOwner)
	_, err = s.svc.PayOrder(context.Background(), o.ID, order.TestCardOK)
	wantErr(t, "anonymous", err, shop.ErrUnauthenticated, "missing_token")
	_, err = s.svc.PayOrder(s.as(s.alice), "ordertest-no-such-order", order.TestCardOK)
	wantErr(t, "an unknown order", err, shop.ErrNotFound, order.CodeOrderNotFound)
	if got, _ := s.svc.GetOrder(s.as(s.alice), o.ID); got.Status != order.StatusPending || len(got.History) != 1 {
		t.Fatalf("refused payments changed the order: %s, %+v", got.Status, got.History)
	}

	_, err = s.svc.PayOrder(s.as(s.alice), o.ID, order.TestCardDeclined)
	wantErr(t, "a declined card", err, shop.ErrPaymentRequired, order.CodeCardDeclined)
	declined, err := s.svc.GetOrder(s.as(s.alice), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if declined.Status != order.StatusPending || declined.PaymentID != "" {
		t.Fatalf("after a decline the order is %s (payment %q), want pending and unpaid", declined.Status, declined.PaymentID)
	}
	if h := lastChange(declined); h.From != order.StatusPaying || h.To != order.StatusPending || h.Reason != order.CodeCardDeclined {
		t.Fatalf("after a decline the history ends with %+v, want paying -> pending for %q", h, order.CodeCardDeclined)
	}

	paid, err := s.svc.PayOrder(s.as(s.alice), o.ID, "4242-4242-4242-4242")
	if err != nil {
		t.Fatal(err)
	}
	if paid.Status != order.StatusPaid || paid.PaymentID == "" || paid.ID != o.ID {
		t.Fatalf("paid order = %+v, want paid with a payment ID", paid)
	}
	var path []string
	for _, h := range paid.History {
		path = append(path, string(h.To))
	}
	if got := strings.Join(path, " "); got != "pending paying pending paying paid" {
		t.Fatalf("history of the paid order = %s, want pending paying pending paying paid", got)
	}
	if h := lastChange(paid); h.From != order.StatusPaying || h.By != s.alice.UserID {
		t.Fatalf("the payment's history entry = %+v, want from paying by %s", h, s.alice.UserID)
	}
	if got, err := s.svc.GetOrder(s.as(s.alice), o.ID); err != nil || got.Status != order.StatusPaid || got.PaymentID != paid.PaymentID || len(got.History) != 5 {
		t.Fatalf("GetOrder after paying = %+v, %v", got, err)
	}
}

func testCancel(t *testing.T, s *suite) {
	p := s.seed(t, 1000, "USD", 5)
	o := s.place(t, p, 2)
	_, err := s.svc.CancelOrder(context.Background(), o.ID)
	wantErr(t, "anonymous", err, shop.ErrUnauthenticated, "missing_token")
	_, err = s.svc.CancelOrder(s.as(s.alice), "ordertest-no-such-order")
	wantErr(t, "an unknown order", err, shop.ErrNotFound, order.CodeOrderNotFound)

	c, err := s.svc.CancelOrder(s.as(s.alice), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != order.StatusCancelled || c.ID != o.ID {
		t.Fatalf("cancelled order = %+v", c)
	}
	if h := lastChange(c); h.From != order.StatusPending || h.To != order.StatusCancelled || h.By != s.alice.UserID {
		t.Fatalf("the cancellation's history entry = %+v", h)
	}
	if got, _ := s.svc.GetOrder(s.as(s.alice), o.ID); got.Status != order.StatusCancelled || len(got.History) != 2 {
		t.Fatalf("GetOrder after cancelling = %s, %+v", got.Status, got.History)
	}

	// An admin may cancel anyone's order.
	o2 := s.place(t, p, 1)
	c2, err := s.svc.CancelOrder(s.as(s.admin), o2.ID)
	if err != nil || c2.Status != order.StatusCancelled || lastChange(c2).By != s.admin.UserID {
		t.Fatalf("an admin cancels alice's order: %+v, %v", c2, err)
	}
}

func testRefund(t *testing.T, s *suite) {
	p := s.seed(t, 1200, "USD", 5)
	o := s.place(t, p, 2)
	_, err := s.svc.RefundOrder(s.as(s.admin), o.ID)
	wantErr(t, "refunding a pending order", err, shop.ErrConflict, order.CodeInvalidTransition)
	if _, err := s.svc.PayOrder(s.as(s.alice), o.ID, order.TestCardOK); err != nil {
		t.Fatal(err)
	}
	_, err = s.svc.RefundOrder(s.as(s.alice), o.ID)
	wantErr(t, "a customer refunds", err, shop.ErrForbidden, "forbidden")
	_, err = s.svc.RefundOrder(context.Background(), o.ID)
	wantErr(t, "anonymous", err, shop.ErrUnauthenticated, "missing_token")
	_, err = s.svc.RefundOrder(s.as(s.admin), "ordertest-no-such-order")
	wantErr(t, "an unknown order", err, shop.ErrNotFound, order.CodeOrderNotFound)

	r, err := s.svc.RefundOrder(s.as(s.admin), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != order.StatusRefunded || r.RefundID == "" || r.PaymentID == "" {
		t.Fatalf("refunded order = %+v, want refunded with a refund ID", r)
	}
	if h := lastChange(r); h.From != order.StatusPaid || h.To != order.StatusRefunded || h.By != s.admin.UserID {
		t.Fatalf("the refund's history entry = %+v", h)
	}
	_, err = s.svc.RefundOrder(s.as(s.admin), o.ID)
	wantErr(t, "refunding twice", err, shop.ErrConflict, order.CodeInvalidTransition)
	if got, err := s.svc.GetOrder(s.as(s.alice), o.ID); err != nil || got.Status != order.StatusRefunded || got.RefundID != r.RefundID {
		t.Fatalf("GetOrder after the refund = %+v, %v", got, err)
	}
}

func testConflicts(t *testing.T, s *suite) {
	p := s.seed(t, 100, "USD", 10)
	cancelled := s.place(t, p, 1)
	if _, err := s.svc.CancelOrder(s.as(s.alice), cancelled.ID); err != nil {
		t.Fatal(err)
	}
	paid := s.place(t, p, 1)
	if _, err := s.svc.PayOrder(s.as(s.alice), paid.ID, order.TestCardOK); err != nil {
		t.Fatal(err)
	}
	refunded := s.place(t, p, 1)
	if _, err := s.svc.PayOrder(s.as(s.alice), refunded.ID, order.TestCardOK); err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.RefundOrder(s.as(s.admin), refunded.ID); err != nil {
		t.Fatal(err)
	}
	pending := s.place(t, p, 1)

	cases := []struct {
		name     string
		call     func() (order.Order, error)
		from, to order.Status
	}{
		{"pay a paid order", func() (order.Order, error) { return s.svc.PayOrder(s.as(s.alice), paid.ID, order.TestCardOK) }, order.StatusPaid, order.StatusPaid},
		{"cancel a paid order", func() (order.Order, error) { return s.svc.CancelOrder(s.as(s.alice), paid.ID) }, order.StatusPaid, order.StatusCancelled},
		{"pay a cancelled order", func() (order.Order, error) { return s.svc.PayOrder(s.as(s.alice), cancelled.ID, order.TestCardOK) }, order.StatusCancelled, order.StatusPaid},
		{"cancel a cancelled order", func() (order.Order, error) { return s.svc.CancelOrder(s.as(s.alice), cancelled.ID) }, order.StatusCancelled, order.StatusCancelled},
		{"refund a cancelled order", func() (order.Order, error) { return s.svc.RefundOrder(s.as(s.admin), cancelled.ID) }, order.StatusCancelled, order.StatusRefunded},
		{"refund a pending order", func() (order.Order, error) { return s.svc.RefundOrder(s.as(s.admin), pending.ID) }, order.StatusPending, order.StatusRefunded},
		{"pay a refunded order", func() (order.Order, error) { return s.svc.PayOrder(s.as(s.alice), refunded.ID, order.TestCardOK) }, order.StatusRefunded, order.StatusPaid},
		{"cancel a refunded order", func() (order.Order, error) { return s.svc.CancelOrder(s.as(s.alice), refunded.ID) }, order.StatusRefunded, order.StatusCancelled},
		{"refund a refunded order", func() (order.Order, error) { return s.svc.RefundOrder(s.as(s.admin), refunded.ID) }, order.StatusRefunded, order.StatusRefunded},
	}
	for _, c := range cases {
		_, err := c.call()
		wantErr(t, c.name, err, shop.ErrConflict, order.CodeInvalidTransition)
		if msg := err.Error(); !strings.Contains(msg, string(c.from)) || !strings.Contains(msg, string(c.to)) {
			t.Errorf("%s: message %q must name both %s and %s", c.name, msg, c.from, c.to)
		}
	}
	for _, want := range []order.Order{cancelled, paid, refunded, pending} {
		got, err := s.svc.GetOrder(s.as(s.alice), want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(got.History); (want.ID == cancelled.ID && n != 2) || (want.ID == paid.ID && n != 3) ||
			(want.ID == refunded.ID && n != 4) || (want.ID == pending.ID && n != 1) {
			t.Errorf("order %s (%s) has %d history entries after refused transitions: %s", want.ID, got.Status, n, fmtHistory(got))
		}
	}
}

func fmtHistory(o order.Order) string {
	var b strings.Builder
	for _, h := range o.History {
		fmt.Fprintf(&b, "[%s->%s by %s %s]", h.From, h.To, h.By, h.Reason)
	}
	return b.String()
}

func testCancelReleasesStock(t *testing.T, s *suite) {
	if s.h.Deliver == nil {
		t.Skip("the harness has no Deliver")
	}
	p := s.seed(t, 100, "USD", 2)
	o := s.place(t, p, 2)
	_, err := s.svc.PlaceOrder(s.as(s.bob), order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}})
	wantErr(t, "ordering held stock", err, shop.ErrConflict, "insufficient_stock")
	if _, err := s.svc.CancelOrder(s.as(s.alice), o.ID); err != nil {
		t.Fatal(err)
	}
	s.deliver(t)
	if _, err := s.svc.PlaceOrder(s.as(s.bob), order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 2}}}); err != nil {
		t.Fatalf("the stock of a cancelled order is not available again: %v", err)
	}
}

func testRefundReturnsStock(t *testing.T, s *suite) {
	if s.h.Deliver == nil {
		t.Skip("the harness has no Deliver")
	}
	p := s.seed(t, 100, "USD", 2)
	o := s.place(t, p, 2)
	if _, err := s.svc.PayOrder(s.as(s.alice), o.ID, order.TestCardOK); err != nil {
		t.Fatal(err)
	}
	s.deliver(t) // order.paid: the units are sold
	_, err := s.svc.PlaceOrder(s.as(s.bob), order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}})
	wantErr(t, "ordering sold stock", err, shop.ErrConflict, "insufficient_stock")
	if _, err := s.svc.RefundOrder(s.as(s.admin), o.ID); err != nil {
		t.Fatal(err)
	}
	s.deliver(t) // order.refunded: the sold units go back on hand
	if _, err := s.svc.PlaceOrder(s.as(s.bob), order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 2}}}); err != nil {
		t.Fatalf("the units of a refunded order are not on hand again: %v", err)
	}
}
