package order_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/order"
	"github.com/kitshop/shop/transport/inproc"
)

var (
	admin    = shop.Identity{UserID: "admin-1", Role: shop.RoleAdmin}
	alice    = shop.Identity{UserID: "alice", Role: shop.RoleCustomer}
	bob      = shop.Identity{UserID: "bob", Role: shop.RoleCustomer}
	asAdmin  = shop.WithIdentity(context.Background(), admin)
	asAlice  = shop.WithIdentity(context.Background(), alice)
	asBob    = shop.WithIdentity(context.Background(), bob)
	asNobody = context.Background()
)

// clock is a settable time source shared by the services under test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fixture is a real shop back end: catalog, inventory and order services on
// SQLite files, with order events flowing to inventory through the outbox
// and an in-process bus.
type fixture struct {
	t         *testing.T
	catalog   catalog.Service
	inventory inventory.Service
	invStore  *inventory.SQLiteStore
	store     *order.SQLiteStore
	orders    *order.Orders
	payments  *order.DevPayments
	clock     *clock
	bus       *inproc.Bus
}

func newFixture(t *testing.T, opts ...order.Option) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	catStore, err := catalog.OpenSQLiteStore(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catStore.Close() })
	invStore, err := inventory.OpenSQLiteStore(ctx, filepath.Join(dir, "inventory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { invStore.Close() })
	store, err := order.OpenSQLiteStore(ctx, filepath.Join(dir, "order.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })

	f := &fixture{t: t, clock: &clock{now: time.Now().UTC()}, store: store, invStore: invStore,
		payments: order.NewDevPayments(), bus: inproc.NewBus()}
	f.catalog = catalog.NewService(catStore)
	f.inventory = inventory.NewService(invStore)
	opts = append([]order.Option{order.WithClock(f.clock.Now)}, opts...)
	f.orders = order.NewService(store, f.catalog, f.inventory, f.payments, opts...)
	for typ, h := range inventory.EventHandlers(f.inventory, log.NewNopLogger()) {
		if err := f.bus.Subscribe(typ, h); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// product creates a product with stock and returns its ID.
func (f *fixture) product(sku string, price int64, currency string, stock int64) string {
	f.t.Helper()
	p, err := f.catalog.CreateProduct(asAdmin, catalog.NewProduct{SKU: sku, Name: "Product " + sku, Price: price, Currency: currency})
	if err != nil {
		f.t.Fatal(err)
	}
	if stock > 0 {
		if _, err := f.inventory.AddStock(asAdmin, p.ID, stock); err != nil {
			f.t.Fatal(err)
		}
	}
	return p.ID
}

func (f *fixture) stock(productID string) inventory.Stock {
	f.t.Helper()
	s, err := f.inventory.GetStock(asNobody, productID)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// deliver runs the outbox relay until every event is published.
func (f *fixture) deliver() {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.store.RunOutbox(ctx, f.bus, log.NewNopLogger()); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := f.store.PendingEvents(context.Background())
		if err != nil {
			f.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d events still pending", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantErr(t *testing.T, err error, kind *shop.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s/%s error, got nil", kind.Code(), code)
	}
	if !errors.Is(err, kind) || shop.CodeOf(err) != code {
		t.Fatalf("want %s/%s error, got %s/%s: %v", kind.Code(), code, shop.KindOf(err), shop.CodeOf(err), err)
	}
}

func wantStock(t *testing.T, s inventory.Stock, onHand, reserved int64) {
	t.Helper()
	if s.OnHand != onHand || s.Reserved != reserved || s.Available != onHand-reserved {
		t.Fatalf("stock = %+v, want on_hand %d reserved %d available %d", s, onHand, reserved, onHand-reserved)
	}
}

func TestPlaceOrderPricesReservesAndStoresPending(t *testing.T) {
	f := newFixture(t, order.WithTTL(10*time.Minute))
	mug := f.product("MUG", 1299, "USD", 10)
	tee := f.product("TEE", 2500, "USD", 5)

	o, err := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{
		{ProductID: mug, Quantity: 2}, {ProductID: tee, Quantity: 1}, {ProductID: mug, Quantity: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != order.StatusPending || o.UserID != "alice" || o.Currency != "USD" {
		t.Fatalf("order = %+v", o)
	}
	if o.Total != 3*1299+2500 {
		t.Fatalf("total = %d, want %d", o.Total, 3*1299+2500)
	}
	if len(o.Lines) != 2 || o.Lines[0].ProductID != mug || o.Lines[0].Quantity != 3 || o.Lines[0].UnitPrice != 1299 || o.Lines[0].Name != "Product MUG" {
		t.Fatalf("lines = %+v (repeated products must merge, in order of first appearance)", o.Lines)
	}
	if got := o.ExpiresAt.Sub(o.CreatedAt); got != 10*time.Minute {
		t.Fatalf("expires %s after creation, want 10m", got)
	}
	if len(o.History) != 1 || o.History[0].To != order.StatusPending || o.History[0].By != "alice" {
		t.Fatalf("history = %+v", o.History)
	}
	wantStock(t, f.stock(mug), 10, 3)
	wantStock(t, f.stock(tee), 5, 1)

	got, err := f.orders.GetOrder(asAlice, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != o.ID || got.Total != o.Total || len(got.Lines) != 2 || len(got.History) != 1 || !got.CreatedAt.Equal(o.CreatedAt) {
		t.Fatalf("stored order = %+v, want %+v", got, o)
	}

	// The price is a snapshot: a later price change does not alter the order.
	newPrice := int64(9999)
	if _, err := f.catalog.UpdateProduct(asAdmin, mug, catalog.ProductPatch{Price: &newPrice}); err != nil {
		t.Fatal(err)
	}
	got, _ = f.orders.GetOrder(asAlice, o.ID)
	if got.Lines[0].UnitPrice != 1299 {
		t.Fatalf("unit price changed to %d", got.Lines[0].UnitPrice)
	}
}

func TestPlaceOrderRefusesBadRequestsAndChangesNothing(t *testing.T) {
	f := newFixture(t)
	usd := f.product("USD1", 100, "USD", 5)
	eur := f.product("EUR1", 100, "EUR", 5)
	tests := []struct {
		name  string
		ctx   context.Context
		items []order.Item
		kind  *shop.Kind
		code  string
	}{
		{"anonymous", asNobody, []order.Item{{usd, 1}}, shop.ErrUnauthenticated, "missing_token"},
		{"admin is not a customer", asAdmin, []order.Item{{usd, 1}}, shop.ErrForbidden, "forbidden"},
		{"no items", asAlice, nil, shop.ErrInvalid, "invalid_items"},
		{"empty product id", asAlice, []order.Item{{"", 1}}, shop.ErrInvalid, "invalid_items"},
		{"zero quantity", asAlice, []order.Item{{usd, 0}}, shop.ErrInvalid, "invalid_quantity"},
		{"negative quantity", asAlice, []order.Item{{usd, -3}}, shop.ErrInvalid, "invalid_quantity"},
		{"huge quantity", asAlice, []order.Item{{usd, order.MaxQuantity + 1}}, shop.ErrInvalid, "invalid_quantity"},
		{"unknown product", asAlice, []order.Item{{usd, 1}, {"nope", 1}}, shop.ErrInvalid, "unknown_product"},
		{"mixed currencies", asAlice, []order.Item{{usd, 1}, {eur, 1}}, shop.ErrInvalid, "mixed_currency"},
		{"not enough stock", asAlice, []order.Item{{usd, 1}, {usd, 5}}, shop.ErrConflict, "insufficient_stock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.orders.PlaceOrder(tt.ctx, order.NewOrder{Items: tt.items})
			wantErr(t, err, tt.kind, tt.code)
		})
	}
	wantStock(t, f.stock(usd), 5, 0)
	wantStock(t, f.stock(eur), 5, 0)
	page, err := f.orders.ListOrders(asAdmin, shop.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 {
		t.Fatalf("refused requests stored %d orders", len(page.Items))
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := newFixture(t)
	p := f.product("IDEM", 500, "USD", 100)
	req := order.NewOrder{Items: []order.Item{{p, 2}}, IdempotencyKey: "key-1"}
	first, err := f.orders.PlaceOrder(asAlice, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.orders.PlaceOrder(asAlice, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID {
		t.Fatalf("retry created order %s, want the first one %s", again.ID, first.ID)
	}
	wantStock(t, f.stock(p), 100, 2)

	_, err = f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 3}}, IdempotencyKey: "key-1"})
	wantErr(t, err, shop.ErrConflict, "idempotency_key_reused")

	// Keys belong to one customer: bob's "key-1" is a new order.
	other, err := f.orders.PlaceOrder(asBob, req)
	if err != nil || other.ID == first.ID {
		t.Fatalf("bob's order = %v, %v; want a new order", other.ID, err)
	}

	// Concurrent retries with one key: one order, one reservation.
	var wg sync.WaitGroup
	ids := make([]string, 20)
	errs := make([]error, 20)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 1}}, IdempotencyKey: "burst"})
			ids[i], errs[i] = o.ID, err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil {
			t.Fatalf("retry %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("retry %d got order %s, retry 0 got %s", i, ids[i], ids[0])
		}
	}
	wantStock(t, f.stock(p), 100, 2+2+1)
}

func TestPayCommitsStockThroughTheOutbox(t *testing.T) {
	f := newFixture(t)
	p := f.product("PAY", 1000, "USD", 3)
	o, err := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 2}}})
	if err != nil {
		t.Fatal(err)
	}

	_, err = f.orders.PayOrder(asAlice, o.ID, "4242 4242 4242 4241")
	wantErr(t, err, shop.ErrInvalid, "invalid_card")
	_, err = f.orders.PayOrder(asAlice, o.ID, order.TestCardDeclined)
	wantErr(t, err, shop.ErrPaymentRequired, "card_declined")
	_, err = f.orders.PayOrder(asBob, o.ID, order.TestCardOK)
	wantErr(t, err, shop.ErrNotFound, "order_not_found")
	_, err = f.orders.PayOrder(asAdmin, o.ID, order.TestCardOK)
	wantErr(t, err, shop.ErrForbidden, "not_order_owner")
	if got, _ := f.orders.GetOrder(asAlice, o.ID); got.Status != order.StatusPending {
		t.Fatalf("failed payments changed the status to %s", got.Status)
	}

	paid, err := f.orders.PayOrder(asAlice, o.ID, "4242-4242-4242-4242")
	if err != nil {
		t.Fatal(err)
	}
	if paid.Status != order.StatusPaid || paid.PaymentID == "" {
		t.Fatalf("paid order = %+v", paid)
	}
	if h := paid.History[len(paid.History)-1]; h.From != order.StatusPaying || h.To != order.StatusPaid || h.By != "alice" {
		t.Fatalf("last history entry = %+v", h)
	}
	// The declined attempt is on record: pending -> paying -> pending.
	if h := paid.History[2]; h.From != order.StatusPaying || h.To != order.StatusPending || h.Reason != "card_declined" {
		t.Fatalf("history of the declined attempt = %+v", paid.History)
	}
	_, err = f.orders.PayOrder(asAlice, o.ID, order.TestCardOK)
	wantErr(t, err, shop.ErrConflict, "invalid_transition")
	if err != nil && err.Error() != "order is paid; it cannot become paid" {
		t.Fatalf("message %q must name both states", err.Error())
	}
	_, err = f.orders.CancelOrder(asAlice, o.ID)
	wantErr(t, err, shop.ErrConflict, "invalid_transition")

	wantStock(t, f.stock(p), 3, 2) // held until the event arrives
	f.deliver()
	wantStock(t, f.stock(p), 1, 0) // sold
	f.deliver()                    // a second pass publishes nothing new
	wantStock(t, f.stock(p), 1, 0)
}

func TestConcurrentPaymentsChargeOnce(t *testing.T) {
	f := newFixture(t)
	p := f.product("RACE", 1000, "USD", 3)
	o, err := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	var ok, conflict atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.orders.PayOrder(asAlice, o.ID, order.TestCardOK)
			switch {
			case err == nil:
				ok.Add(1)
			case shop.CodeOf(err) == "invalid_transition", shop.CodeOf(err) == "payment_in_progress":
				conflict.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || conflict.Load() != 9 {
		t.Fatalf("%d payments succeeded and %d conflicted; want 1 and 9", ok.Load(), conflict.Load())
	}
	got, _ := f.orders.GetOrder(asAlice, o.ID)
	if len(got.History) != 3 {
		t.Fatalf("history = %+v, want created, paying and paid once", got.History)
	}
	if n := len(f.payments.Payments()); n != 1 {
		t.Fatalf("%d charges, want 1", n)
	}
}

func TestCancelReleasesStock(t *testing.T) {
	f := newFixture(t)
	p := f.product("CXL", 1000, "USD", 4)
	o, err := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 4}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.orders.PlaceOrder(asBob, order.NewOrder{Items: []order.Item{{p, 1}}})
	wantErr(t, err, shop.ErrConflict, "insufficient_stock")

	_, err = f.orders.CancelOrder(asBob, o.ID)
	wantErr(t, err, shop.ErrNotFound, "order_not_found")
	c, err := f.orders.CancelOrder(asAlice, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != order.StatusCancelled {
		t.Fatalf("status = %s", c.Status)
	}
	f.deliver()
	wantStock(t, f.stock(p), 4, 0)
	if _, err := f.orders.PlaceOrder(asBob, order.NewOrder{Items: []order.Item{{p, 1}}}); err != nil {
		t.Fatalf("stock released by the cancellation is not available: %v", err)
	}
	_, err = f.orders.PayOrder(asAlice, o.ID, order.TestCardOK)
	wantErr(t, err, shop.ErrConflict, "invalid_transition")

	// An admin may cancel anyone's order.
	o2, _ := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 1}}})
	if _, err := f.orders.CancelOrder(asAdmin, o2.ID); err != nil {
		t.Fatal(err)
	}
}

func TestUnpaidOrdersExpireAndReleaseStock(t *testing.T) {
	f := newFixture(t, order.WithTTL(time.Minute))
	p := f.product("EXP", 1000, "USD", 2)
	o1, err := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Second)
	o2, err := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.orders.ExpireOrders(context.Background()); err != nil || n != 0 {
		t.Fatalf("expired %d (%v) before their time", n, err)
	}
	f.clock.Advance(31 * time.Second) // o1 is overdue, o2 is not
	n, err := f.orders.ExpireOrders(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("ExpireOrders = %d, %v; want 1", n, err)
	}
	got, _ := f.orders.GetOrder(asAlice, o1.ID)
	if got.Status != order.StatusExpired || got.History[len(got.History)-1].By != "system" {
		t.Fatalf("o1 = %s by %+v", got.Status, got.History)
	}
	f.deliver()
	wantStock(t, f.stock(p), 2, 1)

	// Paying an order whose time is up expires it instead of charging.
	f.clock.Advance(time.Minute)
	_, err = f.orders.PayOrder(asAlice, o2.ID, order.TestCardOK)
	wantErr(t, err, shop.ErrConflict, "order_expired")
	got, _ = f.orders.GetOrder(asAlice, o2.ID)
	if got.Status != order.StatusExpired {
		t.Fatalf("o2 = %s, want expired", got.Status)
	}
	f.deliver()
	wantStock(t, f.stock(p), 2, 0)
}

func TestStoreFailureReleasesTheReservation(t *testing.T) {
	f := newFixture(t)
	p := f.product("FAIL", 1000, "USD", 2)
	f.store.Close() // the order database fails from now on
	_, err := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 2}}})
	if err == nil {
		t.Fatal("order stored in a closed database")
	}
	wantStock(t, f.stock(p), 2, 0)
}

func TestInventoryDownIsUnavailableAndStoresNothing(t *testing.T) {
	f := newFixture(t)
	p := f.product("DOWN", 1000, "USD", 2)
	f.invStore.Close()
	_, err := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 1}}})
	wantErr(t, err, shop.ErrUnavailable, "inventory_unavailable")
	page, err := f.orders.ListOrders(asAdmin, shop.PageRequest{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("orders after a failed reservation: %v, %v", page.Items, err)
	}
}

func TestListAndVisibility(t *testing.T) {
	f := newFixture(t)
	p := f.product("LIST", 100, "USD", 1000)
	var aliceOrders []string
	for i := range 7 {
		ctx := asAlice
		if i%3 == 2 {
			ctx = asBob
		}
		o, err := f.orders.PlaceOrder(ctx, order.NewOrder{Items: []order.Item{{p, 1}}})
		if err != nil {
			t.Fatal(err)
		}
		if ctx == asAlice {
			aliceOrders = append(aliceOrders, o.ID)
		}
		time.Sleep(2 * time.Millisecond) // distinct ULID milliseconds keep the expected order exact
	}
	// Alice pages through her own orders, newest first, 2 at a time.
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, err := f.orders.ListOrders(asAlice, shop.PageRequest{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Items {
			if o.UserID != "alice" || len(o.History) != 1 {
				t.Fatalf("alice sees %+v", o)
			}
			seen = append(seen, o.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != len(aliceOrders) {
		t.Fatalf("alice saw %d orders, has %d", len(seen), len(aliceOrders))
	}
	for i := range seen {
		if seen[i] != aliceOrders[len(aliceOrders)-1-i] {
			t.Fatalf("order %d = %s, want newest first %v", i, seen[i], aliceOrders)
		}
	}
	all, err := f.orders.ListOrders(asAdmin, shop.PageRequest{Limit: 100})
	if err != nil || len(all.Items) != 7 {
		t.Fatalf("admin sees %d orders (%v), want 7", len(all.Items), err)
	}
	_, err = f.orders.GetOrder(asBob, aliceOrders[0])
	wantErr(t, err, shop.ErrNotFound, "order_not_found")
	if _, err := f.orders.GetOrder(asAdmin, aliceOrders[0]); err != nil {
		t.Fatal(err)
	}
	_, err = f.orders.ListOrders(asAlice, shop.PageRequest{Limit: 101})
	wantErr(t, err, shop.ErrInvalid, "invalid_limit")
	_, err = f.orders.ListOrders(asAlice, shop.PageRequest{Cursor: "???"})
	wantErr(t, err, shop.ErrInvalid, "invalid_cursor")
	_, err = f.orders.ListOrders(asNobody, shop.PageRequest{})
	wantErr(t, err, shop.ErrUnauthenticated, "missing_token")
}

func TestStatusTransitions(t *testing.T) {
	all := []order.Status{order.StatusPending, order.StatusPaying, order.StatusPaid, order.StatusCancelled, order.StatusExpired, order.StatusRefunded}
	allowed := map[[2]order.Status]bool{
		{order.StatusPending, order.StatusPaying}:    true,
		{order.StatusPending, order.StatusCancelled}: true,
		{order.StatusPending, order.StatusExpired}:   true,
		{order.StatusPaying, order.StatusPaid}:       true,
		{order.StatusPaying, order.StatusPending}:    true,
		{order.StatusPaid, order.StatusRefunded}:     true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := from.CanBecome(to); got != allowed[[2]order.Status{from, to}] {
				t.Errorf("%s -> %s allowed = %v", from, to, got)
			}
		}
	}
}

func TestDevPaymentsIsIdempotentByKey(t *testing.T) {
	ctx := context.Background()
	d := order.NewDevPayments()
	usd := shop.Money{Amount: 100, Currency: "USD"}
	_, err := d.Charge(ctx, order.Charge{OrderID: "o1", Amount: usd, CardNumber: order.TestCardOK})
	wantErr(t, err, shop.ErrInvalid, "missing_idempotency_key")
	a, err := d.Charge(ctx, order.Charge{IdempotencyKey: "o1/pay/1", OrderID: "o1", Amount: usd, CardNumber: order.TestCardOK})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := d.Charge(ctx, order.Charge{IdempotencyKey: "o1/pay/1", OrderID: "o1", Amount: usd, CardNumber: order.TestCardOK})
	c, _ := d.Charge(ctx, order.Charge{IdempotencyKey: "o2/pay/1", OrderID: "o2", Amount: usd, CardNumber: order.TestCardOK})
	if a != b || a.ID == c.ID {
		t.Fatalf("payments %+v %+v %+v: one key must give one payment, another key another", a, b, c)
	}
	_, err = d.Charge(ctx, order.Charge{IdempotencyKey: "o3/pay/1", OrderID: "o3", Amount: usd, CardNumber: order.TestCardDeclined})
	wantErr(t, err, shop.ErrPaymentRequired, "card_declined")
	// A decline is the key's answer too, so a retry cannot turn it into a charge.
	_, err = d.Charge(ctx, order.Charge{IdempotencyKey: "o3/pay/1", OrderID: "o3", Amount: usd, CardNumber: order.TestCardOK})
	wantErr(t, err, shop.ErrPaymentRequired, "card_declined")

	if p, err := d.LookupCharge(ctx, "o1/pay/1"); err != nil || p.ID != a.ID {
		t.Fatalf("lookup = %+v, %v, want %s", p, err, a.ID)
	}
	_, err = d.LookupCharge(ctx, "o3/pay/1")
	wantErr(t, err, shop.ErrNotFound, "payment_not_found")

	r1, err := d.Refund(ctx, order.Refund{PaymentID: a.ID, IdempotencyKey: "o1/refund", Amount: usd})
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := d.Refund(ctx, order.Refund{PaymentID: a.ID, IdempotencyKey: "o1/refund", Amount: usd})
	if r1 == "" || r1 != r2 {
		t.Fatalf("refund IDs %q %q: one key must refund once", r1, r2)
	}
	_, err = d.Refund(ctx, order.Refund{PaymentID: "pay_unknown", IdempotencyKey: "x/refund", Amount: usd})
	wantErr(t, err, shop.ErrNotFound, "payment_not_found")
	refunded := 0
	for _, p := range d.Payments() {
		if p.RefundID != "" {
			refunded++
		}
	}
	if n := len(d.Payments()); n != 2 || refunded != 1 {
		t.Fatalf("%d payments, %d refunded; want 2 and 1", n, refunded)
	}
}

func ExampleStatus_CanBecome() {
	fmt.Println(order.StatusPending.CanBecome(order.StatusPaying))
	fmt.Println(order.StatusPaying.CanBecome(order.StatusCancelled))
	// Output:
	// true
	// false
}

// A file-backed development provider remembers charges, declines and
// refunds across a restart.
func TestDevPaymentsFileSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "payments.db")
	d, err := order.OpenDevPayments(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	usd := shop.Money{Amount: 250, Currency: "USD"}
	paid, err := d.Charge(ctx, order.Charge{IdempotencyKey: "o1/pay/1", OrderID: "o1", Amount: usd, CardNumber: order.TestCardOK})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Charge(ctx, order.Charge{IdempotencyKey: "o2/pay/1", OrderID: "o2", Amount: usd, CardNumber: order.TestCardDeclined})
	wantErr(t, err, shop.ErrPaymentRequired, "card_declined")
	refundID, err := d.Refund(ctx, order.Refund{PaymentID: paid.ID, IdempotencyKey: "o1/refund", Amount: usd})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()

	d, err = order.OpenDevPayments(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if p, err := d.LookupCharge(ctx, "o1/pay/1"); err != nil || p.ID != paid.ID || p.RefundID != refundID || p.Amount != usd {
		t.Fatalf("charge after restart = %+v, %v", p, err)
	}
	_, err = d.Charge(ctx, order.Charge{IdempotencyKey: "o2/pay/1", OrderID: "o2", Amount: usd, CardNumber: order.TestCardOK})
	wantErr(t, err, shop.ErrPaymentRequired, "card_declined")
	if again, err := d.Refund(ctx, order.Refund{PaymentID: paid.ID, IdempotencyKey: "o1/refund", Amount: usd}); err != nil || again != refundID {
		t.Fatalf("refund after restart = %q, %v, want %q", again, err, refundID)
	}
	if n := len(d.Payments()); n != 1 {
		t.Fatalf("%d payments after restart, want 1", n)
	}
}
