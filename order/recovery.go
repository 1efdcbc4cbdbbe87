package order

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/log/level"
	"github.com/kitshop/shop"
)

// Recovery reports what one Recover run repaired.
type Recovery struct {
	// PaymentsSettled counts orders caught mid-payment that were settled:
	// paid if the provider took the money, pending again if not.
	PaymentsSettled int
	// ReservationsReleased counts reservations held for orders that were
	// never stored (or are no longer pending) and were given back.
	ReservationsReleased int
	// KeysFreed counts idempotency keys claimed by requests that never
	// stored their order, freed so that a retry places it afresh.
	KeysFreed int
}

// Recover repairs what a crash (or a failure in the middle of a request)
// left behind, touching only what no request of this process is working on:
//
//   - an order left paying is settled by asking the payment provider about
//     its idempotency key: paid (with its order.paid event) if the money was
//     taken, pending if not;
//   - a reservation held in inventory for an order that does not exist, or
//     that was cancelled or expired, is released, so reserved stock matches
//     the pending orders again;
//   - an idempotency key claimed for an order that was never stored is freed.
//
// Run it when the service starts and now and then afterwards (RunRecovery);
// every step is idempotent, so running it twice or concurrently with
// requests is safe. A payment the provider cannot settle yet does not hold
// back the other steps; a failing inventory stops the run. Either way the
// error says what is left, and Recovery what was done.
func (o *Orders) Recover(ctx context.Context) (Recovery, error) {
	s := o.s
	r, unsettled := o.settlePayments(ctx)
	if errors.Is(unsettled, errStore) {
		return r, unsettled
	}
	var err error
	if r.ReservationsReleased, err = s.releaseOrphans(ctx); err != nil {
		return r, errors.Join(unsettled, err)
	}
	if r.KeysFreed, err = s.freeKeys(ctx); err != nil {
		return r, errors.Join(unsettled, err)
	}
	return r, unsettled
}

// settle is the cheap part of Recover that RunRecovery runs often:
// interrupted payments and unused idempotency keys.
func (o *Orders) settle(ctx context.Context) (Recovery, error) {
	r, unsettled := o.settlePayments(ctx)
	if errors.Is(unsettled, errStore) {
		return r, unsettled
	}
	var err error
	if r.KeysFreed, err = o.s.freeKeys(ctx); err != nil {
		return r, errors.Join(unsettled, err)
	}
	return r, unsettled
}

// errStore marks a failure of the order store itself in settlePayments,
// which stops a recovery run.
var errStore = errors.New("order store failed")

// settlePayments settles the orders left paying that no request of this
// process is paying. The error is the last payment the provider could not
// settle yet, or a store failure (wrapping errStore).
func (o *Orders) settlePayments(ctx context.Context) (Recovery, error) {
	s := o.s
	var (
		r         Recovery
		unsettled error // the last payment that could not be settled
	)
	ids, err := s.store.Paying(ctx)
	if err != nil {
		return r, fmt.Errorf("%w: %w", errStore, err)
	}
	for _, id := range ids {
		if s.paying.has(id) {
			continue
		}
		ord, err := s.get(ctx, id)
		if err != nil {
			return r, fmt.Errorf("%w: %w", errStore, err)
		}
		if ord.Status != StatusPaying {
			continue
		}
		if _, _, err := s.resolvePayment(ctx, ord, systemActor); err != nil {
			unsettled = fmt.Errorf("order %s: %w", id, err)
			continue
		}
		r.PaymentsSettled++
	}
	return r, unsettled
}

// releaseOrphans releases the held reservations whose order was never
// stored, or is cancelled or expired, and returns how many it released.
func (s *orderService) releaseOrphans(ctx context.Context) (int, error) {
	svcCtx := asService(ctx)
	// Reservations made from now on belong to requests of this process,
	// which the placing set covers; the cut-off only bounds the listing.
	cutoff := s.now()
	released := 0
	page := shop.PageRequest{Limit: shop.MaxLimit}
	for {
		held, err := s.inventory.ListHeld(svcCtx, cutoff, page)
		if err != nil {
			return released, s.dependencyError(ctx, "inventory", CodeInventoryUnavailable, err)
		}
		for _, res := range held.Items {
			// In flight first, then the database: a placement leaves the
			// placing set only after its order was stored (or its stock
			// given back), so this order never misses a live one.
			if s.placing.has(res.OrderID) {
				continue
			}
			ord, err := s.store.Get(ctx, res.OrderID)
			switch {
			case errors.Is(err, shop.ErrNotFound):
			case err != nil:
				return released, err
			case ord.Status == StatusCancelled || ord.Status == StatusExpired:
				// Its event is on the way too; releasing twice is harmless.
			default:
				continue
			}
			if _, err := s.inventory.Release(svcCtx, res.OrderID); err != nil && !errors.Is(err, shop.ErrConflict) && !errors.Is(err, shop.ErrNotFound) {
				return released, s.dependencyError(ctx, "inventory", CodeInventoryUnavailable, err)
			}
			released++
		}
		if held.NextCursor == "" {
			return released, nil
		}
		page.Cursor = held.NextCursor
	}
}

// freeKeys drops the idempotency keys claimed for orders that were never
// stored and are not being placed now. It runs after releaseOrphans, which
// gave back whatever stock those orders held.
func (s *orderService) freeKeys(ctx context.Context) (int, error) {
	claims, err := s.store.UnusedClaims(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range claims {
		if s.placing.has(c.OrderID) {
			continue
		}
		if err := s.store.DropClaim(ctx, c); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// RunRecovery calls Recover at once, and again within two seconds after a
// failed run, until one run succeeds; from then on it settles interrupted
// payments and frees unused idempotency keys every interval (cheap: an
// index holds the orders being paid), and runs the whole of Recover, which
// reads every held reservation, only every sixtieth interval (hourly by
// default). A reservation orphaned while the process runs (its order could
// not be stored and its release failed too) is rare and expires in
// inventory anyway; one left by a crash is released by the run at start.
// Each run that repaired something is logged, and so is each failure.
func (o *Orders) RunRecovery(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	recovered := false
	for tick := 0; ; tick++ {
		var (
			r   Recovery
			err error
		)
		if !recovered || tick%60 == 0 {
			r, err = o.Recover(ctx)
			recovered = recovered || err == nil
		} else {
			r, err = o.settle(ctx)
		}
		wait := every
		if err != nil && ctx.Err() == nil {
			level.Error(o.s.logger).Log("msg", "recovery failed; trying again", "err", err)
			if !recovered {
				wait = min(every, 2*time.Second)
			}
		}
		if r != (Recovery{}) {
			level.Info(o.s.logger).Log("msg", "recovered after a failure", "payments_settled", r.PaymentsSettled,
				"reservations_released", r.ReservationsReleased, "keys_freed", r.KeysFreed)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
