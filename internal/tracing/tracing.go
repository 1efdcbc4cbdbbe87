// Package tracing holds the few OpenTelemetry calls the library makes: spans
// for store transactions, the outbox relay and each handled event, and the
// W3C trace context an event carries from the change that made it to its
// consumer. It uses only the OpenTelemetry API: the binary that imports the
// library chooses the SDK and exporter (or none). With tracing off, a span
// is started only where a caller's span records, so it costs nothing.
package tracing

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kitshop/shop"
)

// Scope is the instrumentation scope of the library's spans.
const Scope = "github.com/kitshop/shop"

// Child starts a span below ctx's span when that one records; otherwise it
// returns ctx and a span that does nothing.
func Child(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// FromEvent starts a span of kind below the trace context e carries, from
// the process's tracer provider; an event without one gets a span that does
// nothing. The span is named name and the event's type, and says which
// event it is.
func FromEvent(ctx context.Context, name string, kind trace.SpanKind, e shop.Event) (context.Context, trace.Span) {
	if e.TraceParent == "" {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": e.TraceParent, "tracestate": e.TraceState})
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return otel.Tracer(Scope).Start(ctx, name+" "+e.Type, trace.WithSpanKind(kind), trace.WithAttributes(
		attribute.String("messaging.message.id", e.ID),
		attribute.String("cloudevents.event_type", e.Type),
		attribute.String("cloudevents.event_subject", e.Subject),
		attribute.String("cloudevents.event_source", e.Source),
	))
}

// Stamp records ctx's trace context in e, when ctx has one, so whoever
// handles e continues the trace.
func Stamp(ctx context.Context, e *shop.Event) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	e.TraceParent, e.TraceState = c["traceparent"], c["tracestate"]
}

// End ends span, marking it failed when err is not nil.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
