package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The values of -otel besides a collector's URL.
const (
	// TraceStdout writes every span as a JSON line on stdout.
	TraceStdout = "stdout"
	// TraceOTLP sends spans over OTLP/HTTP where the OTEL_EXPORTER_OTLP_*
	// variables say (by default http://localhost:4318).
	TraceOTLP = "otlp"
)

// TraceSettings say whether and where a binary sends its traces: -otel.
type TraceSettings struct {
	OTel string
}

// RegisterTrace defines -otel on fs.
func (t *TraceSettings) RegisterTrace(fs *flag.FlagSet) {
	fs.StringVar(&t.OTel, "otel", "", "OpenTelemetry tracing: unset for none; stdout for JSON spans on stdout; otlp for OTLP/HTTP as the OTEL_EXPORTER_OTLP_* variables say; or a collector's http(s) URL; OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER and the other OTEL_* variables apply (SHOP_OTEL)")
}

// CheckTrace validates -otel.
func (t *TraceSettings) CheckTrace() error {
	switch v := t.OTel; {
	case v == "", v == TraceStdout, v == TraceOTLP, strings.HasPrefix(v, "http://"), strings.HasPrefix(v, "https://"):
		return nil
	}
	return fmt.Errorf("configuration: otel (SHOP_OTEL) must be empty, %s, %s or an http(s) URL of an OTLP collector, got %q", TraceStdout, TraceOTLP, t.OTel)
}

// Telemetry is a process's tracing, set up by StartTracing. The nil
// Telemetry (tracing off) changes nothing it is asked to wrap.
type Telemetry struct {
	tp      *sdktrace.TracerProvider
	service string
}

// StartTracing sets up tracing as t says for the binary of service
// ("order"): the OpenTelemetry SDK with the exporter of -otel, made the
// process's tracer provider, and W3C trace context and baggage as its
// propagator. With -otel unset it returns nil and sets nothing, so tracing
// costs nothing.
func StartTracing(ctx context.Context, t TraceSettings, service string, stdout io.Writer) (*Telemetry, error) {
	if t.OTel == "" {
		return nil, nil
	}
	var exp sdktrace.SpanExporter
	var err error
	switch {
	case t.OTel == TraceStdout:
		exp, err = stdouttrace.New(stdouttrace.WithWriter(stdout))
	case t.OTel == TraceOTLP:
		exp, err = otlptracehttp.New(ctx)
	default:
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(t.OTel))
	}
	if err != nil {
		return nil, fmt.Errorf("configuration: otel (SHOP_OTEL): %w", err)
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read last, win.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "kitshop-"+service)),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithProcessPID())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("configuration: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return &Telemetry{tp: tp, service: service}, nil
}

// Handler traces every request h serves as a server span, joining the
// caller's trace when the request carries one.
func (t *Telemetry) Handler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return otelhttp.NewHandler(h, t.service, otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method + " " + r.URL.Path
	}))
}

// Transport traces every request through rt as a client span and passes
// the trace on in its headers.
func (t *Telemetry) Transport(rt http.RoundTripper) http.RoundTripper {
	if t == nil {
		return rt
	}
	return otelhttp.NewTransport(rt)
}

// Shutdown sends the spans not yet exported, within 5 seconds.
func (t *Telemetry) Shutdown() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.tp.Shutdown(ctx)
}
