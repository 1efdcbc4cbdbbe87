package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/kitshop/shop/examples/internal/binarytest"
)

// span is what the stdout exporter writes of a span.
type span struct {
	Name        string
	SpanKind    int
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct{ TraceID, SpanID string }
	Proc        string // the part that wrote it, added by the supervisor
}

// spans reads the spans the parts of a split shop wrote, by trace ID.
func spans(t *testing.T, logs string) map[string][]span {
	t.Helper()
	traces := map[string][]span{}
	line := regexp.MustCompile(`(?m)^\{"proc":"\w+","Name".*$`)
	for _, m := range line.FindAllString(logs, -1) {
		var s span
		if err := json.Unmarshal([]byte(m), &s); err != nil {
			t.Fatalf("a span line is not JSON: %v\n%s", err, m)
		}
		traces[s.SpanContext.TraceID] = append(traces[s.SpanContext.TraceID], s)
	}
	return traces
}

// traceOf finds the trace whose gateway server span is named name.
func traceOf(t *testing.T, traces map[string][]span, name string) []span {
	t.Helper()
	for _, spans := range traces {
		for _, s := range spans {
			if s.Proc == "gateway" && s.Name == name && s.Parent.SpanID == "0000000000000000" {
				return spans
			}
		}
	}
	t.Fatalf("no trace starts at the gateway with %q", name)
	return nil
}

// has says whether spans hold one of proc whose name starts with prefix,
// and that its parent is in the trace too.
func has(spans []span, proc, prefix string) bool {
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanContext.SpanID] = true
	}
	for _, s := range spans {
		if s.Proc == proc && strings.HasPrefix(s.Name, prefix) && ids[s.Parent.SpanID] {
			return true
		}
	}
	return false
}

// TestOneTraceFollowsAnOrder runs the split shop with -otel stdout and
// follows an order in the spans its parts write: placing it is one trace
// from the gateway through the order, catalog and inventory services and
// their databases; paying it goes on through the order's outbox, the event
// to the inventory (pushed over HTTP, or through RabbitMQ), and the
// inventory's inbox and database.
func TestOneTraceFollowsAnOrder(t *testing.T) {
	t.Run("CloudEvents over HTTP", func(t *testing.T) { testOneTraceFollowsAnOrder(t) })
	t.Run("RabbitMQ", func(t *testing.T) {
		url, _ := binarytest.AMQPVhost(t)
		testOneTraceFollowsAnOrder(t, "-amqp", url)
	})
}

func testOneTraceFollowsAnOrder(t *testing.T, extra ...string) {
	p := startShop(t, t.TempDir(), append(append(topologies[1].args, "-otel", "stdout"), extra...)...)
	p.register("traced@example.com", "traced-password", "Traced")
	token := p.login("traced@example.com", "traced-password")
	mug := p.products("?q=Mug")[0]["id"].(string)
	o := p.expect(201, "", "POST", "/orders", token, fmt.Sprintf(`{"items":[{"product_id":%q,"quantity":1}]}`, mug))
	id := o["id"].(string)
	p.expect(200, "", "POST", "/orders/"+id+"/pay", token, `{"card_number":"4242424242424242"}`)
	p.eventually("the paid unit is sold", func() bool {
		_, reserved, _ := p.stock(mug)
		return reserved == 0
	})
	p.stop() // every part sends its last spans as it stops
	traces := spans(t, p.logs.String())

	placed := traceOf(t, traces, "POST /orders")
	for _, want := range []struct{ proc, name string }{
		{"gateway", "HTTP POST"}, // the proxied call
		{"order", "POST /orders"},
		{"order", "sqlite tx"},
		{"catalog", "GET /products/" + mug},
		{"inventory", "POST /internal/reservations"},
		{"inventory", "sqlite tx"},
	} {
		if !has(placed, want.proc, want.name) {
			t.Errorf("the trace of placing the order has no span %q of the %s service below another of it: %+v", want.name, want.proc, placed)
		}
	}
	paid := traceOf(t, traces, "POST /orders/"+id+"/pay")
	for _, want := range []struct{ proc, name string }{
		{"order", "POST /orders/" + id + "/pay"},
		{"order", "sqlite tx"},
		{"order", "publish order.paid"},
		{"inventory", "process order.paid"},
		{"inventory", "sqlite tx"},
	} {
		if !has(paid, want.proc, want.name) {
			t.Errorf("the trace of paying has no span %q of the %s service below another of it: %+v", want.name, want.proc, paid)
		}
	}
}
