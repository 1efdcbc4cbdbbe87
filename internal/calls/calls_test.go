package calls_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	kitprometheus "github.com/go-kit/kit/metrics/prometheus"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/calls"
)

type resp struct {
	N   int
	Err error
}

func (r resp) Failed() error { return r.Err }

func TestResult(t *testing.T) {
	transport := errors.New("connection refused")
	business := shop.E(shop.ErrNotFound, "thing_not_found", "no thing")
	if _, err := calls.Result[resp](nil, transport); err != transport {
		t.Fatalf("transport error = %v", err)
	}
	if r, err := calls.Result[resp](resp{N: 1, Err: business}, nil); err != business || r.N != 1 {
		t.Fatalf("business error = %v, %v", r, err)
	}
	if r, err := calls.Result[resp](resp{N: 2}, nil); err != nil || r.N != 2 {
		t.Fatalf("success = %v, %v", r, err)
	}
	if _, err := calls.Result[resp]("surprise", nil); err == nil || !strings.Contains(err.Error(), "string") {
		t.Fatalf("wrong type = %v, want an error naming it", err)
	}
}

func TestLogAndRecord(t *testing.T) {
	var buf bytes.Buffer
	ctx := shop.WithRequestID(context.Background(), "req-1")
	calls.Log(ctx, log.NewLogfmtLogger(&buf), "GetThing", time.Now(), nil, "thing_id", "t1")
	line := buf.String()
	for _, want := range []string{"method=GetThing", "thing_id=t1", "request_id=req-1", "took=", "err=null"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}

	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests"}, []string{"method", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "latency"}, []string{"method", "code"})
	m := calls.Metrics{Requests: kitprometheus.NewCounter(requests), Latency: kitprometheus.NewHistogram(latency)}
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
