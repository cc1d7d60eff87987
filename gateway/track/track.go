// Package track gives every API request of the gateway its record: one
// usage row, one observation in the metrics and one server span, whatever
// happens to the request, and answers errors in the request's client
// dialect (WriteError). The request pipeline (gateway/relay) fills the
// row's State as it goes; the admin APIs (gateway/adminapi) use the
// errors and get spans (AdminSpans), not rows.
package track

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/dialect"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/pricing"
	"github.com/memproxy/memproxy/gateway/usage"
	"github.com/memproxy/memproxy/internal/telemetry"
)

// State is what the pipeline learns about one API request; the tracking
// State is what the pipeline learns about one API request; the Tracker
// turns it into the request's single usage row.
type State struct {
	Start     time.Time
	FirstByte time.Time
	Rec       usage.Record
	Mem       Receipt
	Usage     llm.Usage
	Routed    bool         // a deployment was chosen: the row gets a cost
	Ticket    usage.Ticket // the journaled start of the row
	// Client is the route's client dialect: errors are answered in it.
	Client dialect.Client
	// Complete: the whole answer reached the client (a client that left
	// right after its end is no cancellation).
	Complete bool
	// Attempts counts the upstream calls the router made, over every
	// model call of the request (tool-loop rounds included).
	Attempts int
}

type stateKey struct{}

// From is the request's State (a throwaway outside a tracked request).
func From(ctx context.Context) *State {
	st, _ := ctx.Value(stateKey{}).(*State)
	if st == nil {
		return &State{} // outside track (tests of single handlers): a throwaway
	}
	return st
}

// setError records the error kind; the first one set wins, since later
// failures (such as writing to a client that left) follow from it.
func (st *State) SetError(kind llm.ErrorKind) {
	if st.Rec.ErrorType == "" {
		st.Rec.ErrorType = string(kind)
	}
}

func (st *State) SetUsage(u llm.Usage) {
	st.Usage = u
	st.Rec.PromptTokens, st.Rec.CompletionTokens, st.Rec.CachedTokens = u.PromptTokens, u.CompletionTokens, u.CachedTokens
	st.Rec.CacheWriteTokens, st.Rec.ReasoningTokens = u.CacheWriteTokens, u.ReasoningTokens
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewRequestID returns a fresh id. The gateway always assigns its own: the
// usage log is idempotent on it, so a client-chosen id could suppress rows.
func NewRequestID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	var out [4 + 24]byte // "req_" and 15 bytes in base32
	copy(out[:], "req_")
	idEncoding.Encode(out[4:], b[:])
	return string(out[:])
}

// Tracker keeps the record of API requests.
type Tracker struct {
	Usage    *usage.Queue
	Prices   *pricing.Table
	Receipts *Receipts // memory receipts of recent requests, for /v1/memory/why
	Log      *slog.Logger
	// Observe, when set, counts a finished request in the metrics.
	Observe func(route, ingress string, rec *usage.Record, ttfb, total time.Duration)
	// authFails samples the usage rows of failed authentication.
	authFails authFailSampler
}

// Wrap wraps an API handler so that every request, whatever happens to it,
// yields exactly one usage row, one observation in the metrics and one server span named by the route
// ("POST /v1/chat/completions"). route is the /v1 form of the handler's
// path, the same for its unversioned alias.
//
// The row's start is journaled before the handler runs and the row itself
// when the handler returns (finish), before the response is complete on
// the wire: net/http sends the end of the response (the last chunk, or a
// small body whole) and the tunnel the end of the gRPC stream only once
// ServeHTTP has returned. A streamed answer's events are flushed as they
// come, so its last event may reach the client just before its row is
// journaled; a crash in between leaves the row to the start record (a
// gateway_crash row), never to nothing.
//
// A tunnelled request's span is a child of the gRPC Forward span, itself
// the edge's child; a plain-HTTP request continues the caller's W3C
// traceparent, if any. Headers that arrived through the tunnel are never
// used for that: the edge's own trace context comes with the call.
func (t *Tracker) Wrap(route string, next http.Handler) http.Handler {
	client := dialect.ForPath(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &State{Start: time.Now(), Client: client}
		st.Rec = usage.Record{Time: st.Start.UTC(), RequestID: NewRequestID(), Method: r.Method, Path: r.URL.Path, Status: http.StatusOK}
		if id, ok := auth.FromContext(r.Context()); ok {
			ApplyIdentity(&st.Rec, id) // tunnel requests arrive identified
		}
		st.Ticket = t.Usage.Begin(st.Rec)
		ctx, span := startRequestSpan(r, route, st.Rec.RequestID)
		w.Header().Set("X-Request-Id", st.Rec.RequestID)
		tw := &trackingWriter{ResponseWriter: w, st: st}
		next.ServeHTTP(tw, r.WithContext(context.WithValue(ctx, stateKey{}, st)))
		t.finish(r, route, tw, st)
		endRequestSpan(span, ingressOf(r, &st.Rec), &st.Rec)
	})
}

// noSpan stands for the request's span when tracing is off.
var noSpan trace.Span = noop.Span{}

// startRequestSpan starts the server span of an API request; with tracing
// off it allocates nothing and returns noSpan.
func startRequestSpan(r *http.Request, route, requestID string) (context.Context, trace.Span) {
	ctx := r.Context()
	if !telemetry.Recording() {
		return ctx, noSpan
	}
	if !trace.SpanContextFromContext(ctx).IsValid() && r.RemoteAddr != TunnelRemoteAddr {
		ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	return otel.Tracer(telemetry.TracerName).Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route),
			attribute.String("memproxy.request_id", requestID)))
}

// ingressOf names how the request arrived, also for one refused before
// its identity (and so rec.Ingress) was known.
func ingressOf(r *http.Request, rec *usage.Record) string {
	switch {
	case rec.Ingress != "":
		return rec.Ingress
	case r.RemoteAddr == TunnelRemoteAddr:
		return auth.IngressTunnel
	}
	return auth.IngressHTTP
}

// endRequestSpan records what the usage row says about the request and
// ends its span. Only identifiers, names and numbers: never the key, the
// user's text or an error message.
func endRequestSpan(span trace.Span, ingress string, rec *usage.Record) {
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetAttributes(
		attribute.Int("http.response.status_code", rec.Status),
		attribute.String("memproxy.ingress", ingress),
		attribute.String("gen_ai.request.model", rec.Model),
		attribute.String("gen_ai.provider.name", rec.Provider),
		attribute.String("memproxy.project", rec.Project),
		attribute.String("memproxy.client", rec.Client),
		attribute.Bool("memproxy.stream", rec.Stream),
		attribute.Int64("gen_ai.usage.input_tokens", rec.PromptTokens),
		attribute.Int64("gen_ai.usage.output_tokens", rec.CompletionTokens),
	)
	if rec.MemoryStatus != "" {
		span.SetAttributes(attribute.String("memproxy.memory.status", rec.MemoryStatus), attribute.Int("memproxy.memory.count", rec.MemoryCount))
	}
	if rec.ToolRounds > 0 {
		span.SetAttributes(attribute.Int("memproxy.tool_rounds", rec.ToolRounds))
	}
	if rec.ErrorType != "" {
		span.SetAttributes(attribute.String("error.type", rec.ErrorType))
	}
	// A server span fails on 5xx only: 4xx are the client's (OTel HTTP
	// semantic conventions).
	if rec.Status >= 500 {
		span.SetStatus(codes.Error, rec.ErrorType)
	}
	span.End()
}

// finish completes the request's usage row, journals it and counts it in
// the metrics.
func (t *Tracker) finish(r *http.Request, route string, tw *trackingWriter, st *State) {
	end := time.Now()
	st.Rec.Time = st.Start.UTC()
	st.Rec.LatencyMS = ms(end.Sub(st.Start))
	if !st.FirstByte.IsZero() {
		st.Rec.TTFBMS = ms(st.FirstByte.Sub(st.Start))
	}
	if tw.status != 0 {
		st.Rec.Status = tw.status
	}
	if ClientGone(r.Context()) && st.Rec.ErrorType == "" && !st.Complete {
		st.SetError(llm.ErrClientCancelled)
	}
	if st.Rec.ErrorType == string(llm.ErrClientCancelled) {
		st.Rec.Status = StatusClientClosed
	}
	if m := st.Mem; m.Status != "" {
		st.Rec.MemoryStatus, st.Rec.MemoryCount, st.Rec.MemoryMS = m.Status, len(m.IDs), m.MS
		t.Receipts.put(st.Rec.RequestID, m)
		st.Rec.MemoryIDs = strings.Join(m.IDs, ",")
	}
	if st.Routed {
		st.Rec.SetCost(t.Prices.Cost(st.Rec.Model, st.Rec.Provider, st.Rec.UpstreamModel, st.Usage))
	}
	if unauthenticatedFailure(&st.Rec) && !t.authFails.keep(t.Log, authFailSource(r), end) {
		t.Usage.Skip(st.Ticket, st.Rec.RequestID)
	} else {
		t.Usage.Finish(st.Ticket, st.Rec)
	}
	var ttfb time.Duration
	if !st.FirstByte.IsZero() {
		ttfb = st.FirstByte.Sub(st.Start)
	}
	if t.Observe != nil {
		t.Observe(route, ingressOf(r, &st.Rec), &st.Rec, ttfb, end.Sub(st.Start))
	}
}

// StatusClientClosed is nginx's 499, used in the usage log for requests the
// client abandoned before the answer was complete.
const StatusClientClosed = 499

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ApplyIdentity copies who made the request into its row.
func ApplyIdentity(rec *usage.Record, id *auth.Identity) {
	rec.User, rec.Project, rec.Client = id.User, id.Project, id.Client
	rec.Hostname, rec.EdgeID, rec.Ingress = id.Hostname, id.EdgeID, id.Ingress
}

// trackingWriter records the status and the time of the first body byte.
type trackingWriter struct {
	http.ResponseWriter
	st     *State
	status int
}

func (w *trackingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.st.FirstByte.IsZero() && len(p) > 0 {
		w.st.FirstByte = time.Now()
	}
	return w.ResponseWriter.Write(p)
}

// Flush implements http.Flusher.
func (w *trackingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TunnelRemoteAddr is the RemoteAddr of a request that came through the
// edge tunnel.
const TunnelRemoteAddr = "tunnel"
