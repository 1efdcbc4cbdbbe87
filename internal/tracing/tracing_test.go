package tracing_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/internal/tracing"
)

func TestAnEventCarriesItsTraceToTheConsumer(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp) // FromEvent starts from the process's provider
	t.Cleanup(func() { otel.SetTracerProvider(trace.NewNoopTracerProvider()) })

	e, err := shop.NewEvent("order", shop.EventOrderPaid, "o1", shop.OrderEventData{OrderID: "o1"})
	if err != nil {
		t.Fatal(err)
	}
	tracing.Stamp(context.Background(), &e)
	if e.TraceParent != "" {
		t.Fatalf("stamped %q without a trace", e.TraceParent)
	}
	if _, s := tracing.FromEvent(context.Background(), "process", trace.SpanKindConsumer, e); s.IsRecording() {
		t.Fatal("an event without a trace context started a recording span")
	}
	if ctx, s := tracing.Child(context.Background(), "sqlite tx", trace.SpanKindInternal); s.IsRecording() || ctx != context.Background() {
		t.Fatal("Child without a recording parent started a span")
	}

	ctx, request := tp.Tracer("test").Start(context.Background(), "POST /orders/o1/pay")
	txCtx, tx := tracing.Child(ctx, "sqlite tx", trace.SpanKindInternal)
	tracing.Stamp(txCtx, &e)
	tracing.End(tx, nil)
	request.End()
	if !strings.HasPrefix(e.TraceParent, "00-"+tx.SpanContext().TraceID().String()+"-"+tx.SpanContext().SpanID().String()) {
		t.Fatalf("traceparent %q, want the transaction's span", e.TraceParent)
	}

	_, consumer := tracing.FromEvent(context.Background(), "process", trace.SpanKindConsumer, e)
	tracing.End(consumer, errors.New("stock gone"))
	ended := rec.Ended()
	if len(ended) != 3 {
		t.Fatalf("%d spans ended, want 3", len(ended))
	}
	got := ended[2]
	if got.Name() != "process order.paid" || got.SpanKind() != trace.SpanKindConsumer ||
		got.Parent().SpanID() != tx.SpanContext().SpanID() || got.SpanContext().TraceID() != request.SpanContext().TraceID() {
		t.Fatalf("consumer span %q kind %v parent %v: want it below the transaction, in the request's trace", got.Name(), got.SpanKind(), got.Parent().SpanID())
	}
	if got.Status().Code != codes.Error || got.Status().Description != "stock gone" {
		t.Fatalf("a failed handling's span has status %+v", got.Status())
	}
}
