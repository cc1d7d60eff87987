// Package telemetry sets up OpenTelemetry tracing for memproxy's binaries:
// the exporter named by Options, the W3C trace-context and baggage
// propagator, and a small helper (Span) for spans around one step of a
// request.
//
// The only global state is what OpenTelemetry itself requires: Setup sets
// the global TracerProvider and TextMapPropagator, once per process. Code
// that starts spans asks the global provider (otel.Tracer), so it needs no
// handle: with no Setup, or Setup with ExporterNone, Recording is false,
// Span does nothing and nothing is exported.
//
// Spans carry identifiers, names and numbers, never credentials, header
// values or prompt text (the security rules' redaction item applies to
// traces as to logs): Span records an error's kind and Go type, not its
// message.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Exporter names, as litellm_settings.otel_exporter spells them.
const (
	ExporterNone     = "none"      // no export; a no-op provider (the default)
	ExporterOTLPHTTP = "otlp_http" // OTLP over HTTP/protobuf, port 4318
	ExporterOTLPGRPC = "otlp_grpc" // OTLP over gRPC, port 4317
	ExporterConsole  = "console"   // every span logged through Options.Logger
)

// TracerName is the instrumentation scope of memproxy's own spans.
const TracerName = "github.com/memproxy/memproxy"

// Options configure Setup. The zero value exports nothing.
type Options struct {
	// Exporter is one of the Exporter* names; "" means ExporterNone.
	Exporter string
	// Endpoint is the collector's URL (http:// or https://; http means
	// plaintext). For otlp_http it is the traces URL, and a URL without a
	// path gets /v1/traces; for otlp_grpc the path is ignored. Empty means
	// the exporter's default (localhost:4318 or localhost:4317).
	Endpoint string
	// Headers are sent with every export (collector credentials). They
	// never appear in String, GoString, LogValue or JSON.
	Headers Headers
	// ServiceName and ServiceVersion name the process in its resource.
	ServiceName    string
	ServiceVersion string
	// Logger receives the console exporter's spans and export failures.
	Logger *slog.Logger
	// SpanProcessor, when set, receives every span besides the exporter
	// (tests: tracetest.NewSpanRecorder(), or sdktrace.NewSimpleSpanProcessor
	// over tracetest.NewInMemoryExporter()). With it, ExporterNone still
	// installs a recording provider.
	SpanProcessor sdktrace.SpanProcessor
}

// String describes the options without the headers' values or any
// password in the endpoint.
func (o Options) String() string {
	exp := o.Exporter
	if exp == "" {
		exp = ExporterNone
	}
	return fmt.Sprintf("telemetry{exporter=%s endpoint=%s service=%s headers=%s}", exp, redactURL(o.Endpoint), o.ServiceName, o.Headers)
}

// GoString is String, so %#v does not leak either.
func (o Options) GoString() string { return o.String() }

// LogValue implements slog.LogValuer with the same redaction as String.
func (o Options) LogValue() slog.Value {
	exp := o.Exporter
	if exp == "" {
		exp = ExporterNone
	}
	return slog.GroupValue(slog.String("exporter", exp), slog.String("endpoint", redactURL(o.Endpoint)),
		slog.String("service", o.ServiceName), slog.Any("headers", o.Headers))
}

func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "[invalid URL]"
	}
	return u.Redacted()
}

// Provider is what Setup installed. Call Shutdown before the process exits
// so that buffered spans are exported.
type Provider struct {
	sdk *sdktrace.TracerProvider // nil for the no-op provider
}

// Shutdown flushes and stops the exporter; ctx bounds the wait. It is safe
// on a no-op Provider and on a nil one.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.sdk == nil {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// ForceFlush exports every ended span now (tests, or before a risky step).
func (p *Provider) ForceFlush(ctx context.Context) error {
	if p == nil || p.sdk == nil {
		return nil
	}
	return p.sdk.ForceFlush(ctx)
}

// Recording reports whether spans are recorded (an exporter or a
// SpanProcessor is installed).
func (p *Provider) Recording() bool { return p != nil && p.sdk != nil }

// Setup builds the provider opts describe and installs it, with the W3C
// tracecontext and baggage propagator, as OpenTelemetry's globals. An
// unknown exporter or a bad endpoint is an error and installs nothing.
// The exporters connect lazily: a collector that is down costs dropped
// spans and a warning, never a failed start.
func Setup(ctx context.Context, opts Options) (*Provider, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	exp, err := newExporter(ctx, opts)
	if err != nil {
		return nil, err
	}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if exp == nil && opts.SpanProcessor == nil {
		otel.SetTracerProvider(noop.NewTracerProvider())
		return &Provider{}, nil
	}
	res, err := newResource(ctx, opts)
	if err != nil {
		return nil, err
	}
	// No sampler option: the SDK's default honours OTEL_TRACES_SAMPLER and
	// OTEL_TRACES_SAMPLER_ARG (else parent-based, always on), and the
	// batcher OTEL_BSP_*.
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if exp != nil {
		tpOpts = append(tpOpts, sdktrace.WithBatcher(&loggingExporter{SpanExporter: exp, log: opts.Logger}))
	}
	if opts.SpanProcessor != nil {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(opts.SpanProcessor))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	otel.SetTracerProvider(tp)
	return &Provider{sdk: tp}, nil
}

// newExporter returns the exporter opts name; nil for none.
func newExporter(ctx context.Context, opts Options) (sdktrace.SpanExporter, error) {
	ep := opts.Endpoint
	if ep != "" {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// Name no part of it: the URL may hold a password.
			return nil, errors.New("telemetry: the endpoint must be an http:// or https:// URL with a host")
		}
		if opts.Exporter == ExporterOTLPHTTP && (u.Path == "" || u.Path == "/") {
			u.Path = "/v1/traces"
			ep = u.String()
		}
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch opts.Exporter {
	case "", ExporterNone:
		return nil, nil
	case ExporterConsole:
		return &consoleExporter{log: opts.Logger}, nil
	case ExporterOTLPHTTP:
		var o []otlptracehttp.Option
		if ep != "" {
			o = append(o, otlptracehttp.WithEndpointURL(ep))
		}
		if len(opts.Headers) > 0 {
			o = append(o, otlptracehttp.WithHeaders(opts.Headers))
		}
		exp, err = otlptracehttp.New(ctx, o...)
	case ExporterOTLPGRPC:
		var o []otlptracegrpc.Option
		if ep != "" {
			o = append(o, otlptracegrpc.WithEndpointURL(ep))
		}
		if len(opts.Headers) > 0 {
			o = append(o, otlptracegrpc.WithHeaders(opts.Headers))
		}
		exp, err = otlptracegrpc.New(ctx, o...)
	default:
		return nil, fmt.Errorf("telemetry: unknown exporter %q (use %s)", opts.Exporter, strings.Join(Exporters(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s exporter: %w", opts.Exporter, err)
	}
	return exp, nil
}

// Exporters lists the exporter names Setup accepts.
func Exporters() []string {
	return []string{ExporterOTLPHTTP, ExporterOTLPGRPC, ExporterConsole, ExporterNone}
}

// newResource names the process. OTEL_RESOURCE_ATTRIBUTES is read from the
// environment; Options' names, applied last, win over it.
func newResource(ctx context.Context, opts Options) (*resource.Resource, error) {
	var attrs []attribute.KeyValue
	if opts.ServiceName != "" {
		attrs = append(attrs, attribute.String("service.name", opts.ServiceName))
	}
	if opts.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", opts.ServiceVersion))
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithAttributes(attrs...))
	switch {
	case errors.Is(err, resource.ErrPartialResource):
		// A malformed OTEL_RESOURCE_ATTRIBUTES: keep what parsed.
		opts.Logger.Warn("telemetry: some resource attributes were not understood", "err", err)
	case err != nil:
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}
