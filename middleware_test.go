package shop_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	kitprometheus "github.com/go-kit/kit/metrics/prometheus"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kitshop/shop"
)

func TestLogCallAndRecord(t *testing.T) {
	var buf bytes.Buffer
	ctx := shop.WithRequestID(context.Background(), "req-1")
	shop.LogCall(ctx, log.NewLogfmtLogger(&buf), "GetThing", time.Now(), nil, "thing_id", "t1")
	line := buf.String()
	for _, want := range []string{"level=info", "method=GetThing", "thing_id=t1", "request_id=req-1", "took=", "err=null"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	for err, want := range map[error]string{
		shop.E(shop.ErrNotFound, "", "no thing"):      "level=info",
		shop.E(shop.ErrUnavailable, "", "down"):       "level=warn",
		context.DeadlineExceeded:                      "level=warn",
		shop.E(shop.ErrConflict, "taken", "is taken"): "level=info",
	} {
		buf.Reset()
		shop.LogCall(ctx, log.NewLogfmtLogger(&buf), "GetThing", time.Now(), err)
		if !strings.HasPrefix(buf.String(), want) {
			t.Errorf("%v logged as %q, want %s", err, buf.String(), want)
		}
	}

	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests"}, []string{"method", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "latency"}, []string{"method", "code"})
	m := shop.ServiceMetrics{Requests: kitprometheus.NewCounter(requests), Latency: kitprometheus.NewHistogram(latency)}
	m.Record("GetThing", time.Now(), nil)
	m.Record("GetThing", time.Now(), nil)
	m.Record("GetThing", time.Now(), shop.E(shop.ErrConflict, "taken", "taken"))
	if ok, conflict := testutil.ToFloat64(requests.WithLabelValues("GetThing", "")), testutil.ToFloat64(requests.WithLabelValues("GetThing", "taken")); ok != 2 || conflict != 1 {
		t.Fatalf("requests: %v successes and %v conflicts, want 2 and 1", ok, conflict)
	}
	if n := testutil.CollectAndCount(latency); n != 2 {
		t.Fatalf("latency series = %d, want 2 (one per method and code)", n)
	}
}
