package catalog

import (
	"strings"
	"testing"
	"time"

	"github.com/kitshop/shop/internal/testkit"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/log"
	"github.com/kitshop/shop"
)

// markingCounter is a counter that writes a line to the log when it counts,
// so the order of the lines shows which middleware runs inside which.
type markingCounter struct {
	logger log.Logger
	labels []string
}

func (c markingCounter) With(labelValues ...string) metrics.Counter {
	return markingCounter{c.logger, append(append([]string(nil), c.labels...), labelValues...)}
}

func (c markingCounter) Add(float64) { c.logger.Log("counted", strings.Join(c.labels, "/")) }

// countingHistogram counts observations.
type countingHistogram struct{ n *int }

func (h countingHistogram) With(...string) metrics.Histogram { return h }
func (h countingHistogram) Observe(float64)                  { *h.n++ }

// New is NewService with metrics and logging, logging outermost.
func TestNew(t *testing.T) {
	var buf testkit.SyncBuffer
	logger := log.NewLogfmtLogger(&buf)
	observed := 0
	m := shop.ServiceMetrics{Requests: markingCounter{logger: logger}, Latency: countingHistogram{&observed}}
	svc := New(newTestStore(t), logger, m)

	p, err := svc.CreateProduct(adminCtx, validProduct("NEW-1"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.GetProduct(anonCtx, "missing")
	wantErr(t, err, shop.ErrNotFound, CodeProductNotFound)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := [][]string{
		{"counted=method/CreateProduct/code/"},
		{"method=CreateProduct", "id=" + p.ID, "err=null"},
		{"counted=method/GetProduct/code/product_not_found"},
		{"method=GetProduct", "id=missing", `err="product \"missing\" not found"`},
	}
	if len(lines) != len(want) {
		t.Fatalf("log:\n%s\nwant %d lines: each call counted, then logged (logging outermost)", buf.String(), len(want))
	}
	for i, line := range lines {
		for _, w := range want[i] {
			if !strings.Contains(line, w) {
				t.Errorf("line %d %q lacks %q", i, line, w)
			}
		}
	}
	if observed != 2 {
		t.Errorf("observed %d latencies, want 2", observed)
	}

	// Options reach the service.
	fixed := time.Date(2031, 2, 3, 4, 5, 6, 7, time.UTC)
	svc = New(newTestStore(t), log.NewNopLogger(), m, WithClock(func() time.Time { return fixed }))
	p, err = svc.CreateProduct(adminCtx, validProduct("NEW-2"))
	if err != nil || !p.CreatedAt.Equal(fixed) {
		t.Fatalf("New with WithClock: created_at %v (%v), want %v", p.CreatedAt, err, fixed)
	}
}
