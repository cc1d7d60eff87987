package relay

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/memproxy/memproxy/gateway/dialect"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/track"
)

// relay calls the model (callModel) and forwards the answer. build makes
// the request for the deployment tried, since its dialect decides the
// body.
func (s *Pipeline) relay(w http.ResponseWriter, r *http.Request, x *exchange, build func(*exchange) (*provider.Request, *apiError)) {
	mc, aerr := s.callModel(r.Context(), r, x, build)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	defer mc.body.Close()
	if mc.req.Stream {
		s.relayStream(w, r, x, mc)
		return
	}
	s.relayJSON(w, r, x, mc)
}

// maxUpstreamJSON bounds a non-streaming upstream answer held in memory.
const maxUpstreamJSON = 64 << 20

func (s *Pipeline) relayJSON(w http.ResponseWriter, r *http.Request, x *exchange, mc *modelCall) {
	st := track.From(r.Context())
	b, err := io.ReadAll(io.LimitReader(mc.body, maxUpstreamJSON+1))
	if err != nil || len(b) > maxUpstreamJSON {
		if track.ClientGone(r.Context()) {
			st.SetError(llm.ErrClientCancelled)
			return
		}
		writeError(w, r, newAPIError(http.StatusBadGateway, llm.ErrUpstream, "upstream_read_error",
			"the upstream's answer could not be read in full"))
		return
	}
	b, u, err := x.route(mc.dep).Response(b, x.model)
	if err != nil {
		s.Log.Warn("upstream answer could not be translated", "request_id", st.Rec.RequestID, "err", err)
		writeError(w, r, newAPIError(http.StatusBadGateway, llm.ErrUpstream, "upstream_bad_response",
			"the upstream's answer could not be read: "+err.Error()))
		return
	}
	st.SetUsage(u)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(mc.resp.Status)
	if _, err := w.Write(b); err == nil {
		s.remember(x, b, nil)
		if x.scope != "" {
			s.answered(x, x.client.Answer(b))
		}
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// startStream writes the headers of an SSE answer and flushes them.
func startStream(w http.ResponseWriter, status int) io.Writer {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(status)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	return flushWriter{w: w, rc: rc}
}

// flushWriter flushes after every write, so each event leaves at once.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

// clientCopies adds to a client stream the copies the gateway keeps: the
// answer's fold for write-back (when there is a scope) and the bytes for
// the response cache (when the answer may be cached).
func clientCopies(out io.Writer, x *exchange) (io.Writer, dialect.Fold, *capped) {
	out = &deltaCounter{w: out, n: &x.delivered}
	var fold dialect.Fold
	if x.scope != "" {
		fold = x.client.NewFold()
		out = io.MultiWriter(out, fold)
	}
	var capture *capped
	if x.cacheKey != nil {
		capture = &capped{}
		out = io.MultiWriter(out, capture)
	}
	return out, fold, capture
}

// relayStream forwards a stream as it arrives: every upstream read goes
// through the exchange's sink (passthrough or translation) and is flushed
// at once. The call's body cuts a stream that goes silent.
func (s *Pipeline) relayStream(w http.ResponseWriter, r *http.Request, x *exchange, mc *modelCall) {
	st := track.From(r.Context())
	out, fold, capture := clientCopies(startStream(w, mc.resp.Status), x)
	sink := x.route(mc.dep).Sink(out, x.model, x.hideUsage, x.peek.IncludeUsage)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var readErr error
	for {
		n, err := mc.body.Read(*bp)
		if n > 0 {
			if _, werr := sink.Write((*bp)[:n]); werr != nil {
				partialUsage(st, x, sink)
				st.SetError(llm.ErrClientCancelled)
				return
			}
		}
		if err != nil {
			readErr = err
			break
		}
	}
	e := newAPIError(http.StatusBadGateway, llm.ErrUpstreamCut, "stream_cut", "the upstream stream ended before it was complete")
	if track.DrainCut(r.Context()) {
		e = track.ShutdownError()
	} else if errors.Is(readErr, errStreamIdle) {
		e = newAPIError(http.StatusGatewayTimeout, llm.ErrUpstreamTimeout, "upstream_timeout", "the upstream sent nothing for "+mc.dep.StreamIdle.String())
	}
	// Complete is judged before the client's presence: a client that
	// read the stream's proper end and left at once (Codex does) was
	// answered, and its turn is remembered.
	u, complete := sink.Finish(e)
	st.SetUsage(u)
	if !complete && track.ClientGone(r.Context()) {
		partialUsage(st, x, nil)
		st.SetError(llm.ErrClientCancelled)
		return
	}
	st.Complete = complete
	if !complete {
		partialUsage(st, x, nil)
		st.SetError(e.Kind)
		s.Log.Warn("upstream stream cut", "request_id", st.Rec.RequestID, "model", x.model, "kind", e.Kind)
		return
	}
	if fold != nil {
		s.answered(x, fold.Answer())
	}
	if capture != nil && !capture.over {
		s.remember(x, nil, capture.b.Bytes())
	}
}

// deltaCounter counts the deltas (content, tool-argument and text events:
// each carries a "delta" key in every dialect) a client was sent.
type deltaCounter struct {
	w io.Writer
	n *int64
}

var deltaKey = []byte(`"delta":`)

func (d *deltaCounter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	*d.n += int64(bytes.Count(p[:n], deltaKey))
	return n, err
}

// partialUsage gives the row of a stream that did not complete what is
// known of it: the usage the upstream reported so far (an Anthropic
// stream reports its input tokens first), else estimates — the request's
// bytes / 4 for the prompt and one token a delta delivered for the
// completion — so that a stream cut after 22 chunks is not logged as 0
// tokens. docs/configuration.md (usage log) says they are estimates.
func partialUsage(st *track.State, x *exchange, sink dialect.Sink) {
	if sink != nil && st.Usage == (llm.Usage{}) {
		st.SetUsage(sink.Usage())
	}
	u := st.Usage
	if u.PromptTokens == 0 {
		u.PromptTokens = x.promptEstimate
	}
	if u.CompletionTokens == 0 {
		u.CompletionTokens = max(x.delivered-1, 0) // the closing delta (stop reason) carries no token
	}
	st.SetUsage(u)
}
