package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// consoleExporter logs every span through the process's logger (the
// console exporter), one record per span.
type consoleExporter struct {
	log *slog.Logger
}

func (e *consoleExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		attrs := make([]any, 0, len(s.Attributes()))
		for _, kv := range s.Attributes() {
			attrs = append(attrs, slog.Any(string(kv.Key), kv.Value.AsInterface()))
		}
		sc := s.SpanContext()
		e.log.LogAttrs(ctx, slog.LevelInfo, "span",
			slog.String("name", s.Name()),
			slog.String("trace_id", sc.TraceID().String()),
			slog.String("span_id", sc.SpanID().String()),
			slog.String("parent_id", parentID(s)),
			slog.String("kind", s.SpanKind().String()),
			slog.Duration("duration", s.EndTime().Sub(s.StartTime())),
			slog.String("status", s.Status().Code.String()),
			slog.String("status_description", s.Status().Description),
			slog.Group("attributes", attrs...),
		)
	}
	return nil
}

func parentID(s sdktrace.ReadOnlySpan) string {
	if p := s.Parent(); p.IsValid() {
		return p.SpanID().String()
	}
	return ""
}

func (e *consoleExporter) Shutdown(context.Context) error { return nil }

// loggingExporter reports export failures (a collector that is down or
// refuses the headers) through the process's logger, at most once a
// minute with a count, instead of OpenTelemetry's global error handler,
// which writes to the standard library's log.
type loggingExporter struct {
	sdktrace.SpanExporter
	log *slog.Logger

	mu      sync.Mutex
	last    time.Time
	dropped int
}

const exportWarnEvery = time.Minute

func (e *loggingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err == nil {
		return nil
	}
	e.mu.Lock()
	e.dropped += len(spans)
	now := time.Now()
	if now.Sub(e.last) < exportWarnEvery {
		e.mu.Unlock()
		return nil
	}
	dropped := e.dropped
	e.last, e.dropped = now, 0
	e.mu.Unlock()
	e.log.Warn("telemetry: spans not exported", "spans_dropped", dropped, "err", err)
	return nil
}
