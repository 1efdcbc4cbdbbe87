package app

import (
	"context"
	"time"

	"github.com/go-kit/kit/metrics"
	kitprometheus "github.com/go-kit/kit/metrics/prometheus"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop/order"
)

// OpsSampleInterval is how often OpsMetrics reads the stores.
const OpsSampleInterval = 5 * time.Second

// OpsMetrics are the gauges that answer an operator's questions about a
// service's state rather than its requests: the outbox backlog and the age
// of its oldest event, the events parked as dead letters, the reservations
// held and the units they hold, and the orders by status. Each is a go-kit
// gauge, read from the stores every OpsSampleInterval by Run. Add what the
// process has, then Run it.
type OpsMetrics struct {
	logger           log.Logger
	outboxPending    metrics.Gauge
	outboxOldest     metrics.Gauge
	parked           metrics.Gauge
	heldReservations metrics.Gauge
	reservedUnits    metrics.Gauge
	orders           metrics.Gauge
	samplers         []func(ctx context.Context) error
}

// NewOpsMetrics registers the gauges on reg.
func NewOpsMetrics(reg prometheus.Registerer, logger log.Logger) (*OpsMetrics, error) {
	gauge := func(name, help string, labels ...string) (metrics.Gauge, error) {
		gv := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "kitshop", Name: name, Help: help}, labels)
		if err := reg.Register(gv); err != nil {
			return nil, err
		}
		return kitprometheus.NewGauge(gv), nil
	}
	m := &OpsMetrics{logger: logger}
	var err error
	for _, g := range []struct {
		dst        *metrics.Gauge
		name, help string
		labels     []string
	}{
		{&m.outboxPending, "outbox_pending_events", "Events written to a service's outbox and not yet confirmed by the transport.", []string{"source"}},
		{&m.outboxOldest, "outbox_oldest_pending_age_seconds", "Age of the oldest event waiting in a service's outbox; 0 when none waits.", []string{"source"}},
		{&m.parked, "inbox_parked_events", "Events a consumer gave up on, parked for an operator to replay (GET /admin/dead-letters).", []string{"consumer"}},
		{&m.heldReservations, "inventory_reservations_held", "Reservations held for orders not yet paid, cancelled or expired.", nil},
		{&m.reservedUnits, "inventory_units_reserved", "Units of stock held by those reservations.", nil},
		{&m.orders, "orders", "Orders by status.", []string{"status"}},
	} {
		if *g.dst, err = gauge(g.name, g.help, g.labels...); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Outbox samples the outbox of the service source ("order").
func (m *OpsMetrics) Outbox(source string, store interface {
	OutboxBacklog(ctx context.Context) (int, time.Time, error)
}) {
	m.samplers = append(m.samplers, func(ctx context.Context) error {
		n, oldest, err := store.OutboxBacklog(ctx)
		if err != nil {
			return err
		}
		age := 0.0
		if n > 0 && !oldest.IsZero() {
			age = max(time.Since(oldest).Seconds(), 0)
		}
		m.outboxPending.With("source", source).Set(float64(n))
		m.outboxOldest.With("source", source).Set(age)
		return nil
	})
}

// Parked samples the dead letters of consumer, as counted by parked (an
// inbox's Parked).
func (m *OpsMetrics) Parked(consumer string, parked func(ctx context.Context) (int, error)) {
	m.samplers = append(m.samplers, func(ctx context.Context) error {
		n, err := parked(ctx)
		if err != nil {
			return err
		}
		m.parked.With("consumer", consumer).Set(float64(n))
		return nil
	})
}

// Reservations samples the inventory's held reservations.
func (m *OpsMetrics) Reservations(store interface {
	Held(ctx context.Context) (int, int, error)
}) {
	m.samplers = append(m.samplers, func(ctx context.Context) error {
		held, units, err := store.Held(ctx)
		if err != nil {
			return err
		}
		m.heldReservations.Set(float64(held))
		m.reservedUnits.Set(float64(units))
		return nil
	})
}

// Orders samples the orders by status. Counting reads the whole orders
// table, so it runs every sixth sample (every 30 s) only.
func (m *OpsMetrics) Orders(store interface {
	CountByStatus(ctx context.Context) (map[order.Status]int, error)
}) {
	every := 0
	m.samplers = append(m.samplers, func(ctx context.Context) error {
		every++
		if every%6 != 1 {
			return nil
		}
		counts, err := store.CountByStatus(ctx)
		if err != nil {
			return err
		}
		for _, st := range []order.Status{order.StatusPending, order.StatusPaying, order.StatusPaid,
			order.StatusCancelled, order.StatusExpired, order.StatusRefunded} {
			m.orders.With("status", string(st)).Set(float64(counts[st]))
		}
		return nil
	})
}

// Sample reads every store once.
func (m *OpsMetrics) Sample(ctx context.Context) {
	for _, s := range m.samplers {
		if err := s(ctx); err != nil && ctx.Err() == nil {
			level.Warn(m.logger).Log("msg", "could not sample an operations metric", "err", err)
		}
	}
}

// Run samples at once, then every OpsSampleInterval until ctx is done.
func (m *OpsMetrics) Run(ctx context.Context) {
	t := time.NewTicker(OpsSampleInterval)
	defer t.Stop()
	for {
		m.Sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
