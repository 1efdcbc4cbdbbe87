package inventory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kitshop/shop"
)

// The race of 200 buyers for the units of one product (and of 50 over HTTP)
// is the ConcurrentReserveCannotOversell case of the conformance suite
// (conformance_test.go), run on every store and transport.

// TestInvariantUnderMixedLoad runs reservations, commits, releases, expiry
// and stock changes at once, then checks that the stock rows agree with the
// reservations: on_hand = added - removed - committed and reserved = held.
func TestInvariantUnderMixedLoad(t *testing.T) {
	f := newFixture(t)
	products := []string{"p1", "p2", "p3"}
	const initial = 150
	added := map[string]*atomic.Int64{}
	removed := map[string]*atomic.Int64{}
	for _, p := range products {
		f.add(t, p, initial)
		added[p], removed[p] = new(atomic.Int64), new(atomic.Int64)
		added[p].Store(initial)
	}
	expectedErr := func(err error) bool {
		if err == nil {
			return true
		}
		switch shop.CodeOf(err) {
		case CodeInsufficientStock, CodeReservationReleased, CodeReservationCommitted:
			return true
		}
		return false
	}
	sweepAt := f.clock.Now().Add(30 * time.Minute)

	var (
		start    = make(chan struct{})
		wg       sync.WaitGroup
		errs     = make(chan error, 1000)
		reserved atomic.Int64
	)
	run := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn()
		}()
	}
	check := func(what string, err error) {
		if !expectedErr(err) {
			errs <- fmt.Errorf("%s: %w", what, err)
		}
	}
	for i := range 300 {
		run(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			var lines []Line
			for _, p := range products {
				if q := rng.Int64N(4); q > 0 {
					lines = append(lines, Line{p, q})
				}
			}
			if len(lines) == 0 {
				lines = []Line{{"p1", 1}}
			}
			exp := f.clock.Now().Add(time.Hour)
			if i%3 == 0 {
				exp = f.clock.Now().Add(time.Minute) // expired by the sweeps below
			}
			order := fmt.Sprintf("o%03d", i)
			_, _, err := f.svc.Reserve(serviceCtx, order, lines, exp)
			check("reserve "+order, err)
			if err != nil {
				return
			}
			reserved.Add(1)
			switch i % 5 {
			case 0:
				_, err = f.svc.Commit(serviceCtx, order)
				check("commit "+order, err)
			case 1:
				_, err = f.svc.Release(serviceCtx, order)
				check("release "+order, err)
			case 2: // released, then paid late: commit must take the units again or refuse
				_, err = f.svc.Release(serviceCtx, order)
				check("release "+order, err)
				_, err = f.svc.Commit(serviceCtx, order)
				check("late commit "+order, err)
			case 3: // commit and release racing each other, and repeated
				var inner sync.WaitGroup
				for range 2 {
					inner.Add(2)
					go func() { defer inner.Done(); _, err := f.svc.Commit(serviceCtx, order); check("commit "+order, err) }()
					go func() { defer inner.Done(); _, err := f.svc.Release(serviceCtx, order); check("release "+order, err) }()
				}
				inner.Wait()
			}
			// case 4: left held
		})
	}
	for i := range 60 {
		p := products[i%len(products)]
		run(func() {
			if i%3 == 0 {
				if _, err := f.svc.AddStock(adminCtx, p, 2); err != nil {
					errs <- err
					return
				}
				added[p].Add(2)
				return
			}
			_, err := f.svc.RemoveStock(adminCtx, p, 1)
			check("remove "+p, err)
			if err == nil {
				removed[p].Add(1)
			}
		})
	}
	for range 5 {
		run(func() {
			for range 4 {
				if _, err := f.expirer.ExpireReservations(context.Background(), sweepAt); err != nil {
					errs <- err
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A last sweep expires the short reservations that were made after the
	// concurrent ones ran.
	if _, err := f.expirer.ExpireReservations(context.Background(), sweepAt); err != nil {
		t.Fatal(err)
	}
	if reserved.Load() < 50 { // of 300; how many succeed depends on how removals interleave
		t.Fatalf("only %d reservations succeeded; the load did not exercise much", reserved.Load())
	}

	// What the reservations say, per product and status.
	byStatus := map[string]map[ReservationStatus]int64{}
	rows, err := f.store.db.R.Query(`
		SELECT l.product_id, r.status, SUM(l.quantity)
		FROM reservation_lines l JOIN reservations r USING (order_id)
		GROUP BY l.product_id, r.status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	statuses := map[ReservationStatus]bool{}
	for rows.Next() {
		var p string
		var s ReservationStatus
		var q int64
		if err := rows.Scan(&p, &s, &q); err != nil {
			t.Fatal(err)
		}
		if byStatus[p] == nil {
			byStatus[p] = map[ReservationStatus]int64{}
		}
		byStatus[p][s] = q
		statuses[s] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []ReservationStatus{ReservationHeld, ReservationCommitted, ReservationReleased, ReservationExpired} {
		if !statuses[s] {
			t.Errorf("no reservation ended %s; the load should reach every status", s)
		}
	}
	for _, p := range products {
		onHand := added[p].Load() - removed[p].Load() - byStatus[p][ReservationCommitted]
		wantStock(t, f.svc, p, onHand, byStatus[p][ReservationHeld])
	}
}

// BenchmarkReserve measures one reservation (a write transaction of two
// lines) with many goroutines competing for the single writer.
func BenchmarkReserve(b *testing.B) {
	f := newFixture(b)
	f.add(b, "p1", MaxQuantity)
	f.add(b, "p2", MaxQuantity)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("o%d", n.Add(1))
			if _, _, err := f.svc.Reserve(serviceCtx, id, []Line{{"p1", 1}, {"p2", 1}}, f.expires()); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGetStock measures a stock read from the reader pool.
func BenchmarkGetStock(b *testing.B) {
	f := newFixture(b)
	f.add(b, "p1", 10)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.svc.GetStock(anonCtx, "p1"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
