package shop

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-kit/kit/metrics"
	kitprometheus "github.com/go-kit/kit/metrics/prometheus"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// ServiceMetrics are the per-method metrics a domain's instrumenting
// middleware records: a request counter and a latency histogram, both
// labelled by method and error code ("" on success). Any go-kit metrics
// fit; NewServiceMetrics makes Prometheus ones.
type ServiceMetrics struct {
	Requests metrics.Counter
	Latency  metrics.Histogram

	// children caches the Prometheus series of each method and code, when
	// NewServiceMetrics made the pair: Record then skips go-kit's label
	// maps, which cost more than the call being measured on a fast read.
	children *sync.Map // "method\x00code" -> series
	vecs     *vecs
}

// series is one method's and code's pair of Prometheus metrics.
type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
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
	m := ServiceMetrics{Requests: kitprometheus.NewCounter(requests), Latency: kitprometheus.NewHistogram(latency), children: &sync.Map{}}
	m.vecs = &vecs{requests: requests, latency: latency}
	return m, nil
}

// vecs are the Prometheus vectors behind a pair made by NewServiceMetrics.
type vecs struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// Record counts a finished call and observes its duration in seconds, both
// labelled "method" and "code" (CodeOf the error, "" on success).
func (m ServiceMetrics) Record(method string, begin time.Time, err error) {
	code := ""
	if err != nil {
		code = CodeOf(err)
	}
	if m.vecs != nil {
		key := method + "\x00" + code
		v, ok := m.children.Load(key)
		if !ok {
			v, _ = m.children.LoadOrStore(key, series{
				requests: m.vecs.requests.WithLabelValues(method, code),
				latency:  m.vecs.latency.WithLabelValues(method, code),
			})
		}
		s := v.(series)
		s.requests.Inc()
		s.latency.Observe(time.Since(begin).Seconds())
		return
	}
	m.Requests.With("method", method, "code", code).Add(1)
	m.Latency.With("method", method, "code", code).Observe(time.Since(begin).Seconds())
}

// LogCall writes one line for a finished call: the method, the caller's
// fields kv, the request ID, how long the call took and its error. The line
// is at info level, and at warn level when the error is not the caller's
// fault (no kind, or ErrUnavailable); transports log a 500 at error level
// themselves.
func LogCall(ctx context.Context, logger log.Logger, method string, begin time.Time, err error, kv ...any) {
	fields := make([]any, 0, len(kv)+10)
	lvl := level.InfoValue()
	if err != nil && (KindOf(err) == nil || errors.Is(err, ErrUnavailable)) {
		lvl = level.WarnValue()
	}
	fields = append(fields, level.Key(), lvl, "method", method)
	fields = append(fields, kv...)
	fields = append(fields, "request_id", RequestIDFrom(ctx), "took", time.Since(begin), "err", err)
	logger.Log(fields...)
}
