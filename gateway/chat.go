package gateway

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"context"
	"errors"
	"fmt"
	"github.com/memproxy/memproxy/internal/telemetry"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/gemini"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/cache"
	"github.com/memproxy/memproxy/gateway/inject"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/provider"
)

// defaultMaxTokens is sent to Anthropic (which requires max_tokens) when an
// OpenAI-dialect client set none.
const defaultMaxTokens = 8192

// exchange is one completion request as the pipeline sees it: who speaks
// what, and what the client asked for.
type exchange struct {
	client string // the client's dialect
	dep    *provider.Deployment
	model  string // the model the client asked for
	stream bool
	// clientUsage: an OpenAI client asked for the usage chunk; hideUsage:
	// the gateway asked for it on its own account and hides it.
	clientUsage bool
	hideUsage   bool
	// For memory write-back: the scope retrieval used, the user's turn,
	// and what the usage row knows of the request.
	scope      memory.Scope
	userText   string
	requestID  string
	clientName string
	// cacheKey is set when the answer may be stored in the response cache.
	cacheKey *cache.Key
}

func (x *exchange) translated() bool { return x.client != x.dep.Dialect }

// completions serves a completion endpoint of a client dialect:
// /v1/chat/completions (OpenAI) or /v1/messages (Anthropic).
func (s *Server) completions(client string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		dep, body, head, ok := s.routeBody(w, r)
		if !ok {
			return
		}
		st := stateFrom(r.Context())
		x := &exchange{client: client, dep: dep, model: head.Model, stream: head.Stream,
			requestID: st.rec.RequestID, clientName: st.rec.Client}
		if client == dialectOpenAI {
			x.clientUsage = includesUsage(body)
		}
		release, ok := s.admit(w, r, len(body)/4)
		if !ok {
			return
		}
		defer release()
		if k, ok := s.cacheKey(r, x, body); ok {
			if s.serveCached(w, r, x, k) {
				return
			}
			x.cacheKey = &k
		}
		if s.opts.Memory.on(head.Model) {
			x.userText = inject.LastUserText(body)
		}
		body, st.mem = s.recall(w, r, x, body)
		if s.toolsOn(x) {
			s.toolLoop(w, r, x, body)
			return
		}
		s.relay(w, r, x, func(x *exchange) (*provider.Request, *apiError) {
			up, aerr := x.upstreamBody(body)
			if aerr != nil {
				return nil, aerr
			}
			return &provider.Request{Op: opOf(x.wire()), Body: up, Stream: x.stream, Header: s.upstreamHeaders(r, x)}, nil
		})
	}
}

// upstreamHeaders are the request headers a deployment sees besides its
// own credentials: the client's Anthropic headers for Anthropic, and for
// the Supermemory router the memory scope as x-sm-user-id (the scope
// retrieval used, or the default user_project one).
func (s *Server) upstreamHeaders(r *http.Request, x *exchange) http.Header {
	h := passHeaders(r, x.dep)
	if !x.dep.Supermemory {
		return h
	}
	sc := x.scope
	if sc == "" {
		id, _ := auth.FromContext(r.Context())
		sc = scopeFor(id, "user_project")
	}
	if sc != "" {
		if h == nil {
			h = http.Header{}
		}
		h.Set("X-Sm-User-Id", string(sc))
	}
	return h
}

// passHeaders are the client headers a deployment of the same family may
// see: Anthropic's version and beta flags reach Anthropic unchanged.
func passHeaders(r *http.Request, dep *provider.Deployment) http.Header {
	if dep.Dialect != dialectAnthropic {
		return nil
	}
	h := http.Header{}
	for _, k := range []string{"Anthropic-Version", "Anthropic-Beta"} {
		if v := r.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	return h
}

// relay calls the model through the router (retries, other deployments,
// fallbacks: all before the first byte reaches the client) and forwards
// the answer. build makes the request for the deployment tried, since
// its dialect decides the body.
func (s *Server) relay(w http.ResponseWriter, r *http.Request, x *exchange, build func(*exchange) (*provider.Request, *apiError)) {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	st := stateFrom(r.Context())
	var last exchange // the attempt that gave the answer (attempts run one after another)
	var preq *provider.Request
	var buildErr *apiError
	resp, dep, n, err := s.router.Call(ctx, x.model, func(ctx context.Context, d *provider.Deployment) (*provider.Response, error) {
		last = *x
		last.dep = d
		if preq, buildErr = build(&last); buildErr != nil {
			return nil, provider.ErrUnsupported // not retried, not held against the deployment
		}
		if !telemetry.Recording() {
			return d.Provider.Do(ctx, preq)
		}
		sctx, end := telemetry.Span(ctx, "provider.attempt", attribute.String("gen_ai.provider.name", d.ProviderName),
			attribute.String("memproxy.deployment", d.UpstreamModel), attribute.Bool("memproxy.stream", preq.Stream))
		resp, err := d.Provider.Do(sctx, preq)
		if resp != nil {
			trace.SpanFromContext(sctx).SetAttributes(attribute.Int("http.response.status_code", resp.Status))
		}
		end(err)
		return resp, err
	})
	if buildErr != nil {
		writeError(w, r, buildErr)
		return
	}
	if dep != nil {
		*x = last
		st.rec.Provider, st.rec.UpstreamModel = dep.ProviderName, dep.UpstreamModel
	}
	if n > 1 {
		s.log.Info("upstream retried", "request_id", st.rec.RequestID, "model", x.model, "deployment", x.dep.UpstreamModel, "attempts", n)
	}
	if err != nil {
		aerr := upstreamCallError(r.Context(), x.model, err)
		if aerr.kind != llm.ErrClientCancelled {
			s.log.Warn("upstream call failed", "request_id", st.rec.RequestID, "model", x.model, "attempts", n, "err", err)
		}
		writeError(w, r, aerr)
		return
	}
	defer resp.Body.Close()
	if resp.Status >= 400 {
		s.relayUpstreamError(w, r, x, resp)
		return
	}
	if preq.Stream {
		s.relayStream(ctx, w, r, x, resp, cancel)
		return
	}
	s.relayJSON(w, r, x, resp)
}

// maxUpstreamJSON bounds a non-streaming upstream answer held in memory.
const maxUpstreamJSON = 64 << 20

func (s *Server) relayJSON(w http.ResponseWriter, r *http.Request, x *exchange, resp *provider.Response) {
	st := stateFrom(r.Context())
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamJSON+1))
	if err != nil || len(b) > maxUpstreamJSON {
		if clientGone(r.Context()) {
			st.setError(llm.ErrClientCancelled)
			return
		}
		writeError(w, r, newAPIError(http.StatusBadGateway, llm.ErrUpstream, "upstream_read_error",
			"the upstream's answer could not be read in full"))
		return
	}
	b, u, err := x.clientBody(b)
	if err != nil {
		s.log.Warn("upstream answer could not be translated", "request_id", st.rec.RequestID, "err", err)
		writeError(w, r, newAPIError(http.StatusBadGateway, llm.ErrUpstream, "upstream_bad_response",
			"the upstream's answer could not be read: "+err.Error()))
		return
	}
	st.setUsage(u)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.Status)
	if _, err := w.Write(b); err == nil {
		s.remember(x, b, nil)
		if x.scope != "" {
			s.rememberAfter(x, answerText(x.client, b))
		}
	}
}

// relayUpstreamError passes on the upstream's status with its message, in
// the client's dialect.
func (s *Server) relayUpstreamError(w http.ResponseWriter, r *http.Request, x *exchange, resp *provider.Response) {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	msg, code := "", ""
	if wire := x.wire(); wire == dialectGemini {
		msg, code, _ = gemini.ParseError(b)
	} else if wire == dialectAnthropic {
		if d, ok := anthropic.ParseError(b); ok {
			msg, code = d.Message, d.Type
		}
	} else if d, ok := openai.ParseError(b); ok {
		msg = d.Message
		if d.Code != nil {
			code = *d.Code
		}
	}
	if msg == "" {
		msg = fmt.Sprintf("the upstream answered with status %d", resp.Status)
	}
	kind := llm.ErrUpstream
	switch {
	case resp.Status == http.StatusTooManyRequests:
		kind = llm.ErrRateLimit
	case resp.Status < 500:
		kind = llm.ErrInvalidRequest
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	writeError(w, r, newAPIError(resp.Status, kind, code, msg))
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

var errStreamIdle = errors.New("upstream stream idle timeout")

// relayStream forwards a stream as it arrives: every upstream read goes
// through the exchange's sink (passthrough or translation) and is flushed
// at once. An idle timer cuts a stream that goes silent.
func (s *Server) relayStream(ctx context.Context, w http.ResponseWriter, r *http.Request, x *exchange, resp *provider.Response, cancel context.CancelCauseFunc) {
	st := stateFrom(r.Context())
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(resp.Status)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	var out io.Writer = flushWriter{w: w, rc: rc}
	var fold *textFold
	if x.scope != "" {
		fold = newTextFold(x.client)
		out = io.MultiWriter(out, fold)
	}
	var capture *capped
	if x.cacheKey != nil {
		capture = &capped{}
		out = io.MultiWriter(out, capture)
	}
	sink := x.sink(out)

	idle := x.dep.StreamIdle
	var timer *time.Timer
	if idle > 0 {
		timer = time.AfterFunc(idle, func() { cancel(errStreamIdle) })
		defer timer.Stop()
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for {
		n, err := resp.Body.Read(*bp)
		if n > 0 {
			if timer != nil {
				timer.Reset(idle)
			}
			if _, werr := sink.Write((*bp)[:n]); werr != nil {
				st.setError(llm.ErrClientCancelled)
				return
			}
		}
		if err != nil {
			break
		}
	}
	if clientGone(r.Context()) {
		st.setError(llm.ErrClientCancelled)
		return
	}
	kind, msg := llm.ErrUpstreamCut, "the upstream stream ended before it was complete"
	if errors.Is(context.Cause(ctx), errStreamIdle) {
		kind, msg = llm.ErrUpstreamTimeout, fmt.Sprintf("the upstream sent nothing for %s", idle)
	}
	u, complete := sink.finish(msg)
	st.setUsage(u)
	if !complete {
		st.setError(kind)
		s.log.Warn("upstream stream cut", "request_id", st.rec.RequestID, "model", x.model, "kind", kind)
		return
	}
	if fold != nil {
		s.rememberAfter(x, fold.String())
	}
	if capture != nil && !capture.over {
		s.remember(x, nil, capture.b.Bytes())
	}
}
