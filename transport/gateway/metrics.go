package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series.
type metrics struct {
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	upstreamErrors *prometheus.CounterVec
	retries        *prometheus.CounterVec
	breakerState   *prometheus.GaugeVec
	rateLimited    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kitshop", Subsystem: "gateway", Name: "requests_total",
			Help: "Requests the gateway answered, by route (\"GET /products/{id}\", or \"unmatched\") and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "kitshop", Subsystem: "gateway", Name: "request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer, by route and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "status"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kitshop", Subsystem: "gateway", Name: "upstream_errors_total",
			Help: "Failed attempts on upstreams, by service and reason (refused, timeout, bad_response, breaker_open, no_instance, status_5xx).",
		}, []string{"service", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kitshop", Subsystem: "gateway", Name: "upstream_retries_total",
			Help: "Requests sent again to another instance after a 502 or 503, by service.",
		}, []string{"service"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "kitshop", Subsystem: "gateway", Name: "breaker_state",
			Help: "State of the circuit breaker of each upstream instance: 0 closed, 1 half-open, 2 open. The instance is named \"<service>-<n>\", never by its address (the log line \"instance found\" gives it).",
		}, []string{"service", "instance"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kitshop", Subsystem: "gateway", Name: "rate_limited_total",
			Help: "Requests refused with 429, by route class and scope (ip or user).",
		}, []string{"class", "scope"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.upstreamErrors, m.retries, m.breakerState, m.rateLimited} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: register metrics (one gateway per registry): %w", err)
		}
	}
	return m, nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.upstreamErrors, m.retries, m.breakerState, m.rateLimited} {
		reg.Unregister(c)
	}
}
