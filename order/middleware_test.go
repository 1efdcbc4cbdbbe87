package order_test

import (
	"strings"
	"testing"

	"github.com/kitshop/shop/internal/testkit"

	"github.com/go-kit/log"
	"github.com/kitshop/shop"
	"github.com/kitshop/shop/order"
	"github.com/prometheus/client_golang/prometheus"
)

// callEveryMethod calls each Service method once or more on s and returns
// the ID of the order it placed (paid, then refunded).
func callEveryMethod(t *testing.T, f *fixture, s order.Service) string {
	t.Helper()
	p := f.product("MW-"+shop.NewID(), 500, "USD", 5)
	ctx := shop.WithRequestID(asAlice, "req-42")
	o, err := s.PlaceOrder(ctx, order.NewOrder{Items: []order.Item{{ProductID: p, Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOrder(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetOrder(asBob, o.ID)
	wantErr(t, err, shop.ErrNotFound, order.CodeOrderNotFound)
	if _, err := s.ListOrders(ctx, shop.PageRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.PayOrder(ctx, o.ID, order.TestCardDeclined)
	wantErr(t, err, shop.ErrPaymentRequired, order.CodeCardDeclined)
	if _, err := s.PayOrder(ctx, o.ID, order.TestCardOK); err != nil {
		t.Fatal(err)
	}
	_, err = s.CancelOrder(ctx, o.ID)
	wantErr(t, err, shop.ErrConflict, order.CodeInvalidTransition)
	if _, err := s.RefundOrder(asAdmin, o.ID); err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func TestLoggingMiddleware(t *testing.T) {
	f := newFixture(t)
	var buf testkit.SyncBuffer
	id := callEveryMethod(t, f, order.LoggingMiddleware(log.NewLogfmtLogger(&buf))(f.orders))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := [][]string{
		{"level=info", "method=PlaceOrder", "order_id=" + id, "request_id=req-42", "took=", "err=null"},
		{"method=GetOrder", "order_id=" + id, "request_id=req-42", "err=null"},
		{"level=info", "method=GetOrder", "order_id=" + id, `err="order \"` + id + `\" not found"`},
		{"method=ListOrders", "request_id=req-42", "err=null"},
		{"level=info", "method=PayOrder", "order_id=" + id, `err="the card was declined"`},
		{"method=PayOrder", "order_id=" + id, "err=null"},
		{"method=CancelOrder", "order_id=" + id, "err="},
		{"method=RefundOrder", "order_id=" + id, "err=null"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want one per call:\n%s", len(lines), buf.String())
	}
	for i, line := range lines {
		for _, w := range want[i] {
			if !strings.Contains(line, w) {
				t.Errorf("log line %q lacks %q", line, w)
			}
		}
		if strings.Contains(line, "4242") || strings.Contains(line, "0002") {
			t.Errorf("log line %q shows the card number", line)
		}
	}
}

// gather returns the request counts and latency sample counts recorded in
// reg for service, by "method/code".
func gather(t *testing.T, reg *prometheus.Registry, service string) (counts map[string]float64, observed map[string]uint64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts, observed = map[string]float64{}, map[string]uint64{}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			var method, code string
			for _, l := range metric.GetLabel() {
				switch l.GetName() {
				case "method":
					method = l.GetValue()
				case "code":
					code = l.GetValue()
				}
			}
			switch f.GetName() {
			case "kitshop_" + service + "_requests_total":
				counts[method+"/"+code] = metric.GetCounter().GetValue()
			case "kitshop_" + service + "_request_duration_seconds":
				observed[method+"/"+code] = metric.GetHistogram().GetSampleCount()
			}
		}
	}
	return counts, observed
}

// wantCalls returns the series callEveryMethod leaves, by "method/code".
func wantCalls() map[string]float64 {
	return map[string]float64{
		"PlaceOrder/":                    1,
		"GetOrder/":                      1,
		"GetOrder/order_not_found":       1,
		"ListOrders/":                    1,
		"PayOrder/card_declined":         1,
		"PayOrder/":                      1,
		"CancelOrder/invalid_transition": 1,
		"RefundOrder/":                   1,
	}
}

// checkCalls fails unless reg holds exactly the series of wantCalls.
func checkCalls(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	counts, observed := gather(t, reg, "order")
	want := wantCalls()
	for k, n := range want {
		if counts[k] != n || observed[k] != uint64(n) {
			t.Errorf("%s: counted %v, observed %v, want %v", k, counts[k], observed[k], n)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("series %v, want %v", counts, want)
	}
}

func TestInstrumentingMiddleware(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	m, err := shop.NewServiceMetrics(reg, "order")
	if err != nil {
		t.Fatal(err)
	}
	callEveryMethod(t, f, order.InstrumentingMiddleware(m)(f.orders))
	checkCalls(t, reg)
}
