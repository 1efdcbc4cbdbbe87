// Package inventorytest is the inventory's conformance suite: Run checks
// that an inventory.Service behaves as the inventory must (stock kept right,
// all-or-nothing and idempotent reservations, the reservation life cycle,
// roles, error kinds and codes, paging, and no overselling under concurrent
// buyers), whatever is behind it: the local service on your own Store, a
// client over HTTP or over your own transport.
//
// Give Run a Harness that makes a fresh, empty service and says how to act
// as someone over it. For a service on your own store:
//
//	func TestMyStore(t *testing.T) {
//		inventorytest.Run(t, inventorytest.Harness{
//			New: func(t *testing.T) inventory.Service { return inventory.NewService(newMyStore(t)) },
//			As:  inventorytest.Local,
//			WithExpirer: func(t *testing.T) (inventory.Service, *inventory.Expirer) {
//				st := newMyStore(t)
//				return inventory.NewService(st), inventory.NewExpirer(st)
//			},
//		})
//	}
//
// For a remote client, New starts a server on a fresh service and returns
// a client made without a token source, and As puts a bearer token for the
// identity in the context (over HTTP: shophttp.WithToken, which the client's
// shophttp.PassToken(nil) sends). The inventory's conformance_test.go does
// both, and this package's tests run the suite on a small in-memory Store
// (memstore_test.go), which shows what a Store of your own needs.
//
// The suite knows nothing of SQL; it uses only the Service (and an Expirer
// when the harness gives one).
package inventorytest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inventory"
)

// Harness is what Run needs to know about the services it checks.
type Harness struct {
	// New returns a fresh, empty inventory (no stock, no reservations).
	// Run calls it once for each subtest, with that subtest's t, so
	// subtests never see each other's data; release what it made with
	// t.Cleanup. Run's subtests run one after another, never in parallel,
	// though a subtest may call the service from many goroutines. Required.
	New func(t *testing.T) inventory.Service
	// As returns ctx carrying the identity id, as callers of the services
	// New returns act as someone: Local for a local service, a bearer
	// token for a remote client. A context that did not pass through As
	// must carry no identity. Required.
	As func(ctx context.Context, id shop.Identity) context.Context
	// WithExpirer returns a fresh, empty service as New does, together
	// with an Expirer on the same store (inventory.NewExpirer), for the
	// expiry cases. Optional: without it they are skipped.
	WithExpirer func(t *testing.T) (inventory.Service, *inventory.Expirer)
	// Now is the clock of the services New returns (the one given to
	// inventory.WithClock); the suite's expiry times are taken from it.
	// Optional: time.Now.
	Now func() time.Time
	// Buyers is how many buyers race for a tenth as many units in the
	// oversell case. Optional: 50. The repository runs 200 on a local
	// store and 50 over HTTP.
	Buyers int
}

// The user IDs of the callers the suite acts as, with As: AdminID with
// shop.RoleAdmin for stock changes, ServiceID with shop.RoleService for
// reservations, CustomerID with shop.RoleCustomer where it expects
// shop.ErrForbidden. A transport that checks accounts must know them.
const (
	AdminID    = "inventorytest-admin"
	ServiceID  = "inventorytest-service"
	CustomerID = "inventorytest-customer"
)

// Local is Harness.As for a local service: it puts id in the context with
// shop.WithIdentity, as a transport does once it has verified a token.
func Local(ctx context.Context, id shop.Identity) context.Context {
	return shop.WithIdentity(ctx, id)
}

// Run runs the conformance suite against the services h makes, one
// subtest per behaviour. It fails t when a behaviour differs.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.As == nil {
		t.Fatal("inventorytest: Harness.New and Harness.As are required")
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Buyers <= 0 {
		h.Buyers = 50
	}
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			var s suite
			if c.expiry {
				if h.WithExpirer == nil {
					t.Skip("Harness.WithExpirer is not set")
				}
				s = newSuite(t, h, h.WithExpirer)
			} else {
				s = newSuite(t, h, func(t *testing.T) (inventory.Service, *inventory.Expirer) { return h.New(t), nil })
			}
			c.run(t, s)
		})
	}
}

// testCase is one behaviour Run checks.
type testCase struct {
	name   string
	expiry bool // needs Harness.WithExpirer
	run    func(t *testing.T, s suite)
}

// cases returns the behaviours Run checks, in order.
func cases() []testCase {
	return []testCase{
		{"StockAddGetRemove", false, testStock},
		{"RemoveStockBelowReserved", false, testRemoveBelowReserved},
		{"Roles", false, testRoles},
		{"Validation", false, testValidation},
		{"ReserveCreatesOnceAndRepeats", false, testReserveIdempotent},
		{"ReserveMergesDuplicateLines", false, testReserveMerges},
		{"ReserveMismatch", false, testReserveMismatch},
		{"ReserveAllOrNothing", false, testReserveAllOrNothing},
		{"ReserveRepeatAfterExpiry", false, testReserveRepeatAfterExpiry},
		{"CommitAndRelease", false, testCommitAndRelease},
		{"CommitAfterReleaseRetakesStock", false, testCommitAfterRelease},
		{"Return", false, testReturn},
		{"ListHeldPages", false, testListHeld},
		{"ConcurrentReserveCannotOversell", false, testOversell},
		{"ConcurrentCommitAndRelease", false, testCommitReleaseRace},
		{"Expiry", true, testExpiry},
	}
}

// suite is one subtest's service and the ways to call it.
type suite struct {
	h       Harness
	svc     inventory.Service
	expirer *inventory.Expirer
	// Contexts acting as each role, and one with no identity.
	admin, orders, customer, anon context.Context
}

func newSuite(t *testing.T, h Harness, newService func(t *testing.T) (inventory.Service, *inventory.Expirer)) suite {
	t.Helper()
	svc, x := newService(t)
	if svc == nil {
		t.Fatal("inventorytest: the harness made a nil service")
	}
	as := func(userID string, role shop.Role) context.Context {
		return h.As(context.Background(), shop.Identity{UserID: userID, Role: role})
	}
	return suite{h: h, svc: svc, expirer: x,
		admin:    as(AdminID, shop.RoleAdmin),
		orders:   as(ServiceID, shop.RoleService),
		customer: as(CustomerID, shop.RoleCustomer),
		anon:     context.Background()}
}

// expires is a reservation expiry well in the future.
func (s suite) expires() time.Time { return s.h.Now().Add(time.Hour) }

func (s suite) add(t *testing.T, productID string, q int64) {
	t.Helper()
	if _, err := s.svc.AddStock(s.admin, productID, q); err != nil {
		t.Fatalf("AddStock(%s, %d): %v", productID, q, err)
	}
}

func (s suite) reserve(t *testing.T, orderID string, lines []inventory.Line, exp time.Time) inventory.Reservation {
	t.Helper()
	r, created, err := s.svc.Reserve(s.orders, orderID, lines, exp)
	if err != nil {
		t.Fatalf("Reserve(%s, %v): %v", orderID, lines, err)
	}
	if !created {
		t.Fatalf("Reserve(%s) of a new order: created = false, want true", orderID)
	}
	return r
}

// wantStock fails unless productID's stock is onHand and reserved.
func (s suite) wantStock(t *testing.T, productID string, onHand, reserved int64) {
	t.Helper()
	got, err := s.svc.GetStock(s.anon, productID)
	if err != nil {
		t.Fatalf("GetStock(%s): %v", productID, err)
	}
	want := inventory.Stock{ProductID: productID, OnHand: onHand, Reserved: reserved, Available: onHand - reserved}
	if got != want {
		t.Fatalf("stock of %s = %+v, want %+v", productID, got, want)
	}
}

// wantStatus fails unless r is orderID's reservation in status.
func wantStatus(t *testing.T, what string, r inventory.Reservation, err error, orderID string, status inventory.ReservationStatus) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if r.OrderID != orderID || r.Status != status {
		t.Fatalf("%s = %+v, want order %s %s", what, r, orderID, status)
	}
}

// wantErr fails unless err is of kind (errors.Is) with code (shop.CodeOf).
func wantErr(t *testing.T, what string, err error, kind *shop.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: err = nil, want %s %q", what, kind.Code(), code)
	}
	if !errors.Is(err, kind) || shop.CodeOf(err) != code {
		t.Fatalf("%s: err = %v (kind %v, code %q), want %s %q", what, err, shop.KindOf(err), shop.CodeOf(err), kind.Code(), code)
	}
}

// wantMention fails unless err's message contains each of words.
func wantMention(t *testing.T, what string, err error, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("%s: message %q does not mention %q", what, err.Error(), w)
		}
	}
}

func lines(l ...inventory.Line) []inventory.Line { return l }

func line(productID string, q int64) inventory.Line {
	return inventory.Line{ProductID: productID, Quantity: q}
}

func testStock(t *testing.T, s suite) {
	_, err := s.svc.GetStock(s.anon, "p1")
	wantErr(t, "GetStock before any stock", err, shop.ErrNotFound, inventory.CodeStockNotFound)

	st, err := s.svc.AddStock(s.admin, "p1", 7)
	if err != nil || st != (inventory.Stock{ProductID: "p1", OnHand: 7, Available: 7}) {
		t.Fatalf("AddStock = %+v, %v; want 7 on hand", st, err)
	}
	s.add(t, "p1", 3)
	s.wantStock(t, "p1", 10, 0)

	st, err = s.svc.RemoveStock(s.admin, "p1", 4)
	if err != nil || st != (inventory.Stock{ProductID: "p1", OnHand: 6, Available: 6}) {
		t.Fatalf("RemoveStock = %+v, %v; want 6 on hand", st, err)
	}
	s.wantStock(t, "p1", 6, 0)
	_, err = s.svc.RemoveStock(s.admin, "missing", 1)
	wantErr(t, "RemoveStock without stock", err, shop.ErrNotFound, inventory.CodeStockNotFound)
	_, err = s.svc.RemoveStock(s.admin, "p1", 7)
	wantErr(t, "RemoveStock of more than on hand", err, shop.ErrConflict, inventory.CodeInsufficientStock)
	s.wantStock(t, "p1", 6, 0)
	// Another product's stock is its own.
	s.add(t, "p2", 1)
	s.wantStock(t, "p2", 1, 0)
	s.wantStock(t, "p1", 6, 0)
}

func testRemoveBelowReserved(t *testing.T, s suite) {
	s.add(t, "p1", 10)
	s.reserve(t, "o1", lines(line("p1", 6)), s.expires())
	_, err := s.svc.RemoveStock(s.admin, "p1", 5)
	wantErr(t, "RemoveStock below reserved", err, shop.ErrConflict, inventory.CodeInsufficientStock)
	wantMention(t, "RemoveStock below reserved", err, "p1", "4")
	s.wantStock(t, "p1", 10, 6)
	if _, err := s.svc.RemoveStock(s.admin, "p1", 4); err != nil {
		t.Fatalf("removing exactly what is available: %v", err)
	}
	s.wantStock(t, "p1", 6, 6)
}

func testRoles(t *testing.T, s suite) {
	s.add(t, "p1", 10)
	exp := s.expires()
	calls := []struct {
		name    string
		allowed shop.Role
		call    func(ctx context.Context) error
	}{
		{"AddStock", shop.RoleAdmin, func(ctx context.Context) error { _, err := s.svc.AddStock(ctx, "p1", 1); return err }},
		{"RemoveStock", shop.RoleAdmin, func(ctx context.Context) error { _, err := s.svc.RemoveStock(ctx, "p1", 1); return err }},
		{"Reserve", shop.RoleService, func(ctx context.Context) error {
			_, _, err := s.svc.Reserve(ctx, "o-roles", lines(line("p1", 1)), exp)
			return err
		}},
		{"Commit", shop.RoleService, func(ctx context.Context) error { _, err := s.svc.Commit(ctx, "o-roles"); return err }},
		{"Release", shop.RoleService, func(ctx context.Context) error { _, err := s.svc.Release(ctx, "o-roles"); return err }},
		{"Return", shop.RoleService, func(ctx context.Context) error { _, err := s.svc.Return(ctx, "o-roles"); return err }},
		{"ListHeld", shop.RoleService, func(ctx context.Context) error {
			_, err := s.svc.ListHeld(ctx, exp, shop.PageRequest{})
			return err
		}},
	}
	roles := map[shop.Role]context.Context{shop.RoleCustomer: s.customer, shop.RoleAdmin: s.admin, shop.RoleService: s.orders}
	for _, c := range calls {
		if err := c.call(s.anon); !errors.Is(err, shop.ErrUnauthenticated) {
			t.Errorf("%s without identity: err = %v, want unauthenticated", c.name, err)
		}
		for role, ctx := range roles {
			if role == c.allowed {
				continue
			}
			if err := c.call(ctx); !errors.Is(err, shop.ErrForbidden) || shop.CodeOf(err) != "forbidden" {
				t.Errorf("%s as %s: err = %v, want forbidden", c.name, role, err)
			}
		}
	}
	// Nothing the refused calls asked for happened.
	s.wantStock(t, "p1", 10, 0)
	_, err := s.svc.Commit(s.orders, "o-roles")
	wantErr(t, "Commit of the refused reservation", err, shop.ErrNotFound, inventory.CodeReservationNotFound)
	// Anyone may read stock.
	if _, err := s.svc.GetStock(s.customer, "p1"); err != nil {
		t.Fatalf("GetStock as a customer: %v", err)
	}
}

func testValidation(t *testing.T, s suite) {
	s.add(t, "p1", 10)
	// IDs travel in paths on some transports, where an empty one names
	// another route; too long IDs reach the service on any transport.
	long := strings.Repeat("x", inventory.MaxIDLength+1)
	exp := s.expires()
	many := make([]inventory.Line, inventory.MaxLines+1)
	for i := range many {
		many[i] = line(fmt.Sprint("p", i), 1)
	}
	reserve := func(orderID string, l []inventory.Line, exp time.Time) func() error {
		return func() error { _, _, err := s.svc.Reserve(s.orders, orderID, l, exp); return err }
	}
	tests := []struct {
		name  string
		call  func() error
		code  string
		field string // the message must name it
	}{
		{"get long product", func() error { _, err := s.svc.GetStock(s.anon, long); return err }, inventory.CodeInvalidProductID, "product_id"},
		{"add long product", func() error { _, err := s.svc.AddStock(s.admin, long, 1); return err }, inventory.CodeInvalidProductID, "product_id"},
		{"add zero", func() error { _, err := s.svc.AddStock(s.admin, "p1", 0); return err }, inventory.CodeInvalidQuantity, "quantity"},
		{"add negative", func() error { _, err := s.svc.AddStock(s.admin, "p1", -5); return err }, inventory.CodeInvalidQuantity, "quantity"},
		{"add too many", func() error {
			_, err := s.svc.AddStock(s.admin, "p1", inventory.MaxQuantity+1)
			return err
		}, inventory.CodeInvalidQuantity, "quantity"},
		{"remove zero", func() error { _, err := s.svc.RemoveStock(s.admin, "p1", 0); return err }, inventory.CodeInvalidQuantity, "quantity"},
		{"remove long product", func() error { _, err := s.svc.RemoveStock(s.admin, long, 1); return err }, inventory.CodeInvalidProductID, "product_id"},
		{"reserve no order", reserve("", lines(line("p1", 1)), exp), inventory.CodeInvalidOrderID, "order_id"},
		{"reserve long order", reserve(long, lines(line("p1", 1)), exp), inventory.CodeInvalidOrderID, "order_id"},
		{"reserve no lines", reserve("o1", nil, exp), inventory.CodeInvalidLines, "lines"},
		{"reserve too many lines", reserve("o1", many, exp), inventory.CodeInvalidLines, "lines"},
		{"reserve empty product", reserve("o1", lines(line("p1", 1), line("", 1)), exp), inventory.CodeInvalidProductID, "lines[1].product_id"},
		{"reserve zero quantity", reserve("o1", lines(line("p1", 1), line("p1", 0)), exp), inventory.CodeInvalidQuantity, "lines[1].quantity"},
		{"reserve huge quantity", reserve("o1", lines(line("p1", inventory.MaxQuantity+1)), exp), inventory.CodeInvalidQuantity, "lines[0].quantity"},
		{"reserve no expiry", reserve("o1", lines(line("p1", 1)), time.Time{}), inventory.CodeInvalidExpiresAt, "expires_at"},
		{"reserve past expiry", reserve("o1", lines(line("p1", 1)), s.h.Now().Add(-time.Second)), inventory.CodeInvalidExpiresAt, "expires_at"},
		{"commit long order", func() error { _, err := s.svc.Commit(s.orders, long); return err }, inventory.CodeInvalidOrderID, "order_id"},
		{"release long order", func() error { _, err := s.svc.Release(s.orders, long); return err }, inventory.CodeInvalidOrderID, "order_id"},
		{"return long order", func() error { _, err := s.svc.Return(s.orders, long); return err }, inventory.CodeInvalidOrderID, "order_id"},
		{"list bad limit", func() error {
			_, err := s.svc.ListHeld(s.orders, exp, shop.PageRequest{Limit: shop.MaxLimit + 1})
			return err
		}, "invalid_limit", "limit"},
		{"list bad cursor", func() error {
			_, err := s.svc.ListHeld(s.orders, exp, shop.PageRequest{Cursor: "not a cursor"})
			return err
		}, "invalid_cursor", "cursor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			wantErr(t, tc.name, err, shop.ErrInvalid, tc.code)
			wantMention(t, tc.name, err, tc.field)
		})
	}
	// Bad input changed nothing.
	s.wantStock(t, "p1", 10, 0)
	_, err := s.svc.Commit(s.orders, "o1")
	wantErr(t, "Commit after refused reservations", err, shop.ErrNotFound, inventory.CodeReservationNotFound)
}

func testReserveIdempotent(t *testing.T, s suite) {
	s.add(t, "p1", 10)
	s.add(t, "p2", 10)
	exp := s.expires()
	before := s.h.Now()
	first := s.reserve(t, "o1", lines(line("p2", 2), line("p1", 3)), exp)
	after := s.h.Now()
	if first.OrderID != "o1" || first.Status != inventory.ReservationHeld ||
		fmt.Sprint(first.Lines) != fmt.Sprint(lines(line("p2", 2), line("p1", 3))) ||
		!first.ExpiresAt.Equal(exp) || first.CreatedAt.Before(before.Round(0)) || first.CreatedAt.After(after) {
		t.Fatalf("first reservation = %+v, want o1 held with the lines in order, created between %v and %v, expiring %v",
			first, before, after, exp)
	}
	// A repeat finds it, whatever expiry it asks for, with the lines in
	// any order, and reserves nothing more.
	again, created, err := s.svc.Reserve(s.orders, "o1", lines(line("p1", 3), line("p2", 2)), exp.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Fatal("a repeated Reserve reported that it created the reservation")
	}
	if again.OrderID != "o1" || again.Status != inventory.ReservationHeld || !again.CreatedAt.Equal(first.CreatedAt) ||
		!again.ExpiresAt.Equal(first.ExpiresAt) || fmt.Sprint(again.Lines) != fmt.Sprint(first.Lines) {
		t.Fatalf("repeat = %+v, want the first reservation %+v", again, first)
	}
	s.wantStock(t, "p1", 10, 3)
	s.wantStock(t, "p2", 10, 2)
	// A repeat of a settled reservation finds it as it is now.
	if _, err := s.svc.Commit(s.orders, "o1"); err != nil {
		t.Fatal(err)
	}
	again, created, err = s.svc.Reserve(s.orders, "o1", lines(line("p2", 2), line("p1", 3)), exp)
	if err != nil || created || again.Status != inventory.ReservationCommitted {
		t.Fatalf("repeat after commit = %+v, created %v, err %v; want the committed reservation", again, created, err)
	}
	s.wantStock(t, "p1", 7, 0)
}

func testReserveMerges(t *testing.T, s suite) {
	s.add(t, "p1", 10)
	s.add(t, "p2", 10)
	r := s.reserve(t, "o1", lines(line("p1", 2), line("p2", 1), line("p1", 3)), s.expires())
	if fmt.Sprint(r.Lines) != fmt.Sprint(lines(line("p1", 5), line("p2", 1))) {
		t.Fatalf("lines = %+v, want p1 5 then p2 1", r.Lines)
	}
	s.wantStock(t, "p1", 10, 5)
	// The merged form is what a repeat is compared with.
	if _, created, err := s.svc.Reserve(s.orders, "o1", lines(line("p2", 1), line("p1", 5)), s.expires()); err != nil || created {
		t.Fatalf("repeat with the merged lines: created %v, err %v", created, err)
	}
	s.wantStock(t, "p1", 10, 5)
	s.wantStock(t, "p2", 10, 1)
}

func testReserveMismatch(t *testing.T, s suite) {
	s.add(t, "p1", 10)
	s.add(t, "p2", 10)
	s.reserve(t, "o1", lines(line("p1", 2)), s.expires())
	for _, l := range [][]inventory.Line{{line("p1", 3)}, {line("p2", 2)}, {line("p1", 2), line("p2", 1)}} {
		_, _, err := s.svc.Reserve(s.orders, "o1", l, s.expires())
		wantErr(t, fmt.Sprint("Reserve o1 again with ", l), err, shop.ErrConflict, inventory.CodeReservationMismatch)
	}
	s.wantStock(t, "p1", 10, 2)
	s.wantStock(t, "p2", 10, 0)
}

func testReserveAllOrNothing(t *testing.T, s suite) {
	s.add(t, "p1", 10)
	s.add(t, "p2", 1)
	_, _, err := s.svc.Reserve(s.orders, "o1", lines(line("p1", 4), line("p2", 2)), s.expires())
	wantErr(t, "Reserve more than available", err, shop.ErrConflict, inventory.CodeInsufficientStock)
	wantMention(t, "Reserve more than available", err, "p2")
	s.wantStock(t, "p1", 10, 0)
	s.wantStock(t, "p2", 1, 0)
	// The failed order left no reservation behind.
	_, err = s.svc.Release(s.orders, "o1")
	wantErr(t, "Release after a refused Reserve", err, shop.ErrNotFound, inventory.CodeReservationNotFound)

	// A product without any stock is short too.
	_, _, err = s.svc.Reserve(s.orders, "o1", lines(line("p1", 1), line("ghost", 1)), s.expires())
	wantErr(t, "Reserve of a product without stock", err, shop.ErrConflict, inventory.CodeInsufficientStock)
	wantMention(t, "Reserve of a product without stock", err, "ghost")
	s.wantStock(t, "p1", 10, 0)

	// Retrying with other lines is no mismatch: nothing was kept.
	s.reserve(t, "o1", lines(line("p1", 4), line("p2", 1)), s.expires())
	s.wantStock(t, "p1", 10, 4)
	s.wantStock(t, "p2", 1, 1)
}

func testReserveRepeatAfterExpiry(t *testing.T, s suite) {
	s.add(t, "p1", 10)
	s.reserve(t, "o1", lines(line("p1", 2)), s.expires())
	past := s.h.Now().Add(-time.Minute)
	r, created, err := s.svc.Reserve(s.orders, "o1", lines(line("p1", 2)), past)
	if err != nil || created || r.Status != inventory.ReservationHeld {
		t.Fatalf("repeat with a past expiry = %+v, created %v, err %v; want the held reservation", r, created, err)
	}
	_, _, err = s.svc.Reserve(s.orders, "o1", lines(line("p1", 3)), past)
	wantErr(t, "repeat with a past expiry and other lines", err, shop.ErrConflict, inventory.CodeReservationMismatch)
	_, _, err = s.svc.Reserve(s.orders, "o2", lines(line("p1", 2)), past)
	wantErr(t, "new reservation with a past expiry", err, shop.ErrInvalid, inventory.CodeInvalidExpiresAt)
	s.wantStock(t, "p1", 10, 2)
}

func testCommitAndRelease(t *testing.T, s suite) {
	s.add(t, "p1", 10)
	s.add(t, "p2", 10)
	s.reserve(t, "sold", lines(line("p1", 3), line("p2", 1)), s.expires())
	s.reserve(t, "back", lines(line("p1", 2)), s.expires())
	s.wantStock(t, "p1", 10, 5)

	r, err := s.svc.Commit(s.orders, "sold")
	wantStatus(t, "Commit", r, err, "sold", inventory.ReservationCommitted)
	if len(r.Lines) != 2 {
		t.Fatalf("committed lines = %+v", r.Lines)
	}
	s.wantStock(t, "p1", 7, 2)
	s.wantStock(t, "p2", 9, 0)
	r, err = s.svc.Commit(s.orders, "sold")
	wantStatus(t, "second Commit", r, err, "sold", inventory.ReservationCommitted)
	s.wantStock(t, "p1", 7, 2)
	_, err = s.svc.Release(s.orders, "sold")
	wantErr(t, "Release of a committed reservation", err, shop.ErrConflict, inventory.CodeReservationCommitted)
	s.wantStock(t, "p1", 7, 2)

	r, err = s.svc.Release(s.orders, "back")
	wantStatus(t, "Release", r, err, "back", inventory.ReservationReleased)
	s.wantStock(t, "p1", 7, 0)
	r, err = s.svc.Release(s.orders, "back")
	wantStatus(t, "second Release", r, err, "back", inventory.ReservationReleased)
	s.wantStock(t, "p1", 7, 0)

	_, err = s.svc.Commit(s.orders, "none")
	wantErr(t, "Commit of no reservation", err, shop.ErrNotFound, inventory.CodeReservationNotFound)
	_, err = s.svc.Release(s.orders, "none")
	wantErr(t, "Release of no reservation", err, shop.ErrNotFound, inventory.CodeReservationNotFound)
}

func testCommitAfterRelease(t *testing.T, s suite) {
	s.add(t, "p1", 5)
	s.add(t, "p2", 5)
	s.reserve(t, "o1", lines(line("p1", 3), line("p2", 2)), s.expires())
	if _, err := s.svc.Release(s.orders, "o1"); err != nil {
		t.Fatal(err)
	}
	// Someone else takes p2 meanwhile, leaving only 1.
	s.reserve(t, "o2", lines(line("p2", 4)), s.expires())
	_, err := s.svc.Commit(s.orders, "o1")
	wantErr(t, "Commit of a released reservation whose units are gone", err, shop.ErrConflict, inventory.CodeReservationReleased)
	wantMention(t, "Commit of a released reservation", err, "p2")
	// All or nothing: p1 was not taken either.
	s.wantStock(t, "p1", 5, 0)
	s.wantStock(t, "p2", 5, 4)

	if _, err := s.svc.Release(s.orders, "o2"); err != nil {
		t.Fatal(err)
	}
	r, err := s.svc.Commit(s.orders, "o1")
	wantStatus(t, "Commit once the units are back", r, err, "o1", inventory.ReservationCommitted)
	s.wantStock(t, "p1", 2, 0)
	s.wantStock(t, "p2", 3, 0)
}

func testReturn(t *testing.T, s suite) {
	s.add(t, "p1", 10)
	s.reserve(t, "o1", lines(line("p1", 3)), s.expires())
	_, err := s.svc.Return(s.orders, "o1")
	wantErr(t, "Return of a held reservation", err, shop.ErrConflict, inventory.CodeReservationNotCommitted)
	_, err = s.svc.Return(s.orders, "none")
	wantErr(t, "Return of no reservation", err, shop.ErrNotFound, inventory.CodeReservationNotFound)
	if _, err := s.svc.Commit(s.orders, "o1"); err != nil {
		t.Fatal(err)
	}
	s.wantStock(t, "p1", 7, 0)
	for range 2 { // the second return changes nothing
		r, err := s.svc.Return(s.orders, "o1")
		wantStatus(t, "Return", r, err, "o1", inventory.ReservationReturned)
		s.wantStock(t, "p1", 10, 0)
	}
	// A late repeat of the payment does not sell the units again, and a
	// returned reservation cannot be released.
	r, err := s.svc.Commit(s.orders, "o1")
	wantStatus(t, "Commit after Return", r, err, "o1", inventory.ReservationReturned)
	s.wantStock(t, "p1", 10, 0)
	_, err = s.svc.Release(s.orders, "o1")
	wantErr(t, "Release of a returned reservation", err, shop.ErrConflict, inventory.CodeReservationCommitted)

	s.reserve(t, "o2", lines(line("p1", 1)), s.expires())
	if _, err := s.svc.Release(s.orders, "o2"); err != nil {
		t.Fatal(err)
	}
	_, err = s.svc.Return(s.orders, "o2")
	wantErr(t, "Return of a released reservation", err, shop.ErrConflict, inventory.CodeReservationNotCommitted)
	s.wantStock(t, "p1", 10, 0)
}

func testListHeld(t *testing.T, s suite) {
	s.add(t, "p1", 100)
	// Reservations made at the cut-off or later are not listed.
	cutoff := s.h.Now()
	if p, err := s.svc.ListHeld(s.orders, cutoff, shop.PageRequest{}); err != nil || len(p.Items) != 0 || p.NextCursor != "" {
		t.Fatalf("ListHeld of an empty inventory = %+v, %v", p, err)
	}
	for _, o := range []string{"o3", "o1", "o5", "o2", "o4", "o6"} {
		s.reserve(t, o, lines(line("p1", 1)), s.expires())
	}
	if _, err := s.svc.Release(s.orders, "o2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.Commit(s.orders, "o6"); err != nil {
		t.Fatal(err)
	}
	if p, err := s.svc.ListHeld(s.orders, cutoff, shop.PageRequest{}); err != nil || len(p.Items) != 0 {
		t.Fatalf("held created before %v = %+v, %v, want none", cutoff, p, err)
	}
	var got []string
	pages := 0
	p := shop.PageRequest{Limit: 2}
	for {
		page, err := s.svc.ListHeld(s.orders, s.h.Now().Add(time.Second), p)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Items) > 2 {
			t.Fatalf("page of %d items for limit 2", len(page.Items))
		}
		for _, r := range page.Items {
			if r.Status != inventory.ReservationHeld || len(r.Lines) != 1 || r.Lines[0] != line("p1", 1) {
				t.Fatalf("listed %+v, want a held reservation with its line", r)
			}
			got = append(got, r.OrderID)
		}
		if page.NextCursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("ListHeld never ends")
		}
		p.Cursor = page.NextCursor
	}
	if want := "[o1 o3 o4 o5]"; fmt.Sprint(got) != want {
		t.Fatalf("held = %v, want %s", got, want)
	}
	if pages != 2 {
		t.Fatalf("%d pages of 2 for 4 reservations, want 2", pages)
	}
}

// testOversell races Buyers buyers for a tenth as many units: exactly that
// many reservations succeed, the rest are refused as insufficient stock.
func testOversell(t *testing.T, s suite) {
	buyers := s.h.Buyers
	units := int64(max(1, buyers/10))
	s.add(t, "p1", units)
	exp := s.expires()
	var (
		start     = make(chan struct{})
		wg        sync.WaitGroup
		won, lost atomic.Int64
		other     = make(chan error, buyers)
	)
	for i := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, created, err := s.svc.Reserve(s.orders, fmt.Sprintf("o%04d", i), lines(line("p1", 1)), exp)
			switch {
			case err == nil && created:
				won.Add(1)
			case err == nil:
				other <- fmt.Errorf("buyer %d: a new reservation reported created = false", i)
			case errors.Is(err, shop.ErrConflict) && shop.CodeOf(err) == inventory.CodeInsufficientStock:
				lost.Add(1)
			default:
				other <- fmt.Errorf("buyer %d: %w", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(other)
	for err := range other {
		t.Errorf("unexpected: %v", err)
	}
	if won.Load() != units || lost.Load() != int64(buyers)-units {
		t.Fatalf("%d reservations succeeded and %d were refused, want %d and %d", won.Load(), lost.Load(), units, int64(buyers)-units)
	}
	s.wantStock(t, "p1", units, units)
}

// testCommitReleaseRace races a commit against a release (twice each) on
// every reservation: each ends either sold or released, never both, and the
// stock says so.
func testCommitReleaseRace(t *testing.T, s suite) {
	const orders = 10
	s.add(t, "p1", 100)
	for i := range orders {
		s.reserve(t, fmt.Sprint("o", i), lines(line("p1", 2)), s.expires())
	}
	var wg sync.WaitGroup
	errs := make(chan error, orders*4)
	for i := range orders {
		id := fmt.Sprint("o", i)
		for range 2 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				if _, err := s.svc.Commit(s.orders, id); err != nil && shop.CodeOf(err) != inventory.CodeReservationReleased {
					errs <- fmt.Errorf("Commit %s: %w", id, err)
				}
			}()
			go func() {
				defer wg.Done()
				if _, err := s.svc.Release(s.orders, id); err != nil && shop.CodeOf(err) != inventory.CodeReservationCommitted {
					errs <- fmt.Errorf("Release %s: %w", id, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sold := int64(0)
	for i := range orders {
		id := fmt.Sprint("o", i)
		// Releasing again tells the final state without changing it.
		r, err := s.svc.Release(s.orders, id)
		switch {
		case shop.CodeOf(err) == inventory.CodeReservationCommitted:
			sold++
		case err == nil && r.Status == inventory.ReservationReleased:
		default:
			t.Fatalf("reservation %s ended %+v, %v; want committed or released", id, r, err)
		}
	}
	s.wantStock(t, "p1", 100-2*sold, 0)
}

func testExpiry(t *testing.T, s suite) {
	s.add(t, "p1", 10)
	ctx := context.Background()
	now := s.h.Now()
	short, long := now.Add(time.Minute), now.Add(time.Hour)
	for _, o := range []struct {
		id  string
		exp time.Time
	}{{"a", short}, {"b", short}, {"c", long}, {"paid", short}, {"gone", short}} {
		s.reserve(t, o.id, lines(line("p1", 1)), o.exp)
	}
	if _, err := s.svc.Commit(s.orders, "paid"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.Release(s.orders, "gone"); err != nil {
		t.Fatal(err)
	}
	s.wantStock(t, "p1", 9, 3)

	if n, err := s.expirer.ExpireReservations(ctx, short.Add(-time.Nanosecond)); err != nil || n != 0 {
		t.Fatalf("before the expiry: expired %d, err %v; want 0", n, err)
	}
	n, err := s.expirer.ExpireReservations(ctx, short)
	if err != nil || n != 2 {
		t.Fatalf("at the expiry: expired %d, err %v; want 2 (a and b)", n, err)
	}
	s.wantStock(t, "p1", 9, 1)
	if n, err := s.expirer.ExpireReservations(ctx, short); err != nil || n != 0 {
		t.Fatalf("second sweep: expired %d, err %v; want 0", n, err)
	}
	r, err := s.svc.Release(s.orders, "a")
	wantStatus(t, "Release of an expired reservation", r, err, "a", inventory.ReservationExpired)
	s.wantStock(t, "p1", 9, 1)
	page, err := s.svc.ListHeld(s.orders, s.h.Now().Add(time.Second), shop.PageRequest{})
	if err != nil || len(page.Items) != 1 || page.Items[0].OrderID != "c" {
		t.Fatalf("held after expiry = %+v, %v; want only c", page, err)
	}

	// Commit after expiry takes the units again while they are available...
	r, err = s.svc.Commit(s.orders, "a")
	wantStatus(t, "Commit after expiry", r, err, "a", inventory.ReservationCommitted)
	s.wantStock(t, "p1", 8, 1)
	// ...and fails, changing nothing, once they are gone.
	if _, err := s.svc.RemoveStock(s.admin, "p1", 7); err != nil {
		t.Fatal(err)
	}
	_, err = s.svc.Commit(s.orders, "b")
	wantErr(t, "Commit after expiry without units", err, shop.ErrConflict, inventory.CodeReservationReleased)
	s.wantStock(t, "p1", 1, 1)
}
