package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider"
)

// chatCompletions serves POST /v1/chat/completions.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	body, aerr := readBody(w, r, s.maxBody)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	head, aerr := parseChat(body)
	st.rec.Model, st.rec.Stream = head.Model, head.Stream
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	dep, ok := s.models.Lookup(head.Model)
	if !ok {
		writeError(w, r, newAPIError(http.StatusNotFound, llm.ErrNotFound, "model_not_found",
			fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", head.Model)))
		return
	}
	st.rec.Provider, st.rec.UpstreamModel = dep.ProviderName, dep.UpstreamModel
	if head.Model != dep.UpstreamModel {
		body = setModel(body, dep.UpstreamModel)
	}
	s.relay(w, r, dep, &provider.Request{Op: provider.OpChat, Body: body, Stream: head.Stream})
}

// relay calls the deployment and forwards its answer to the client.
func (s *Server) relay(w http.ResponseWriter, r *http.Request, dep *provider.Deployment, preq *provider.Request) {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	resp, err := dep.Provider.Do(ctx, preq)
	if err != nil {
		aerr := upstreamCallError(r.Context(), dep.ModelName, err)
		if aerr.kind != llm.ErrClientCancelled {
			s.log.Warn("upstream call failed", "request_id", stateFrom(r.Context()).rec.RequestID, "model", dep.ModelName, "err", err)
		}
		writeError(w, r, aerr)
		return
	}
	defer resp.Body.Close()
	if resp.Status >= 400 {
		s.relayUpstreamError(w, r, resp)
		return
	}
	if preq.Stream {
		s.relayStream(ctx, w, r, resp, dep, cancel)
		return
	}
	s.relayJSON(w, r, resp)
}

// maxUpstreamJSON bounds a non-streaming upstream answer held in memory.
const maxUpstreamJSON = 64 << 20

func (s *Server) relayJSON(w http.ResponseWriter, r *http.Request, resp *provider.Response) {
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
	if u, ok := openai.UsageOf(b); ok {
		st.setUsage(u)
	}
	copyHeader(w.Header(), resp.Header, "Content-Type")
	w.WriteHeader(resp.Status)
	_, _ = w.Write(b)
}

// relayUpstreamError passes on the upstream's status with an error body in
// the client's dialect.
func (s *Server) relayUpstreamError(w http.ResponseWriter, r *http.Request, resp *provider.Response) {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	d, ok := openai.ParseError(b)
	msg := d.Message
	if !ok {
		msg = fmt.Sprintf("the upstream answered with status %d", resp.Status)
	}
	kind := llm.ErrUpstream
	switch {
	case resp.Status == http.StatusTooManyRequests:
		kind = llm.ErrRateLimit
	case resp.Status < 500:
		kind = llm.ErrInvalidRequest
	}
	code := ""
	if d.Code != nil {
		code = *d.Code
	}
	writeError(w, r, newAPIError(resp.Status, kind, code, msg))
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

var errStreamIdle = errors.New("upstream stream idle timeout")

// relayStream forwards an SSE stream as it arrives: each read is written and
// flushed at once, and a copy feeds the observer that picks out usage. A
// stream that ends without [DONE] was cut, and the client is told so with an
// error event rather than a made-up normal ending.
func (s *Server) relayStream(ctx context.Context, w http.ResponseWriter, r *http.Request, resp *provider.Response, dep *provider.Deployment, cancel context.CancelCauseFunc) {
	st := stateFrom(r.Context())
	copyHeader(w.Header(), resp.Header, "Content-Type")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(resp.Status)
	rc := http.NewResponseController(w)
	_ = rc.Flush()

	var idle *time.Timer
	if dep.StreamIdle > 0 {
		idle = time.AfterFunc(dep.StreamIdle, func() { cancel(errStreamIdle) })
		defer idle.Stop()
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var obs openai.StreamObserver
	for {
		n, err := resp.Body.Read(*bp)
		if n > 0 {
			if idle != nil {
				idle.Reset(dep.StreamIdle)
			}
			_, _ = obs.Write((*bp)[:n])
			if _, werr := w.Write((*bp)[:n]); werr != nil {
				st.setError(llm.ErrClientCancelled)
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			break
		}
	}
	if obs.SawUsage {
		st.setUsage(obs.Usage)
	}
	if obs.SawDone {
		return
	}
	if clientGone(r.Context()) {
		st.setError(llm.ErrClientCancelled)
		return
	}
	kind, msg := llm.ErrUpstreamCut, "the upstream stream ended before it was complete"
	if errors.Is(context.Cause(ctx), errStreamIdle) {
		kind, msg = llm.ErrUpstreamTimeout, fmt.Sprintf("the upstream sent nothing for %s", dep.StreamIdle)
	}
	st.setError(kind)
	s.log.Warn("upstream stream cut", "request_id", st.rec.RequestID, "model", dep.ModelName, "kind", kind)
	writeStreamError(w, msg)
	_ = rc.Flush()
}

// writeStreamError ends an OpenAI SSE stream with an error event, the form
// OpenAI itself uses for errors raised mid-stream.
func writeStreamError(w io.Writer, msg string) {
	b := openai.MarshalStreamError("api_error", "stream_cut", msg)
	_, _ = w.Write(b)
}

func copyHeader(dst, src http.Header, names ...string) {
	for _, n := range names {
		if v := src.Values(n); len(v) > 0 {
			dst[n] = v
		}
	}
}
