package relay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/memproxy/memproxy/gateway/dialect"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/mcp"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/tools"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/internal/telemetry"
)

// ToolOptions configure the server-side tool loop (tool_execution).
type ToolOptions struct {
	Enabled        bool
	MaxIterations  int
	TimeoutPerTool time.Duration
	MaxResults     int
	// MCP, when set, adds the tools of the connected MCP servers
	// (mcp_servers, named <server>__<tool>) to the memory tools. The
	// Server closes it in Close.
	MCP *mcp.Set
}

// toolsOn reports whether the exchange runs through the tool loop: tool
// execution is on and the request has a memory scope for the tools.
func (s *Pipeline) toolsOn(x *exchange) bool {
	t, m := s.Tools, s.Memory
	return t != nil && t.Enabled && m != nil && m.Backend != nil && x.scope != ""
}

// toolLoop answers an exchange through tools.Run: the model may call the
// memory tools, which the gateway runs in the request's scope; the client
// sees one answer, streamed or not, in its own dialect.
func (s *Pipeline) toolLoop(w http.ResponseWriter, r *http.Request, x *exchange, body []byte) {
	st := track.From(r.Context())
	hub, err := x.client.ToHub(body, x.model)
	if err != nil {
		writeError(w, r, dialect.Untranslatable(err))
		return
	}
	t := s.Tools
	ts := append(tools.MemoryTools(s.Memory.Backend, x.scope, t.MaxResults), t.MCP.Tools()...)
	opts := tools.Options{MaxIterations: t.MaxIterations, TimeoutPerTool: t.TimeoutPerTool, Logger: s.Log}
	spans := newLoopSpans(r.Context())
	defer spans.end()
	opts.OnRound, opts.OnTool = spans.round, spans.tool
	call := s.loopCall(r, x)
	if x.stream {
		s.toolLoopStream(w, r, x, hub, ts, call, opts)
		return
	}
	var buf bytes.Buffer
	res, err := tools.Run(r.Context(), hub, ts, call, &buf, true, opts)
	st.SetUsage(res.Usage)
	st.Rec.ToolRounds, st.Rec.ToolsCalled = toolRounds(res), strings.Join(res.ToolsCalled, ",")
	if err != nil {
		writeError(w, r, toolLoopError(r.Context(), err))
		return
	}
	chat, err := foldChat(buf.Bytes())
	if err == nil {
		chat, err = x.client.FromHub(chat, x.model)
	}
	if err != nil {
		writeError(w, r, newAPIError(http.StatusBadGateway, llm.ErrUpstream, "upstream_bad_response", "the model's answer could not be read: "+err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(chat); err == nil {
		s.remember(x, chat, nil)
		s.answered(x, x.client.Answer(chat))
	}
}

func (s *Pipeline) toolLoopStream(w http.ResponseWriter, r *http.Request, x *exchange, hub []byte, ts []tools.Tool, call tools.CallModel, opts tools.Options) {
	st := track.From(r.Context())
	out, fold, capture := clientCopies(startStream(w, http.StatusOK), x)
	clientSide := x.client.HubStream(out, x.model)
	hubOut := out
	if clientSide != nil {
		hubOut = clientSide
	}
	res, err := tools.Run(r.Context(), hub, ts, call, hubOut, clientSide != nil || x.peek.IncludeUsage, opts)
	if clientSide != nil {
		_ = clientSide.Close() // flushes; after an error event from Run it adds none
	}
	st.SetUsage(res.Usage)
	st.Rec.ToolRounds, st.Rec.ToolsCalled = toolRounds(res), strings.Join(res.ToolsCalled, ",")
	if err != nil {
		st.SetError(toolLoopError(r.Context(), err).Kind)
		return
	}
	if fold != nil {
		s.answered(x, fold.Answer())
	}
	if capture != nil && !capture.over {
		s.remember(x, nil, capture.b.Bytes())
	}
}

// toolLoopError maps what tools.Run returned to an answer.
func toolLoopError(ctx context.Context, err error) *apiError {
	var ce *tools.CallError
	switch {
	case track.DrainCut(ctx):
		return track.ShutdownError()
	case ctx.Err() != nil:
		return newAPIError(track.StatusClientClosed, llm.ErrClientCancelled, "client_closed_request", "the client closed the request")
	case errors.Is(err, errStreamIdle):
		return newAPIError(http.StatusGatewayTimeout, llm.ErrUpstreamTimeout, "upstream_timeout", "the model's answer stopped: "+err.Error())
	case errors.As(err, &ce):
		kind := llm.ErrUpstream
		if ce.Status == http.StatusTooManyRequests {
			kind = llm.ErrRateLimit
		} else if ce.Status > 0 && ce.Status < 500 {
			kind = llm.ErrInvalidRequest
		}
		status := ce.Status
		if status == 0 {
			status = http.StatusBadGateway
		}
		return newAPIError(status, kind, ce.Code, ce.Message)
	case errors.Is(err, tools.ErrBadRequest):
		return newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_request", err.Error())
	default:
		return newAPIError(http.StatusBadGateway, llm.ErrUpstreamCut, "stream_cut", "the model's answer was cut: "+err.Error())
	}
}

// loopCall is the loop's way to the model: each round one streamed chat
// request through callModel (the relay's path: routing, retries, attempt
// spans, idle timeout, error mapping), translated to the deployment's
// dialect; the answer comes back as OpenAI chat chunks.
func (s *Pipeline) loopCall(r *http.Request, x *exchange) tools.CallModel {
	return func(ctx context.Context, hub []byte) (io.ReadCloser, error) {
		lx := *x // each round routes afresh
		mc, aerr := s.callModel(ctx, r, &lx, func(ax *exchange) (*provider.Request, *apiError) {
			wire := loopWire(ax.dep)
			up, err := wire.Encode(hub, ax.dep.UpstreamModel)
			if err != nil {
				return nil, dialect.Untranslatable(err)
			}
			return &provider.Request{Op: wire.Op(), Body: up, Stream: true, Header: s.upstreamHeaders(r, ax)}, nil
		})
		if aerr != nil {
			return nil, &tools.CallError{Status: aerr.Status, Type: dialect.OpenAIType(aerr.Status, aerr.Kind), Code: aerr.Code, Message: aerr.Msg}
		}
		tr := loopWire(mc.dep)
		pr, pw := io.Pipe()
		t := tr.DecodeStream(pw, x.model, true)
		if t == nil {
			pw.Close()
			return mc.body, nil // already chat chunks
		}
		go func() {
			_, cerr := io.Copy(t, mc.body)
			_ = t.Close() // writes the error event of an incomplete stream
			mc.body.Close()
			pw.CloseWithError(cerr)
		}()
		return &pipeBody{pr: pr, up: mc.body}, nil
	}
}

// loopWire is the dialect the loop speaks with deployment d: the loop
// speaks chat, so a deployment serving Responses natively is reached in
// its chat dialect.
func loopWire(d *provider.Deployment) dialect.Wire {
	if w, ok := dialect.WireOf(d.Dialect); ok {
		return w
	}
	return dialect.Hub()
}

// pipeBody closes the upstream with the translated reader, so a loop that
// stops reading cancels the model call.
type pipeBody struct {
	pr *io.PipeReader
	up io.Closer
}

func (p *pipeBody) Read(b []byte) (int, error) { return p.pr.Read(b) }
func (p *pipeBody) Close() error {
	p.pr.Close()
	return p.up.Close()
}

// toolRounds is how many rounds ran gateway tools: every model call but
// the one that gave the answer.
func toolRounds(res tools.Result) int { return max(res.Rounds-1, 0) }

// loopSpans traces the tool loop: one span per model round, and one per
// tool call (started back at the call's start, as the loop reports a call
// when it ends). Names and timings only: never arguments or results.
type loopSpans struct {
	ctx      context.Context
	roundCtx context.Context
	endRound func(error)
}

func newLoopSpans(ctx context.Context) *loopSpans {
	return &loopSpans{ctx: ctx, roundCtx: ctx, endRound: func(error) {}}
}

func (l *loopSpans) round(n int) {
	l.endRound(nil)
	l.roundCtx, l.endRound = telemetry.Span(l.ctx, "tool.round", attribute.Int("memproxy.round", n))
}

func (l *loopSpans) tool(name string, dur time.Duration, err error) {
	if !telemetry.Recording() {
		return
	}
	_, span := otel.Tracer(telemetry.TracerName).Start(l.roundCtx, "tool.call",
		trace.WithTimestamp(time.Now().Add(-dur)), trace.WithAttributes(attribute.String("memproxy.tool", name)))
	if err != nil {
		span.SetStatus(codes.Error, telemetry.ErrorKind(err))
	}
	span.End()
}

func (l *loopSpans) end() { l.endRound(nil) }
