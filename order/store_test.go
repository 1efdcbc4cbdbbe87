package order_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/catalog"
	"github.com/kitshop/shop/internal/testkit"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/order"
	_ "modernc.org/sqlite" // the "sqlite" driver, for a database of the caller's own
)

// NewSQLiteStore runs on a database the caller opened and migrated, its
// outbox included, and closing the store leaves that database open.
func TestNewSQLiteStore(t *testing.T) {
	ctx := context.Background()
	// A busy timeout, as NewSQLiteStore advises: the relay writes beside
	// the store's own reads and writes.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "own.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	st := order.NewSQLiteStore(db)
	if _, err := st.Get(ctx, "x"); err == nil || shop.KindOf(err) != nil {
		t.Fatalf("read before Migrate: %v, want a plain error", err)
	}
	if err := order.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := order.Migrate(ctx, db); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if _, err := st.Get(ctx, "x"); !errors.Is(err, shop.ErrNotFound) || shop.CodeOf(err) != order.CodeOrderNotFound {
		t.Fatalf("read after Migrate: %v, want order_not_found", err)
	}

	f := newFixture(t) // for a catalog and an inventory
	orders := order.NewService(st, f.catalog, f.inventory, order.NewDevPayments())
	p := f.product("OWN", 400, "EUR", 3)
	o, err := orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := orders.PayOrder(asAlice, o.ID, order.TestCardOK); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PendingEvents(ctx); err != nil || n != 2 {
		t.Fatalf("pending events after placing and paying = %d, %v, want 2", n, err)
	}
	rec := &testkit.Recorder{}
	relayCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { st.RunOutbox(relayCtx, rec, log.NewNopLogger()); close(done) }()
	testkit.WaitRelayed(t, st.PendingEvents, rec, 2)
	stop()
	<-done
	events := rec.Events()
	if len(events) != 2 || events[0].Type != shop.EventOrderCreated || events[1].Type != shop.EventOrderPaid {
		t.Fatalf("published %+v, want order.created and order.paid for %s", events, o.ID)
	}
	for _, e := range events {
		if e.Source != order.EventSource || e.Subject != o.ID {
			t.Fatalf("published %+v, want it from %s about %s", e, order.EventSource, o.ID)
		}
	}
	var data shop.OrderEventData
	if err := json.Unmarshal(events[1].Data, &data); err != nil || data.OrderID != o.ID || data.UserID != alice.UserID ||
		data.Status != string(order.StatusPaid) || data.Total != (shop.Money{Amount: 800, Currency: "EUR"}) {
		t.Fatalf("event data = %+v, %v", data, err)
	}

	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := orders.CancelOrder(asAlice, o.ID); err == nil {
		t.Fatal("a change after Close succeeded")
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the caller's database after Close: %d orders, %v", n, err)
	}
	st2 := order.NewSQLiteStore(db)
	defer st2.Close()
	if got, err := st2.Get(ctx, o.ID); err != nil || got.Status != order.StatusPaid || len(got.History) != 3 {
		t.Fatalf("a second store on the database: %+v, %v", got, err)
	}
}

// The claims of idempotency keys keep the promises the Store interface
// makes on the SQLite store.
func TestSQLiteStoreClaims(t *testing.T) {
	ctx := context.Background()
	st, err := order.OpenSQLiteStore(ctx, filepath.Join(t.TempDir(), "order.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := order.Claim{UserID: "alice", Key: "k1", RequestHash: "h1", OrderID: "o1", ClaimedAt: now}
	if ok, err := st.ClaimKey(ctx, c); !ok || err != nil {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	if ok, err := st.ClaimKey(ctx, order.Claim{UserID: "alice", Key: "k1", RequestHash: "h2", OrderID: "o2", ClaimedAt: now}); ok || err != nil {
		t.Fatalf("second claim of one key = %v, %v, want false", ok, err)
	}
	if ok, err := st.ClaimKey(ctx, order.Claim{UserID: "bob", Key: "k1", RequestHash: "h1", OrderID: "o3", ClaimedAt: now}); !ok || err != nil {
		t.Fatalf("another customer's equal key = %v, %v, want claimed", ok, err)
	}
	got, ok, err := st.KeyClaim(ctx, "alice", "k1")
	if err != nil || !ok || got != c {
		t.Fatalf("KeyClaim = %+v %v %v, want %+v", got, ok, err, c)
	}
	if _, ok, err := st.KeyClaim(ctx, "alice", "nope"); ok || err != nil {
		t.Fatalf("KeyClaim of an unknown key = %v, %v", ok, err)
	}
	unused, err := st.UnusedClaims(ctx)
	if err != nil || len(unused) != 2 {
		t.Fatalf("UnusedClaims = %+v, %v, want both", unused, err)
	}

	// A claim for another order, or whose order is stored, stays.
	if err := st.DropClaim(ctx, order.Claim{UserID: "alice", Key: "k1", OrderID: "o2"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, order.Order{ID: "o1", UserID: "alice", Status: order.StatusPending, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		History: []order.StatusChange{{To: order.StatusPending, By: "alice", At: now}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.DropClaim(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.KeyClaim(ctx, "alice", "k1"); !ok {
		t.Fatal("the claim of a stored order was dropped")
	}
	// A claim whose order was never stored goes.
	if err := st.DropClaim(ctx, order.Claim{UserID: "bob", Key: "k1", OrderID: "o3"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.KeyClaim(ctx, "bob", "k1"); ok {
		t.Fatal("the claim of an unstored order stayed")
	}
	if unused, err := st.UnusedClaims(ctx); err != nil || len(unused) != 0 {
		t.Fatalf("UnusedClaims = %+v, %v, want none", unused, err)
	}
}

// Step.Apply moves the order by the state machine without touching the
// order it was given, and EventFor announces what inventory must hear.
func TestStepApplyAndEventFor(t *testing.T) {
	at := time.Now().UTC()
	o := order.Order{ID: "o1", UserID: "alice", Status: order.StatusPending, Total: 500, Currency: "USD",
		History: make([]order.StatusChange, 1, 4)}
	o.History[0] = order.StatusChange{To: order.StatusPending, By: "alice", At: at}

	paying, err := order.Step{To: order.StatusPaying, By: "alice", At: at, NewAttempt: true}.Apply(o)
	if err != nil || paying.Status != order.StatusPaying || paying.PaymentAttempts != 1 || len(paying.History) != 2 {
		t.Fatalf("pending -> paying = %+v, %v", paying, err)
	}
	if o.Status != order.StatusPending || o.PaymentAttempts != 0 || len(o.History) != 1 {
		t.Fatalf("Apply changed its input: %+v", o)
	}
	other, _ := order.Step{To: order.StatusCancelled, By: "bob", At: at}.Apply(o)
	if paying.History[1].To != order.StatusPaying || other.History[1].To != order.StatusCancelled {
		t.Fatalf("two steps from one order share a history: %+v, %+v", paying.History, other.History)
	}
	if _, ok, err := order.EventFor(paying); ok || err != nil {
		t.Fatalf("becoming paying announced an event (%v, %v)", ok, err)
	}
	paid, err := order.Step{To: order.StatusPaid, By: "alice", At: at, PaymentID: "pay_1", Reason: "r"}.Apply(paying)
	if err != nil || paid.PaymentID != "pay_1" || paid.History[2] != (order.StatusChange{From: order.StatusPaying, To: order.StatusPaid, By: "alice", At: at, Reason: "r"}) {
		t.Fatalf("paying -> paid = %+v, %v", paid, err)
	}
	e, ok, err := order.EventFor(paid)
	if err != nil || !ok || e.Type != shop.EventOrderPaid || e.Subject != "o1" || e.ID == "" {
		t.Fatalf("EventFor(paid) = %+v, %v, %v", e, ok, err)
	}

	_, err = order.Step{To: order.StatusCancelled, By: "alice", At: at}.Apply(paying)
	wantErr(t, err, shop.ErrConflict, order.CodePaymentInProgress)
	_, err = order.Step{To: order.StatusPaying, By: "alice", At: at}.Apply(paid)
	wantErr(t, err, shop.ErrConflict, order.CodeInvalidTransition)
	refuse := errors.New("refused")
	if _, err := (order.Step{To: order.StatusPaying, Check: func(order.Order) error { return refuse }}).Apply(o); err != refuse {
		t.Fatalf("a refusing Check gave %v", err)
	}
}

// BenchmarkPlaceOrder measures placing an order of two lines on SQLite
// stores: the catalog reads, the inventory reservation and the order's
// transaction, each writing its events to its outbox, with many goroutines
// competing for the writers.
func BenchmarkPlaceOrder(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	catStore, err := catalog.OpenSQLiteStore(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer catStore.Close()
	invStore, err := inventory.OpenSQLiteStore(ctx, filepath.Join(dir, "inventory.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer invStore.Close()
	store, err := order.OpenSQLiteStore(ctx, filepath.Join(dir, "order.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cat, inv := catalog.NewService(catStore), inventory.NewService(invStore)
	orders := order.NewService(store, cat, inv, order.NewDevPayments())
	var items []order.Item
	for _, sku := range []string{"B-1", "B-2"} {
		p, err := cat.CreateProduct(asAdmin, catalog.NewProduct{SKU: sku, Name: "Bench " + sku, Price: 100, Currency: "EUR"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := inv.AddStock(asAdmin, p.ID, inventory.MaxQuantity); err != nil {
			b.Fatal(err)
		}
		items = append(items, order.Item{ProductID: p.ID, Quantity: 1})
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := orders.PlaceOrder(asAlice, order.NewOrder{Items: items}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
