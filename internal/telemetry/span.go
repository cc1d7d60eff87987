package telemetry

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Span starts an internal span named name, a child of ctx's span, and
// returns the context to pass on and the function that ends it. Call end
// exactly once, with the step's error (nil for success):
//
//	ctx, end := telemetry.Span(ctx, "memory.retrieve", attribute.String("memory.backend", name))
//	found, err := backend.Search(ctx, …)
//	end(err)
//
// A non-nil err marks the span as failed with the error's kind
// ("deadline_exceeded", "canceled" or "error") as the status description
// and the innermost error's Go type as error.type. The error's message is
// not recorded: it may echo upstream input, and the logs already hold it
// next to the request id. Attributes must never carry keys, headers or
// prompt text. Add more attributes before end with
// trace.SpanFromContext(ctx).SetAttributes.
//
// When tracing is off (Recording is false) Span returns ctx as it is and
// costs no allocation beyond the caller's attributes.
func Span(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, func(err error)) {
	if !Recording() {
		return ctx, endNothing
	}
	ctx, span := otel.Tracer(TracerName).Start(ctx, name, trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		if err != nil && span.IsRecording() {
			kind := ErrorKind(err)
			span.SetAttributes(attribute.String("error.type", innermostType(err)))
			span.SetStatus(codes.Error, kind)
		}
		span.End()
	}
}

func endNothing(error) {}

// Recording reports whether the global TracerProvider records spans: one
// that Setup installed with an exporter or a SpanProcessor. Request paths
// check it before building a span's attributes, so tracing that is off
// costs nothing. It reads OpenTelemetry's global; no state of its own.
func Recording() bool {
	_, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider)
	return ok
}

// ErrorKind classifies err for a span's status without its message:
// "deadline_exceeded", "canceled", or "error".
func ErrorKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

// innermostType names the Go type of the error at the end of err's
// (first) Unwrap chain, e.g. "*net.OpError": a wrapping *fmt.wrapError
// says nothing.
func innermostType(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return fmt.Sprintf("%T", err)
		}
		err = next
	}
}
