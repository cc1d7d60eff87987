package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base32"
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
	"github.com/memproxy/memproxy/gateway/usage"
	"github.com/memproxy/memproxy/internal/telemetry"
)

// reqState is what the pipeline learns about one API request; the tracking
// middleware turns it into the request's single usage row.
type reqState struct {
	start     time.Time
	firstByte time.Time
	rec       usage.Record
	mem       receipt
	usage     llm.Usage
	routed    bool         // a deployment was chosen: the row gets a cost
	ticket    usage.Ticket // the journaled start of the row
	// client is the route's client dialect: errors are answered in it.
	client dialect.Client
	// complete: the whole answer reached the client (a client that left
	// right after its end is no cancellation).
	complete bool
	// attempts counts the upstream calls the router made, over every
	// model call of the request (tool-loop rounds included).
	attempts int
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	if st == nil {
		return &reqState{} // outside track (tests of single handlers): a throwaway
	}
	return st
}

// setError records the error kind; the first one set wins, since later
// failures (such as writing to a client that left) follow from it.
func (st *reqState) setError(kind llm.ErrorKind) {
	if st.rec.ErrorType == "" {
		st.rec.ErrorType = string(kind)
	}
}

func (st *reqState) setUsage(u llm.Usage) {
	st.usage = u
	st.rec.PromptTokens, st.rec.CompletionTokens, st.rec.CachedTokens = u.PromptTokens, u.CompletionTokens, u.CachedTokens
	st.rec.CacheWriteTokens, st.rec.ReasoningTokens = u.CacheWriteTokens, u.ReasoningTokens
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRequestID returns a fresh id. The gateway always assigns its own: the
// usage log is idempotent on it, so a client-chosen id could suppress rows.
func newRequestID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	var out [4 + 24]byte // "req_" and 15 bytes in base32
	copy(out[:], "req_")
	idEncoding.Encode(out[4:], b[:])
	return string(out[:])
}

// track wraps an API handler so that every request, whatever happens to it,
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
func (s *Server) track(route string, next http.Handler) http.Handler {
	client := dialect.ForPath(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{start: time.Now(), client: client}
		st.rec = usage.Record{Time: st.start.UTC(), RequestID: newRequestID(), Method: r.Method, Path: r.URL.Path, Status: http.StatusOK}
		if id, ok := auth.FromContext(r.Context()); ok {
			applyIdentity(&st.rec, id) // tunnel requests arrive identified
		}
		st.ticket = s.usage.Begin(st.rec)
		ctx, span := startRequestSpan(r, route, st.rec.RequestID)
		w.Header().Set("X-Request-Id", st.rec.RequestID)
		tw := &trackingWriter{ResponseWriter: w, st: st}
		next.ServeHTTP(tw, r.WithContext(context.WithValue(ctx, stateKey{}, st)))
		s.finish(r, route, tw, st)
		endRequestSpan(span, ingressOf(r, &st.rec), &st.rec)
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
	if !trace.SpanContextFromContext(ctx).IsValid() && r.RemoteAddr != tunnelRemoteAddr {
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
	case r.RemoteAddr == tunnelRemoteAddr:
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
func (s *Server) finish(r *http.Request, route string, tw *trackingWriter, st *reqState) {
	end := time.Now()
	st.rec.Time = st.start.UTC()
	st.rec.LatencyMS = ms(end.Sub(st.start))
	if !st.firstByte.IsZero() {
		st.rec.TTFBMS = ms(st.firstByte.Sub(st.start))
	}
	if tw.status != 0 {
		st.rec.Status = tw.status
	}
	if clientGone(r.Context()) && st.rec.ErrorType == "" && !st.complete {
		st.setError(llm.ErrClientCancelled)
	}
	if st.rec.ErrorType == string(llm.ErrClientCancelled) {
		st.rec.Status = statusClientClosed
	}
	if m := st.mem; m.status != "" {
		st.rec.MemoryStatus, st.rec.MemoryCount, st.rec.MemoryMS = m.status, len(m.ids), m.ms
		s.whys.put(st.rec.RequestID, m)
		st.rec.MemoryIDs = strings.Join(m.ids, ",")
	}
	if st.routed {
		st.rec.SetCost(s.prices.Cost(st.rec.Model, st.rec.Provider, st.rec.UpstreamModel, st.usage))
	}
	if unauthenticatedFailure(&st.rec) && !s.authFails.keep(s.log, authFailSource(r), end) {
		s.usage.Skip(st.ticket, st.rec.RequestID)
	} else {
		s.usage.Finish(st.ticket, st.rec)
	}
	var ttfb time.Duration
	if !st.firstByte.IsZero() {
		ttfb = st.firstByte.Sub(st.start)
	}
	s.metrics.observe(route, ingressOf(r, &st.rec), &st.rec, ttfb, end.Sub(st.start))
}

// statusClientClosed is nginx's 499, used in the usage log for requests the
// client abandoned before the answer was complete.
const statusClientClosed = 499

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func applyIdentity(rec *usage.Record, id *auth.Identity) {
	rec.User, rec.Project, rec.Client = id.User, id.Project, id.Client
	rec.Hostname, rec.EdgeID, rec.Ingress = id.Hostname, id.EdgeID, id.Ingress
}

// trackingWriter records the status and the time of the first body byte.
type trackingWriter struct {
	http.ResponseWriter
	st     *reqState
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
	if w.st.firstByte.IsZero() && len(p) > 0 {
		w.st.firstByte = time.Now()
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
