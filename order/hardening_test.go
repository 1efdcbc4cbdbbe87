package order_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/inventory"
	"github.com/kitshop/shop/order"
)

var asService = shop.WithIdentity(context.Background(), shop.Identity{UserID: "order", Role: shop.RoleService})

// slowPayments is the development provider behind a network-like delay.
type slowPayments struct {
	*order.DevPayments
	delay time.Duration
}

func (p slowPayments) Charge(ctx context.Context, c order.Charge) (order.Payment, error) {
	time.Sleep(p.delay)
	return p.DevPayments.Charge(ctx, c)
}

// unrefundedCharges counts, per order, the charges the provider kept.
func unrefundedCharges(d *order.DevPayments) map[string]int {
	n := map[string]int{}
	for _, p := range d.Payments() {
		if p.RefundID == "" {
			n[p.OrderID]++
		}
	}
	return n
}

// checkMoney fails unless every paid order was charged exactly once and no
// other order kept a charge.
func checkMoney(t *testing.T, orders *order.Orders, d *order.DevPayments, ids []string) (paid int) {
	t.Helper()
	charged := unrefundedCharges(d)
	total := 0
	for _, id := range ids {
		o, err := orders.GetOrder(asAdmin, id)
		if err != nil {
			t.Fatal(err)
		}
		total += charged[id]
		switch {
		case o.Status == order.StatusPaid && charged[id] != 1:
			t.Errorf("order %s is paid with %d charges", id, charged[id])
		case o.Status != order.StatusPaid && charged[id] != 0:
			t.Errorf("order %s is %s but was charged %d times", id, o.Status, charged[id])
		case o.Status == order.StatusPaying:
			t.Errorf("order %s is still paying", id)
		}
		if o.Status == order.StatusPaid {
			paid++
		}
	}
	if total != paid {
		t.Errorf("%d charges kept for %d paid orders", total, paid)
	}
	return paid
}

func TestPayRacingCancelChargesOnlyPaidOrders(t *testing.T) {
	f := newFixture(t)
	dev := order.NewDevPayments()
	orders := order.NewService(f.store, f.catalog, f.inventory, slowPayments{dev, 20 * time.Millisecond}, order.WithClock(f.clock.Now))
	p := f.product("RACE-CXL", 500, "USD", 100)
	var ids []string
	for range 40 {
		o, err := orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 1}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	var wg sync.WaitGroup
	cancelled := make([]bool, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			_, err := orders.PayOrder(asAlice, id, order.TestCardOK)
			if err != nil && shop.KindOf(err) != shop.ErrConflict {
				t.Errorf("pay %s: %v", id, err)
			}
		})
		wg.Go(func() {
			time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
			_, err := orders.CancelOrder(asAlice, id)
			switch code := shop.CodeOf(err); {
			case err == nil:
				cancelled[i] = true
			case code == "payment_in_progress", code == "invalid_transition":
			default:
				t.Errorf("cancel %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	paid := checkMoney(t, orders, dev, ids)
	for i, id := range ids {
		o, _ := orders.GetOrder(asAdmin, id)
		if cancelled[i] != (o.Status == order.StatusCancelled) {
			t.Errorf("order %s: cancel answered ok=%v, status %s", id, cancelled[i], o.Status)
		}
	}
	f.deliver()
	wantStock(t, f.stock(p), int64(100-paid), 0)
	t.Logf("%d of %d orders paid, the rest cancelled", paid, len(ids))
}

func TestPayRacingExpiryChargesOnlyPaidOrders(t *testing.T) {
	f := newFixture(t)
	dev := order.NewDevPayments()
	const ttl = time.Minute
	orders := order.NewService(f.store, f.catalog, f.inventory, slowPayments{dev, 20 * time.Millisecond},
		order.WithClock(f.clock.Now), order.WithTTL(ttl))
	p := f.product("RACE-EXP", 500, "USD", 100)
	var ids []string
	for range 10 {
		o, err := orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 1}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	f.clock.Advance(ttl - 5*time.Millisecond)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			time.Sleep(time.Duration(rand.IntN(12)) * time.Millisecond)
			_, err := orders.PayOrder(asAlice, id, order.TestCardOK)
			if err != nil && shop.KindOf(err) != shop.ErrConflict {
				t.Errorf("pay %s: %v", id, err)
			}
		})
	}
	wg.Go(func() {
		for range 40 {
			f.clock.Advance(time.Millisecond)
			if _, err := orders.ExpireOrders(context.Background()); err != nil {
				t.Error(err)
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	// Orders whose payment held expiry back expire now if they were not paid.
	if _, err := orders.ExpireOrders(context.Background()); err != nil {
		t.Fatal(err)
	}
	paid := checkMoney(t, orders, dev, ids)
	f.deliver()
	wantStock(t, f.stock(p), int64(100-paid), 0)
	t.Logf("%d of %d orders paid, the rest expired", paid, len(ids))
}

// stalledPayments stalls every charge until release is closed. With take
// set it takes the money first; without, the charge never reaches the
// provider and fails once released, as a real provider's voided key would.
type stalledPayments struct {
	*order.DevPayments
	take    bool
	started chan struct{}
	release chan struct{}
}

func (p *stalledPayments) Charge(ctx context.Context, c order.Charge) (order.Payment, error) {
	var pay order.Payment
	var err error
	if p.take {
		pay, err = p.DevPayments.Charge(ctx, c)
	}
	close(p.started)
	<-p.release
	if !p.take {
		return order.Payment{}, shop.E(shop.ErrUnavailable, "", "connection reset")
	}
	return pay, err
}

// A payment interrupted by a crash is settled by the next process from the
// provider's record of its idempotency key: paid when the money was taken,
// pending (and payable again) when it was not.
func TestRecoverSettlesInterruptedPayments(t *testing.T) {
	for _, taken := range []bool{true, false} {
		t.Run(fmt.Sprintf("money taken %v", taken), func(t *testing.T) {
			f := newFixture(t)
			p := f.product("CRASH-PAY", 700, "USD", 5)
			stalled := &stalledPayments{DevPayments: order.NewDevPayments(), take: taken,
				started: make(chan struct{}), release: make(chan struct{})}
			before := order.NewService(f.store, f.catalog, f.inventory, stalled, order.WithClock(f.clock.Now))
			o, err := before.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 2}}})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { _, err := before.PayOrder(asAlice, o.ID, order.TestCardOK); done <- err }()
			<-stalled.started

			// Meanwhile the order cannot be cancelled, and does not expire.
			_, err = before.CancelOrder(asAlice, o.ID)
			wantErr(t, err, shop.ErrConflict, "payment_in_progress")
			f.clock.Advance(order.DefaultTTL + time.Minute)
			if n, err := before.ExpireOrders(context.Background()); err != nil || n != 0 {
				t.Fatalf("expired %d, %v while paying", n, err)
			}
			// The process that ran the charge knows it is live.
			if r, err := before.Recover(context.Background()); err != nil || r.PaymentsSettled != 0 {
				t.Fatalf("recover in the paying process = %+v, %v", r, err)
			}

			// The next process on the same database finds it interrupted.
			after := order.NewService(f.store, f.catalog, f.inventory, stalled.DevPayments, order.WithClock(f.clock.Now))
			r, err := after.Recover(context.Background())
			if err != nil || r.PaymentsSettled != 1 {
				t.Fatalf("recover = %+v, %v, want one payment settled", r, err)
			}
			got, _ := after.GetOrder(asAlice, o.ID)
			if taken {
				if got.Status != order.StatusPaid || got.PaymentID == "" {
					t.Fatalf("order after recovery = %s %q, want paid", got.Status, got.PaymentID)
				}
			} else if got.Status != order.StatusPending || got.History[len(got.History)-1].Reason != "payment_not_taken" {
				t.Fatalf("order after recovery = %s %+v, want pending", got.Status, got.History)
			}

			close(stalled.release)
			err = <-done
			if taken && err != nil {
				t.Fatalf("the interrupted pay = %v, want the paid order", err)
			}
			if !taken && shop.KindOf(err) != shop.ErrUnavailable {
				t.Fatalf("the interrupted pay = %v, want unavailable", err)
			}
			if !taken {
				// Expired meanwhile: the sweep takes it now the payment ended.
				if n, err := after.ExpireOrders(context.Background()); err != nil || n != 1 {
					t.Fatalf("expired %d, %v after the payment ended", n, err)
				}
			}
			checkMoney(t, after, stalled.DevPayments, []string{o.ID})
			f.deliver()
			if taken {
				wantStock(t, f.stock(p), 3, 0)
			} else {
				wantStock(t, f.stock(p), 5, 0)
			}
		})
	}
}

func TestRefund(t *testing.T) {
	f := newFixture(t)
	p := f.product("REFUND", 1200, "USD", 5)
	o, err := f.orders.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.orders.RefundOrder(asAdmin, o.ID)
	wantErr(t, err, shop.ErrConflict, "invalid_transition")
	if _, err := f.orders.PayOrder(asAlice, o.ID, order.TestCardOK); err != nil {
		t.Fatal(err)
	}
	f.deliver()
	wantStock(t, f.stock(p), 3, 0)
	_, err = f.orders.RefundOrder(asAlice, o.ID)
	wantErr(t, err, shop.ErrForbidden, "forbidden")

	results := make(chan error, 5)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { _, err := f.orders.RefundOrder(asAdmin, o.ID); results <- err })
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		switch {
		case err == nil:
			ok++
		case shop.CodeOf(err) != "invalid_transition":
			t.Errorf("concurrent refund: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d refunds succeeded, want 1", ok)
	}
	got, _ := f.orders.GetOrder(asAlice, o.ID)
	last := got.History[len(got.History)-1]
	if got.Status != order.StatusRefunded || got.RefundID == "" || last.From != order.StatusPaid || last.To != order.StatusRefunded || last.By != admin.UserID {
		t.Fatalf("refunded order = %+v", got)
	}
	if charged := unrefundedCharges(f.payments); charged[o.ID] != 0 || len(f.payments.Payments()) != 1 {
		t.Fatalf("after the refund: %v kept of %d payments", charged, len(f.payments.Payments()))
	}
	_, err = f.orders.RefundOrder(asAdmin, o.ID)
	wantErr(t, err, shop.ErrConflict, "invalid_transition")
	f.deliver()
	wantStock(t, f.stock(p), 5, 0) // the units are back on hand
}

// slowInventory is the real inventory whose reservations take a while, as
// over a network.
type slowInventory struct {
	inventory.Service
	delay time.Duration
}

func (s slowInventory) Reserve(ctx context.Context, orderID string, lines []inventory.Line, expiresAt time.Time) (inventory.Reservation, bool, error) {
	time.Sleep(s.delay)
	return s.Service.Reserve(ctx, orderID, lines, expiresAt)
}

func TestConcurrentRetriesOfOneKeyGetOneOrder(t *testing.T) {
	f := newFixture(t)
	orders := order.NewService(f.store, f.catalog, slowInventory{f.inventory, 20 * time.Millisecond}, f.payments, order.WithClock(f.clock.Now))
	p := f.product("LAST3", 900, "USD", 3)
	in := order.NewOrder{Items: []order.Item{{p, 3}}, IdempotencyKey: "checkout-1"}
	ids := make(chan string, 24)
	var wg sync.WaitGroup
	for range 24 {
		wg.Go(func() {
			o, err := orders.PlaceOrder(asAlice, in)
			if err != nil {
				t.Errorf("retry: %v", err)
				return
			}
			ids <- o.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]int{}
	for id := range ids {
		seen[id]++
	}
	if len(seen) != 1 {
		t.Fatalf("orders %v, want one", seen)
	}
	wantStock(t, f.stock(p), 3, 3)
	page, err := f.inventory.ListHeld(asService, f.clock.Now().Add(time.Hour), shop.PageRequest{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("held reservations = %+v, %v, want one", page, err)
	}
}

// stuckInventory reserves for real and then never answers, like a process
// that died between reserving stock and storing the order.
type stuckInventory struct {
	inventory.Service
	reserved chan struct{}
	dead     chan struct{}
}

func (s stuckInventory) Reserve(ctx context.Context, orderID string, lines []inventory.Line, expiresAt time.Time) (inventory.Reservation, bool, error) {
	r, created, err := s.Service.Reserve(ctx, orderID, lines, expiresAt)
	close(s.reserved)
	<-s.dead
	return r, created, fmt.Errorf("process died: %w", err)
}

func TestRecoverReleasesOrphanReservationsAndFreesKeys(t *testing.T) {
	f := newFixture(t)
	p := f.product("ORPHAN", 300, "USD", 10)
	// A reservation whose order was never stored.
	if _, _, err := f.inventory.Reserve(asService, "01GHOST", []inventory.Line{{ProductID: p, Quantity: 4}}, f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A pending order, whose reservation must stay.
	live, err := f.orders.PlaceOrder(asBob, order.NewOrder{Items: []order.Item{{p, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	// A keyed request that reserved and then died.
	stuck := stuckInventory{f.inventory, make(chan struct{}), make(chan struct{})}
	dying := order.NewService(f.store, f.catalog, stuck, f.payments, order.WithClock(f.clock.Now))
	in := order.NewOrder{Items: []order.Item{{p, 2}}, IdempotencyKey: "k1"}
	died := make(chan struct{})
	go func() { dying.PlaceOrder(asAlice, in); close(died) }()
	<-stuck.reserved
	wantStock(t, f.stock(p), 10, 7)

	restarted := order.NewService(f.store, f.catalog, f.inventory, f.payments, order.WithClock(f.clock.Now))
	_, err = restarted.PlaceOrder(asAlice, in)
	wantErr(t, err, shop.ErrConflict, "request_in_progress")

	f.clock.Advance(time.Second)
	r, err := restarted.Recover(context.Background())
	if err != nil || r.ReservationsReleased != 2 || r.KeysFreed != 1 {
		t.Fatalf("recover = %+v, %v, want 2 reservations released and 1 key freed", r, err)
	}
	wantStock(t, f.stock(p), 10, 1) // only the live order's unit
	if again, err := restarted.Recover(context.Background()); err != nil || again != (order.Recovery{}) {
		t.Fatalf("second recover = %+v, %v, want nothing to do", again, err)
	}

	o, err := restarted.PlaceOrder(asAlice, in)
	if err != nil {
		t.Fatalf("retry after recovery: %v", err)
	}
	wantStock(t, f.stock(p), 10, 3)
	close(stuck.dead)
	<-died
	if again, err := restarted.PlaceOrder(asAlice, in); err != nil || again.ID != o.ID {
		t.Fatalf("retry = %v, %v, want order %s", again.ID, err, o.ID)
	}
	if _, err := restarted.GetOrder(asBob, live.ID); err != nil {
		t.Fatal(err)
	}
	wantStock(t, f.stock(p), 10, 3)
}

// RunRecovery releases at start what a crash left, and keeps settling
// payments interrupted later, between its full runs.
func TestRunRecoveryAtStartAndLater(t *testing.T) {
	f := newFixture(t)
	p := f.product("RUN-RECOVERY", 400, "USD", 10)
	if _, _, err := f.inventory.Reserve(asService, "01GHOSTRUN", []inventory.Line{{ProductID: p, Quantity: 3}}, f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	stalled := &stalledPayments{DevPayments: order.NewDevPayments(), take: true,
		started: make(chan struct{}), release: make(chan struct{})}
	dying := order.NewService(f.store, f.catalog, f.inventory, stalled, order.WithClock(f.clock.Now))
	o, err := dying.PlaceOrder(asAlice, order.NewOrder{Items: []order.Item{{p, 2}}})
	if err != nil {
		t.Fatal(err)
	}

	f.clock.Advance(time.Second) // the ghost reservation predates the new process
	running := order.NewService(f.store, f.catalog, f.inventory, stalled.DevPayments, order.WithClock(f.clock.Now))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { running.RunRecovery(ctx, 20*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the orphan reservation released at start", func() bool { return f.stock(p).Reserved == 2 })

	// A payment interrupted after the start is settled by a later run.
	paid := make(chan error, 1)
	go func() { _, err := dying.PayOrder(asAlice, o.ID, order.TestCardOK); paid <- err }()
	<-stalled.started
	waitFor(t, "the interrupted payment settled", func() bool {
		got, err := running.GetOrder(asAlice, o.ID)
		return err == nil && got.Status == order.StatusPaid
	})
	close(stalled.release)
	if err := <-paid; err != nil {
		t.Fatalf("the interrupted pay = %v", err)
	}
	checkMoney(t, running, stalled.DevPayments, []string{o.ID})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
