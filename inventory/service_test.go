package inventory

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kitshop/shop"
)

// testClock is a settable clock for WithClock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestStore(t testing.TB) *SQLiteStore {
	t.Helper()
	st, err := OpenSQLiteStore(context.Background(), filepath.Join(t.TempDir(), "inventory.db"))
	if err != nil {
		t.Fatalf("OpenSQLiteStore: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fixture is a service on a fresh store with a test clock.
type fixture struct {
	store   *SQLiteStore
	clock   *testClock
	svc     Service
	expirer *Expirer
}

func newFixture(t testing.TB, opts ...Option) fixture {
	t.Helper()
	st := newTestStore(t)
	clock := newTestClock()
	opts = append([]Option{WithClock(clock.Now)}, opts...)
	return fixture{store: st, clock: clock, svc: NewService(st, opts...), expirer: NewExpirer(st, opts...)}
}

func as(role shop.Role) context.Context {
	return shop.WithIdentity(context.Background(), shop.Identity{UserID: "u-" + string(role), Role: role})
}

var (
	adminCtx    = as(shop.RoleAdmin)
	serviceCtx  = as(shop.RoleService)
	customerCtx = as(shop.RoleCustomer)
	anonCtx     = context.Background()
)

func (f fixture) add(t testing.TB, productID string, q int64) {
	t.Helper()
	if _, err := f.svc.AddStock(adminCtx, productID, q); err != nil {
		t.Fatalf("AddStock(%s, %d): %v", productID, q, err)
	}
}

func (f fixture) expires() time.Time { return f.clock.Now().Add(15 * time.Minute) }

func wantStock(t testing.TB, s Service, productID string, onHand, reserved int64) {
	t.Helper()
	got, err := s.GetStock(anonCtx, productID)
	if err != nil {
		t.Fatalf("GetStock(%s): %v", productID, err)
	}
	want := Stock{ProductID: productID, OnHand: onHand, Reserved: reserved, Available: onHand - reserved}
	if got != want {
		t.Fatalf("stock of %s = %+v, want %+v", productID, got, want)
	}
}

// wantErr fails unless err has the kind and code given.
func wantErr(t testing.TB, err error, kind *shop.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s/%s", kind.Code(), code)
	}
	if shop.KindOf(err) != kind || shop.CodeOf(err) != code {
		t.Fatalf("err = %v (kind %v, code %s), want %s/%s", err, shop.KindOf(err), shop.CodeOf(err), kind.Code(), code)
	}
}

func TestStockAddGetRemove(t *testing.T) {
	f := newFixture(t)
	_, err := f.svc.GetStock(anonCtx, "p1")
	wantErr(t, err, shop.ErrNotFound, CodeStockNotFound)

	st, err := f.svc.AddStock(adminCtx, "p1", 7)
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stock{ProductID: "p1", OnHand: 7, Available: 7}) {
		t.Fatalf("AddStock = %+v", st)
	}
	f.add(t, "p1", 3)
	wantStock(t, f.svc, "p1", 10, 0)

	st, err = f.svc.RemoveStock(adminCtx, "p1", 4)
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stock{ProductID: "p1", OnHand: 6, Available: 6}) {
		t.Fatalf("RemoveStock = %+v", st)
	}
	_, err = f.svc.RemoveStock(adminCtx, "missing", 1)
	wantErr(t, err, shop.ErrNotFound, CodeStockNotFound)
}

func TestRemoveStockBelowReserved(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 10)
	if _, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 6}}, f.expires()); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.RemoveStock(adminCtx, "p1", 5)
	wantErr(t, err, shop.ErrConflict, CodeInsufficientStock)
	if msg := err.Error(); !strings.Contains(msg, "p1") || !strings.Contains(msg, "only 4 are available") {
		t.Fatalf("message %q should name the product and the 4 available units", msg)
	}
	wantStock(t, f.svc, "p1", 10, 6)
	if _, err := f.svc.RemoveStock(adminCtx, "p1", 4); err != nil {
		t.Fatalf("removing exactly what is available: %v", err)
	}
	wantStock(t, f.svc, "p1", 6, 6)
}

func TestProductCheck(t *testing.T) {
	unknown := shop.E(shop.ErrNotFound, "product_not_found", "product nope not found")
	var checked []string
	f := newFixture(t, WithProductCheck(func(_ context.Context, id string) error {
		checked = append(checked, id)
		if id == "nope" {
			return unknown
		}
		return nil
	}))
	_, err := f.svc.AddStock(adminCtx, "nope", 5)
	if err != unknown {
		t.Fatalf("AddStock of unknown product: err = %v, want the check's error", err)
	}
	_, err = f.svc.GetStock(anonCtx, "nope")
	wantErr(t, err, shop.ErrNotFound, CodeStockNotFound)
	f.add(t, "p1", 5)
	if strings.Join(checked, ",") != "nope,p1" {
		t.Fatalf("checked %v, want [nope p1]", checked)
	}
	// Callers without the admin role never reach the check.
	f.svc.AddStock(customerCtx, "p2", 1)
	if len(checked) != 2 {
		t.Fatalf("check ran for a forbidden call: %v", checked)
	}
}

func TestRoles(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 10)
	exp := f.expires()
	calls := map[string]func(ctx context.Context) error{
		"AddStock":    func(ctx context.Context) error { _, err := f.svc.AddStock(ctx, "p1", 1); return err },
		"RemoveStock": func(ctx context.Context) error { _, err := f.svc.RemoveStock(ctx, "p1", 1); return err },
		"Reserve": func(ctx context.Context) error {
			_, _, err := f.svc.Reserve(ctx, "o-roles", []Line{{"p1", 1}}, exp)
			return err
		},
		"Commit":  func(ctx context.Context) error { _, err := f.svc.Commit(ctx, "o-roles"); return err },
		"Release": func(ctx context.Context) error { _, err := f.svc.Release(ctx, "o-roles"); return err },
	}
	allowed := map[string]shop.Role{"AddStock": shop.RoleAdmin, "RemoveStock": shop.RoleAdmin,
		"Reserve": shop.RoleService, "Commit": shop.RoleService, "Release": shop.RoleService}
	for name, call := range calls {
		if err := call(anonCtx); shop.KindOf(err) != shop.ErrUnauthenticated {
			t.Errorf("%s without identity: err = %v, want unauthenticated", name, err)
		}
		for _, role := range []shop.Role{shop.RoleCustomer, shop.RoleAdmin, shop.RoleService} {
			if role == allowed[name] {
				continue
			}
			if err := call(as(role)); shop.KindOf(err) != shop.ErrForbidden {
				t.Errorf("%s as %s: err = %v, want forbidden", name, role, err)
			}
		}
	}
	// Nothing the refused calls asked for happened.
	wantStock(t, f.svc, "p1", 10, 0)
	_, err := f.svc.Commit(serviceCtx, "o-roles")
	wantErr(t, err, shop.ErrNotFound, CodeReservationNotFound)
	// Reading stock needs no identity, and a bad token does not block it.
	if _, err := f.svc.GetStock(shop.WithAuthError(context.Background(), errors.New("bad token")), "p1"); err != nil {
		t.Fatalf("GetStock with a failed token: %v", err)
	}
}

func TestValidation(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 10)
	long := strings.Repeat("x", MaxIDLength+1)
	exp := f.expires()
	many := make([]Line, MaxLines+1)
	for i := range many {
		many[i] = Line{ProductID: "p1", Quantity: 1}
	}
	tests := []struct {
		name  string
		call  func() error
		code  string
		field string // the message must name it
	}{
		{"get empty product", func() error { _, err := f.svc.GetStock(anonCtx, ""); return err }, CodeInvalidProductID, "product_id"},
		{"get long product", func() error { _, err := f.svc.GetStock(anonCtx, long); return err }, CodeInvalidProductID, "product_id"},
		{"add zero", func() error { _, err := f.svc.AddStock(adminCtx, "p1", 0); return err }, CodeInvalidQuantity, "quantity"},
		{"add negative", func() error { _, err := f.svc.AddStock(adminCtx, "p1", -5); return err }, CodeInvalidQuantity, "quantity"},
		{"add too many", func() error { _, err := f.svc.AddStock(adminCtx, "p1", MaxQuantity+1); return err }, CodeInvalidQuantity, "quantity"},
		{"add empty product", func() error { _, err := f.svc.AddStock(adminCtx, "", 1); return err }, CodeInvalidProductID, "product_id"},
		{"remove zero", func() error { _, err := f.svc.RemoveStock(adminCtx, "p1", 0); return err }, CodeInvalidQuantity, "quantity"},
		{"remove too many", func() error { _, err := f.svc.RemoveStock(adminCtx, "p1", MaxQuantity+1); return err }, CodeInvalidQuantity, "quantity"},
		{"reserve no order", func() error { _, _, err := f.svc.Reserve(serviceCtx, "", []Line{{"p1", 1}}, exp); return err }, CodeInvalidOrderID, "order_id"},
		{"reserve long order", func() error { _, _, err := f.svc.Reserve(serviceCtx, long, []Line{{"p1", 1}}, exp); return err }, CodeInvalidOrderID, "order_id"},
		{"reserve no lines", func() error { _, _, err := f.svc.Reserve(serviceCtx, "o1", nil, exp); return err }, CodeInvalidLines, "lines"},
		{"reserve too many lines", func() error { _, _, err := f.svc.Reserve(serviceCtx, "o1", many, exp); return err }, CodeInvalidLines, "lines"},
		{"reserve empty product", func() error {
			_, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 1}, {"", 1}}, exp)
			return err
		}, CodeInvalidProductID, "lines[1].product_id"},
		{"reserve zero quantity", func() error {
			_, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 1}, {"p1", 0}}, exp)
			return err
		}, CodeInvalidQuantity, "lines[1].quantity"},
		{"reserve huge quantity", func() error {
			_, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", MaxQuantity + 1}}, exp)
			return err
		}, CodeInvalidQuantity, "lines[0].quantity"},
		{"reserve no expiry", func() error { _, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 1}}, time.Time{}); return err }, CodeInvalidExpiresAt, "expires_at"},
		{"reserve past expiry", func() error {
			_, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 1}}, f.clock.Now().Add(-time.Second))
			return err
		}, CodeInvalidExpiresAt, "expires_at"},
		{"commit no order", func() error { _, err := f.svc.Commit(serviceCtx, ""); return err }, CodeInvalidOrderID, "order_id"},
		{"release no order", func() error { _, err := f.svc.Release(serviceCtx, ""); return err }, CodeInvalidOrderID, "order_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			wantErr(t, err, shop.ErrInvalid, tc.code)
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("message %q does not name %s", err.Error(), tc.field)
			}
		})
	}
	// Bad input changed nothing.
	wantStock(t, f.svc, "p1", 10, 0)
	_, err := f.svc.Commit(serviceCtx, "o1")
	wantErr(t, err, shop.ErrNotFound, CodeReservationNotFound)
}

func TestReserveIsIdempotent(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 10)
	f.add(t, "p2", 10)
	lines := []Line{{"p2", 2}, {"p1", 3}}
	exp := f.expires()
	first, _, err := f.svc.Reserve(serviceCtx, "o1", lines, exp)
	if err != nil {
		t.Fatal(err)
	}
	if first.OrderID != "o1" || first.Status != ReservationHeld || len(first.Lines) != 2 ||
		first.Lines[0] != (Line{"p2", 2}) || first.Lines[1] != (Line{"p1", 3}) ||
		!first.CreatedAt.Equal(f.clock.Now()) || !first.ExpiresAt.Equal(exp) || first.ExpiresAt.Location() != time.UTC {
		t.Fatalf("first reservation = %+v", first)
	}
	f.clock.Advance(time.Minute)
	again, created, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 3}, {"p2", 2}}, exp.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Fatal("a repeated Reserve reported that it created the reservation")
	}
	if !again.CreatedAt.Equal(first.CreatedAt) || !again.ExpiresAt.Equal(first.ExpiresAt) || again.Status != ReservationHeld ||
		len(again.Lines) != 2 || again.Lines[0] != first.Lines[0] {
		t.Fatalf("repeat = %+v, want the first reservation %+v", again, first)
	}
	wantStock(t, f.svc, "p1", 10, 3)
	wantStock(t, f.svc, "p2", 10, 2)
}

func TestReserveMergesDuplicateLines(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 10)
	if _, created, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 2}}, f.expires()); err != nil || !created {
		t.Fatalf("Reserve: %v, created %v; want a created reservation", err, created)
	}
	r, _, err := f.svc.Reserve(serviceCtx, "o2", []Line{{"p1", 2}, {"p1", 3}}, f.expires())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Lines) != 1 || r.Lines[0] != (Line{"p1", 5}) {
		t.Fatalf("lines = %+v, want one line of 5", r.Lines)
	}
	wantStock(t, f.svc, "p1", 10, 7)
	// The merged form is what a repeat is compared with.
	if _, _, err := f.svc.Reserve(serviceCtx, "o2", []Line{{"p1", 5}}, f.expires()); err != nil {
		t.Fatalf("repeat with the merged lines: %v", err)
	}
	wantStock(t, f.svc, "p1", 10, 7)
}

func TestReserveMismatch(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 10)
	f.add(t, "p2", 10)
	if _, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 2}}, f.expires()); err != nil {
		t.Fatal(err)
	}
	for _, lines := range [][]Line{{{"p1", 3}}, {{"p2", 2}}, {{"p1", 2}, {"p2", 1}}} {
		_, _, err := f.svc.Reserve(serviceCtx, "o1", lines, f.expires())
		wantErr(t, err, shop.ErrConflict, CodeReservationMismatch)
	}
	wantStock(t, f.svc, "p1", 10, 2)
	wantStock(t, f.svc, "p2", 10, 0)
}

func TestReserveAllOrNothing(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 10)
	f.add(t, "p2", 1)
	_, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 4}, {"p2", 2}}, f.expires())
	wantErr(t, err, shop.ErrConflict, CodeInsufficientStock)
	if !strings.Contains(err.Error(), "p2") || !strings.Contains(err.Error(), "1 available") {
		t.Fatalf("message %q should name p2 and its 1 available unit", err.Error())
	}
	wantStock(t, f.svc, "p1", 10, 0)
	wantStock(t, f.svc, "p2", 1, 0)
	// The failed order left no reservation behind: a retry with other lines is no mismatch.
	_, err = f.svc.Release(serviceCtx, "o1")
	wantErr(t, err, shop.ErrNotFound, CodeReservationNotFound)

	// A product without any stock row is short too.
	_, _, err = f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 1}, {"ghost", 1}}, f.expires())
	wantErr(t, err, shop.ErrConflict, CodeInsufficientStock)
	if !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("message %q should name the product", err.Error())
	}
	wantStock(t, f.svc, "p1", 10, 0)

	if _, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 4}, {"p2", 1}}, f.expires()); err != nil {
		t.Fatalf("reserving what is there: %v", err)
	}
	wantStock(t, f.svc, "p1", 10, 4)
	wantStock(t, f.svc, "p2", 1, 1)
}

func TestCommitAndRelease(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 10)
	f.add(t, "p2", 10)
	exp := f.expires()
	if _, _, err := f.svc.Reserve(serviceCtx, "sold", []Line{{"p1", 3}, {"p2", 1}}, exp); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Reserve(serviceCtx, "back", []Line{{"p1", 2}}, exp); err != nil {
		t.Fatal(err)
	}
	wantStock(t, f.svc, "p1", 10, 5)

	r, err := f.svc.Commit(serviceCtx, "sold")
	if err != nil || r.Status != ReservationCommitted || len(r.Lines) != 2 {
		t.Fatalf("Commit = %+v, %v", r, err)
	}
	wantStock(t, f.svc, "p1", 7, 2)
	wantStock(t, f.svc, "p2", 9, 0)
	// Committing again changes nothing.
	r, err = f.svc.Commit(serviceCtx, "sold")
	if err != nil || r.Status != ReservationCommitted {
		t.Fatalf("second Commit = %+v, %v", r, err)
	}
	wantStock(t, f.svc, "p1", 7, 2)
	_, err = f.svc.Release(serviceCtx, "sold")
	wantErr(t, err, shop.ErrConflict, CodeReservationCommitted)
	wantStock(t, f.svc, "p1", 7, 2)

	r, err = f.svc.Release(serviceCtx, "back")
	if err != nil || r.Status != ReservationReleased {
		t.Fatalf("Release = %+v, %v", r, err)
	}
	wantStock(t, f.svc, "p1", 7, 0)
	r, err = f.svc.Release(serviceCtx, "back")
	if err != nil || r.Status != ReservationReleased {
		t.Fatalf("second Release = %+v, %v", r, err)
	}
	wantStock(t, f.svc, "p1", 7, 0)

	_, err = f.svc.Commit(serviceCtx, "none")
	wantErr(t, err, shop.ErrNotFound, CodeReservationNotFound)
	_, err = f.svc.Release(serviceCtx, "none")
	wantErr(t, err, shop.ErrNotFound, CodeReservationNotFound)
}

func TestCommitAfterReleaseRetakesStock(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 5)
	f.add(t, "p2", 5)
	if _, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 3}, {"p2", 2}}, f.expires()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Release(serviceCtx, "o1"); err != nil {
		t.Fatal(err)
	}
	// Someone else takes p2 meanwhile, leaving only 1.
	if _, _, err := f.svc.Reserve(serviceCtx, "o2", []Line{{"p2", 4}}, f.expires()); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Commit(serviceCtx, "o1")
	wantErr(t, err, shop.ErrConflict, CodeReservationReleased)
	if !strings.Contains(err.Error(), "p2") {
		t.Fatalf("message %q should name p2", err.Error())
	}
	// All or nothing: p1 was not taken either.
	wantStock(t, f.svc, "p1", 5, 0)
	wantStock(t, f.svc, "p2", 5, 4)

	if _, err := f.svc.Release(serviceCtx, "o2"); err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.Commit(serviceCtx, "o1")
	if err != nil || r.Status != ReservationCommitted {
		t.Fatalf("Commit once stock is back = %+v, %v", r, err)
	}
	wantStock(t, f.svc, "p1", 2, 0)
	wantStock(t, f.svc, "p2", 3, 0)
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 10)
	ctx := context.Background()
	short := f.clock.Now().Add(time.Minute)
	long := f.clock.Now().Add(time.Hour)
	for _, o := range []struct {
		id  string
		exp time.Time
	}{{"a", short}, {"b", short}, {"c", long}, {"paid", short}, {"gone", short}} {
		if _, _, err := f.svc.Reserve(serviceCtx, o.id, []Line{{"p1", 1}}, o.exp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Commit(serviceCtx, "paid"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Release(serviceCtx, "gone"); err != nil {
		t.Fatal(err)
	}
	wantStock(t, f.svc, "p1", 9, 3)

	if n, err := f.expirer.ExpireReservations(ctx, short.Add(-time.Nanosecond)); err != nil || n != 0 {
		t.Fatalf("before expiry: n = %d, err = %v", n, err)
	}
	n, err := f.expirer.ExpireReservations(ctx, short)
	if err != nil || n != 2 {
		t.Fatalf("at expiry: n = %d, err = %v, want 2", n, err)
	}
	wantStock(t, f.svc, "p1", 9, 1)
	if n, _ := f.expirer.ExpireReservations(ctx, short); n != 0 {
		t.Fatalf("second sweep expired %d", n)
	}
	r, err := f.svc.Release(serviceCtx, "a")
	if err != nil || r.Status != ReservationExpired {
		t.Fatalf("Release of expired = %+v, %v; want it unchanged", r, err)
	}
	wantStock(t, f.svc, "p1", 9, 1)

	// Commit after expiry takes the units again while they are available...
	r, err = f.svc.Commit(serviceCtx, "a")
	if err != nil || r.Status != ReservationCommitted {
		t.Fatalf("Commit after expiry = %+v, %v", r, err)
	}
	wantStock(t, f.svc, "p1", 8, 1)
	// ...and fails, changing nothing, once they are gone.
	if _, err := f.svc.RemoveStock(adminCtx, "p1", 7); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Commit(serviceCtx, "b")
	wantErr(t, err, shop.ErrConflict, CodeReservationReleased)
	wantStock(t, f.svc, "p1", 1, 1)
}

func TestExpiryInBatches(t *testing.T) {
	f := newFixture(t)
	f.expirer.batch = 3
	f.add(t, "p1", 100)
	for i := range 10 {
		if _, _, err := f.svc.Reserve(serviceCtx, "o"+string(rune('a'+i)), []Line{{"p1", 2}}, f.expires()); err != nil {
			t.Fatal(err)
		}
	}
	n, err := f.expirer.ExpireReservations(context.Background(), f.expires())
	if err != nil || n != 10 {
		t.Fatalf("n = %d, err = %v, want 10", n, err)
	}
	wantStock(t, f.svc, "p1", 100, 0)
}

func TestRunExpiry(t *testing.T) {
	var logs logRecorder
	f := newFixture(t, WithLogger(&logs))
	f.add(t, "p1", 10)
	if _, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 4}}, f.expires()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		f.expirer.RunExpiry(ctx, 10*time.Millisecond)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := f.svc.GetStock(anonCtx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if st.Reserved == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RunExpiry did not expire the reservation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunExpiry did not return after its context was cancelled")
	}
	if !logs.contains("expired", 1) {
		t.Fatalf("no log line with expired=1: %v", logs.lines())
	}
}

// TestSchemaRefusesOverselling checks the database's own guard, beneath the
// service: no statement can leave reserved above on hand or below zero.
func TestSchemaRefusesOverselling(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 3)
	ctx := context.Background()
	for _, stmt := range []string{
		`UPDATE stock SET reserved = 4 WHERE product_id = 'p1'`,
		`UPDATE stock SET reserved = -1 WHERE product_id = 'p1'`,
		`UPDATE stock SET on_hand = -1 WHERE product_id = 'p1'`,
	} {
		if _, err := f.store.db.W.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
			t.Errorf("%s: err = %v, want a CHECK constraint failure", stmt, err)
		}
	}
	wantStock(t, f.svc, "p1", 3, 0)
}

func TestStoreSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inv.db")
	ctx := context.Background()
	st, err := OpenSQLiteStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	svc := NewService(st)
	if _, err := svc.AddStock(adminCtx, "p1", 5); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	if _, _, err := svc.Reserve(serviceCtx, "o1", []Line{{"p1", 2}}, exp); err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = OpenSQLiteStore(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st.Close()
	svc = NewService(st)
	wantStock(t, svc, "p1", 5, 2)
	r, err := svc.Commit(serviceCtx, "o1")
	if err != nil || !r.ExpiresAt.Equal(exp) {
		t.Fatalf("Commit after reopen = %+v, %v", r, err)
	}
}

// An option given a value it cannot use makes NewService (and NewExpirer)
// panic with a message naming the option.
func TestOptionsPanicOnUnusableValues(t *testing.T) {
	st := newTestStore(t)
	for _, tc := range []struct {
		name    string
		opt     Option
		expirer bool // NewExpirer uses the option too
	}{
		{"WithClock", WithClock(nil), true},
		{"WithProductCheck", WithProductCheck(nil), false},
		{"WithLogger", WithLogger(nil), true},
	} {
		news := map[string]func(){"NewService": func() { NewService(st, tc.opt) }}
		if tc.expirer {
			news["NewExpirer"] = func() { NewExpirer(st, tc.opt) }
		}
		for name, make := range news {
			func() {
				defer func() {
					msg, _ := recover().(string)
					if !strings.Contains(msg, tc.name) {
						t.Errorf("%s(%s(nil)) panicked with %q, want a message naming %s", name, tc.name, msg, tc.name)
					}
				}()
				make()
			}()
		}
	}
	// Building the option alone does not panic; nil stores do.
	_ = WithClock(nil)
	for name, make := range map[string]func(){
		"NewService": func() { NewService(nil) },
		"NewExpirer": func() { NewExpirer(nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s(nil) did not panic", name)
				}
			}()
			make()
		}()
	}
}

// A paid order whose units went to others after its hold lapsed is logged
// by the service itself (WithLogger), at error level, with the order.
func TestLateCommitWithoutUnitsIsLogged(t *testing.T) {
	var logs logRecorder
	f := newFixture(t, WithLogger(&logs))
	f.add(t, "p1", 2)
	if _, _, err := f.svc.Reserve(serviceCtx, "late", []Line{{"p1", 2}}, f.expires()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Release(serviceCtx, "late"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Reserve(serviceCtx, "other", []Line{{"p1", 1}}, f.expires()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Commit(serviceCtx, "other"); err != nil {
		t.Fatal(err)
	}
	if got := logs.lines(); len(got) != 0 {
		t.Fatalf("ordinary calls logged %v", got)
	}
	_, err := f.svc.Commit(shop.WithRequestID(serviceCtx, "req-7"), "late")
	wantErr(t, err, shop.ErrConflict, CodeReservationReleased)
	recs := logs.lines()
	if len(recs) != 1 || recs[0]["level"] != "error" || recs[0]["order_id"] != "late" || recs[0]["request_id"] != "req-7" {
		t.Fatalf("log = %v, want one error line for order late", recs)
	}
}

// A repeat of a reservation still finds it once its expiry has passed; only
// a new reservation needs an expiry in the future.
func TestReserveRepeatAfterExpiresAt(t *testing.T) {
	f := newFixture(t)
	f.add(t, "p1", 5)
	exp := f.clock.Now().Add(time.Minute)
	if _, _, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 2}}, exp); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	r, created, err := f.svc.Reserve(serviceCtx, "o1", []Line{{"p1", 2}}, exp)
	if err != nil || created || r.Status != ReservationHeld || !r.ExpiresAt.Equal(exp) {
		t.Fatalf("repeat after its expiry = %+v, created %v, err %v", r, created, err)
	}
	_, _, err = f.svc.Reserve(serviceCtx, "o2", []Line{{"p1", 2}}, exp)
	wantErr(t, err, shop.ErrInvalid, CodeInvalidExpiresAt)
	wantStock(t, f.svc, "p1", 5, 2)
}
