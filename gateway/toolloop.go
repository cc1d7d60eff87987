package gateway

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/memproxy/memproxy/internal/telemetry"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/gemini"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/mcp"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/tools"
	"github.com/memproxy/memproxy/gateway/translate"
	"github.com/memproxy/memproxy/internal/version"
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

// newMCPSet starts connecting to the configured MCP servers, in the
// background; nil when there are none or tool execution is off.
func newMCPSet(cfg *config.Gateway, opts Options) *mcp.Set {
	if len(cfg.MCPServers) == 0 {
		return nil
	}
	if !cfg.Tools.Enabled {
		opts.Logger.Warn("mcp_servers are configured but tool_execution.enabled is false: their tools are not offered")
		return nil
	}
	var servers []mcp.ServerConfig
	for name, m := range cfg.MCPServers {
		env := make(map[string]string, len(m.Env))
		for k, v := range m.Env {
			env[k] = v.Reveal()
		}
		servers = append(servers, mcp.ServerConfig{Name: name, Transport: m.TransportKind(), URL: m.URL, Headers: m.RequestHeaders(),
			Command: m.Command, Args: m.Args, Env: env, AllowedTools: m.AllowedTools})
	}
	return mcp.Start(mcp.Options{Servers: servers, Logger: opts.Logger, HTTPClient: opts.HTTPClient, Version: version.Version})
}

// toolsOn reports whether the exchange runs through the tool loop: tool
// execution is on and the request has a memory scope for the tools.
func (s *Server) toolsOn(x *exchange) bool {
	t, m := s.opts.Tools, s.opts.Memory
	return t != nil && t.Enabled && m != nil && m.Backend != nil && x.scope != ""
}

// hubBody turns the client's body into OpenAI chat, the loop's format.
func (x *exchange) hubBody(body []byte) ([]byte, *apiError) {
	var hub []byte
	var err error
	switch x.client {
	case dialectAnthropic:
		hub, err = translate.AnthropicToOpenAIChat(body, x.model)
	case dialectResponses:
		hub, err = translate.ResponsesToOpenAIChat(body, x.model)
	default:
		hub = body
	}
	if err != nil {
		return nil, untranslatable(err)
	}
	return hub, nil
}

// toolLoop answers an exchange through tools.Run: the model may call the
// memory tools, which the gateway runs in the request's scope; the client
// sees one answer, streamed or not, in its own dialect.
func (s *Server) toolLoop(w http.ResponseWriter, r *http.Request, x *exchange, body []byte) {
	st := stateFrom(r.Context())
	hub, aerr := x.hubBody(body)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	t := s.opts.Tools
	ts := append(tools.MemoryTools(s.opts.Memory.Backend, x.scope, t.MaxResults), t.MCP.Tools()...)
	opts := tools.Options{MaxIterations: t.MaxIterations, TimeoutPerTool: t.TimeoutPerTool, Logger: s.log}
	spans := newLoopSpans(r.Context())
	defer spans.end()
	opts.OnRound, opts.OnTool = spans.round, spans.tool
	call := s.callModel(r, x)
	if x.stream {
		s.toolLoopStream(w, r, x, hub, ts, call, opts)
		return
	}
	var buf bytes.Buffer
	res, err := tools.Run(r.Context(), hub, ts, call, &buf, true, opts)
	st.setUsage(res.Usage)
	st.rec.ToolRounds, st.rec.ToolsCalled = toolRounds(res), strings.Join(res.ToolsCalled, ",")
	if err != nil {
		writeError(w, r, toolLoopError(r.Context(), err))
		return
	}
	chat, err := foldChat(buf.Bytes())
	if err == nil {
		switch x.client {
		case dialectAnthropic:
			chat, _, err = translate.OpenAIChatResponseToAnthropic(chat, x.model)
		case dialectResponses:
			chat, _, err = translate.OpenAIChatResponseToResponses(chat, x.model)
		}
	}
	if err != nil {
		writeError(w, r, newAPIError(http.StatusBadGateway, llm.ErrUpstream, "upstream_bad_response", "the model's answer could not be read: "+err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(chat); err == nil {
		s.rememberAfter(x, answerText(x.client, chat))
	}
}

func (s *Server) toolLoopStream(w http.ResponseWriter, r *http.Request, x *exchange, hub []byte, ts []tools.Tool, call tools.CallModel, opts tools.Options) {
	st := stateFrom(r.Context())
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	fold := newTextFold(x.client)
	var out io.Writer = io.MultiWriter(flushWriter{w: w, rc: rc}, fold)
	var clientSide translate.Stream
	switch x.client {
	case dialectAnthropic:
		clientSide = translate.NewOpenAIChatToAnthropicStream(out, x.model)
	case dialectResponses:
		clientSide = translate.NewOpenAIChatToResponsesStream(out, x.model)
	}
	hubOut := out
	if clientSide != nil {
		hubOut = clientSide
	}
	res, err := tools.Run(r.Context(), hub, ts, call, hubOut, clientSide != nil || x.clientUsage, opts)
	if clientSide != nil {
		_ = clientSide.Close() // flushes; after an error event from Run it adds none
	}
	st.setUsage(res.Usage)
	st.rec.ToolRounds, st.rec.ToolsCalled = toolRounds(res), strings.Join(res.ToolsCalled, ",")
	if err != nil {
		st.setError(toolLoopError(r.Context(), err).kind)
		return
	}
	s.rememberAfter(x, fold.String())
}

// toolLoopError maps what tools.Run returned to an answer.
func toolLoopError(ctx context.Context, err error) *apiError {
	var ce *tools.CallError
	switch {
	case ctx.Err() != nil:
		return newAPIError(statusClientClosed, llm.ErrClientCancelled, "client_closed_request", "the client closed the request")
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

// callModel is the loop's way to the model: one streamed chat request,
// routed (retries, fallbacks) and translated to the deployment's dialect;
// the answer comes back as OpenAI chat chunks.
func (s *Server) callModel(r *http.Request, x *exchange) tools.CallModel {
	st := stateFrom(r.Context())
	return func(ctx context.Context, hub []byte) (io.ReadCloser, error) {
		var buildErr error
		resp, dep, _, err := s.router.Call(ctx, x.model, func(ctx context.Context, d *provider.Deployment) (*provider.Response, error) {
			up, err := hubToWire(hub, d)
			if err != nil {
				buildErr = err
				return nil, provider.ErrUnsupported
			}
			xd := *x
			xd.dep = d
			return d.Provider.Do(ctx, &provider.Request{Op: opOf(d.Dialect), Body: up, Stream: true, Header: s.upstreamHeaders(r, &xd)})
		})
		if buildErr != nil {
			return nil, &tools.CallError{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: buildErr.Error()}
		}
		if err != nil {
			a := upstreamCallError(ctx, x.model, err)
			return nil, &tools.CallError{Status: a.status, Type: string(a.kind), Code: a.code, Message: a.msg}
		}
		st.rec.Provider, st.rec.UpstreamModel = dep.ProviderName, dep.UpstreamModel
		if resp.Status >= 400 {
			defer resp.Body.Close()
			return nil, upstreamCallErr(dep, resp)
		}
		var tr func(io.Writer, string, bool) translate.Stream
		switch dep.Dialect {
		case dialectAnthropic:
			tr = translate.NewAnthropicToOpenAIChatStream
		case dialectGemini:
			tr = translate.NewGeminiToOpenAIChatStream
		default:
			return resp.Body, nil // already chat chunks
		}
		pr, pw := io.Pipe()
		t := tr(pw, x.model, true)
		go func() {
			_, cerr := io.Copy(t, resp.Body)
			_ = t.Close() // writes the error event of an incomplete stream
			resp.Body.Close()
			pw.CloseWithError(cerr)
		}()
		return &pipeBody{pr: pr, up: resp.Body}, nil
	}
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

// hubToWire turns a chat body into the deployment's dialect.
func hubToWire(hub []byte, d *provider.Deployment) ([]byte, error) {
	switch d.Dialect {
	case dialectAnthropic:
		return translate.OpenAIChatToAnthropic(hub, d.UpstreamModel, defaultMaxTokens)
	case dialectGemini:
		return translate.OpenAIChatToGemini(hub)
	default:
		return setModel(hub, d.UpstreamModel), nil
	}
}

// upstreamCallErr reads an upstream error answer into a CallError.
func upstreamCallErr(dep *provider.Deployment, resp *provider.Response) *tools.CallError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	msg := ""
	switch dep.Dialect {
	case dialectAnthropic:
		if d, ok := anthropic.ParseError(b); ok {
			msg = d.Message
		}
	case dialectGemini:
		msg, _, _ = gemini.ParseError(b)
	default:
		if d, ok := openai.ParseError(b); ok {
			msg = d.Message
		}
	}
	if msg == "" {
		msg = fmt.Sprintf("the upstream answered with status %d", resp.Status)
	}
	return &tools.CallError{Status: resp.Status, Type: openAIType(resp.Status, llm.ErrUpstream), Message: msg}
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
