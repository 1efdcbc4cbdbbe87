package http

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition, such as a database ping.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// HealthHandler answers /healthz: 200 whenever the process can serve HTTP.
func HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}

// ReadyHandler answers /readyz: 200 when every check passes within two
// seconds, 503 naming the failing checks otherwise (without their error
// text, which may be internal).
func ReadyHandler(checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		failing := []string{}
		for _, c := range checks {
			if err := c.Func(ctx); err != nil {
				failing = append(failing, c.Name)
			}
		}
		status, state := http.StatusOK, "ready"
		if len(failing) > 0 {
			status, state = http.StatusServiceUnavailable, "not ready"
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"status": state, "failing": failing})
	})
}

// MetricsHandler answers /metrics with the Prometheus text format of g.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// Mount registers GET /healthz, GET /readyz and GET /metrics on mux.
func Mount(mux *http.ServeMux, g prometheus.Gatherer, checks ...Check) {
	mux.Handle("GET /healthz", HealthHandler())
	mux.Handle("GET /readyz", ReadyHandler(checks...))
	mux.Handle("GET /metrics", MetricsHandler(g))
}
