package http

import (
	"github.com/go-kit/kit/metrics"
	kitprometheus "github.com/go-kit/kit/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// ServiceMetrics are the per-method metrics a domain's instrumenting
// middleware records: a request counter and a latency histogram, both labelled
// by method and error code ("" on success).
type ServiceMetrics struct {
	Requests metrics.Counter
	Latency  metrics.Histogram
}

// NewServiceMetrics creates and registers on reg the metrics of one service,
// named kitshop_<service>_requests_total and
// kitshop_<service>_request_duration_seconds. Pass a registry of your own
// (prometheus.NewRegistry()), not the global one, so that several services in
// one process, or in one test binary, never collide.
func NewServiceMetrics(reg prometheus.Registerer, service string) (ServiceMetrics, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "kitshop", Subsystem: service, Name: "requests_total",
		Help: "Calls of the " + service + " service, by method and error code.",
	}, []string{"method", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "kitshop", Subsystem: service, Name: "request_duration_seconds",
		Help:    "Time spent in the " + service + " service, by method and error code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"method", "code"})
	for _, c := range []prometheus.Collector{requests, latency} {
		if err := reg.Register(c); err != nil {
			return ServiceMetrics{}, err
		}
	}
	return ServiceMetrics{Requests: kitprometheus.NewCounter(requests), Latency: kitprometheus.NewHistogram(latency)}, nil
}
