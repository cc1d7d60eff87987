package relay

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/dialect"
	"github.com/memproxy/memproxy/gateway/inject"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/hybrid"
	"github.com/memproxy/memproxy/gateway/memory/writeback"
	"github.com/memproxy/memproxy/gateway/redact"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/internal/telemetry"
)

const (
	headerMemIDs = "X-Memproxy-Memories"
	headerMemMS  = "X-Memproxy-Memory-Ms"
)

// scopeFor derives the memory scope of an identity by policy; "" when the
// identity lacks a part the policy needs. Parts are escaped, so no user
// or project name can forge another scope's key.
func scopeFor(id *auth.Identity, policy string) memory.Scope {
	return memory.ScopeFor(policy, id.User, id.Project)
}

// MemoryDefaults fills the seed's defaults into unset memory options.
func MemoryDefaults(o *memory.Options) {
	if o.Policy == "" {
		o.Policy = "user_project"
	}
	if o.Query == "" {
		o.Query = inject.LastUser
	}
	if o.Inject == "" {
		o.Inject = inject.CacheAware
	}
	if o.MaxResults <= 0 {
		o.MaxResults = 5
	}
	if o.MaxChars <= 0 {
		o.MaxChars = 4000
	}
	if o.Budget <= 0 {
		o.Budget = 300 * time.Millisecond
	}
	if o.WriteBack == "" {
		o.WriteBack = "exchange"
	}
}

// recall retrieves the request's memories and injects them into body (in
// the client's dialect). It never fails the request: every problem is a
// status in the track.Receipt.
func (s *Pipeline) recall(w http.ResponseWriter, r *http.Request, x *exchange, body []byte) ([]byte, track.Receipt) {
	o := s.Memory
	if !o.On(x.model) {
		return body, track.Receipt{Status: track.MemOff}
	}
	if r.Header.Get("X-Memory-Disable") == "1" {
		return body, track.Receipt{Status: track.MemOptedOut}
	}
	if reason, side := sideRequest(r, x); side {
		s.Log.Debug("side request: no memory", "request_id", x.requestID, "reason", reason)
		return body, track.Receipt{Status: track.MemSide}
	}
	id, _ := auth.FromContext(r.Context())
	rc := track.Receipt{Scope: scopeFor(id, o.Policy)}
	if rc.Scope == "" {
		rc.Status = track.MemNoScope
		return body, rc
	}
	x.scope = rc.Scope
	conv := x.peek.Conversation()
	clean := cleaner(x.clientName)
	at, text, cont := humanOf(x)
	x.userText = text
	st := track.From(r.Context())
	x.session, x.user, x.project, x.turnIndex = st.Rec.SessionID, st.Rec.User, st.Rec.Project, at
	x.turn = turnKey(rc.Scope, x.session, at, text)
	q := conv.Query(o.Query, clean)
	rc.Query = q
	if t, ok := s.turns.get(x.turn); ok && cont {
		rc.Reused = true
		return s.injectBlock(w, r, x, body, rc, t, at)
	}
	if q == "" {
		rc.Status = track.MemNoQuery
		return body, rc
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), o.Budget)
	// The span names the backend and counts; the query and the scope's
	// names stay out of it.
	sctx, end := telemetry.Span(ctx, "memory.retrieve", attribute.String("memproxy.memory.backend", o.BackendName),
		attribute.Int("memproxy.memory.max_results", o.MaxResults))
	var hi hybrid.SearchInfo // filled by a hybrid backend (memory_embed.go)
	found, err := o.Backend.Search(hybrid.WithInfo(sctx, &hi), rc.Scope, q, o.MaxResults)
	if span := trace.SpanFromContext(sctx); span.IsRecording() {
		span.SetAttributes(attribute.Int("memproxy.memory.results", len(found)))
	}
	end(err)
	cancel()
	rc.MS = ms(time.Since(start))
	w.Header().Set(headerMemMS, strconv.FormatFloat(rc.MS, 'f', 1, 64))
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		rc.Status = track.MemTimeout
		s.Log.Warn("memory retrieval over budget; going on without memories", "request_id", track.From(r.Context()).Rec.RequestID, "budget", o.Budget)
		return body, rc
	case err != nil:
		rc.Status = track.MemError
		s.Log.Warn("memory retrieval failed; going on without memories", "request_id", track.From(r.Context()).Rec.RequestID, "err", err)
		return body, rc
	}
	var items []inject.Item
	for _, m := range found {
		if m.Score >= o.Threshold {
			items = append(items, inject.Item{ID: m.ID, Content: m.Content})
			rc.Scores = append(rc.Scores, m.Score)
		}
	}
	block, ids := inject.Fence(items, o.MaxChars)
	if len(ids) == 0 {
		rc.Status, rc.Scores = track.MemEmpty, nil
		return body, lexicalOnly(rc, hi)
	}
	t := turnRecall{block: block, ids: ids, scores: rc.Scores[:len(ids)]}
	s.turns.put(x.turn, t)
	out, rc := s.injectBlock(w, r, x, body, rc, t, at)
	return out, lexicalOnly(rc, hi)
}

// injectBlock puts a turn's memories into body at the turn's human
// message (by the configured strategy) and fills the track.Receipt.
func (s *Pipeline) injectBlock(w http.ResponseWriter, r *http.Request, x *exchange, body []byte, rc track.Receipt, t turnRecall, at int) ([]byte, track.Receipt) {
	out, err := inject.Apply(x.client.Layout(), body, s.Memory.Inject, t.block, at)
	if err != nil {
		rc.Status, rc.Scores = track.MemNoPlace, nil
		if !errors.Is(err, inject.ErrNoPlace) {
			s.Log.Warn("memory injection failed", "request_id", track.From(r.Context()).Rec.RequestID, "err", err)
		}
		return body, rc
	}
	rc.Status, rc.IDs, rc.Scores = track.MemInjected, t.ids, t.scores
	w.Header().Set(headerMemIDs, strings.Join(t.ids, ","))
	return out, rc
}

// answered is called with the answer a client received in full. An answer
// that calls tools does not end the agent's turn: the turn is written back
// once, with the answer that ends it.
func (s *Pipeline) answered(x *exchange, a dialect.Answer) {
	if a.ToolCalls || x.turn == "" || !s.turns.firstWrite(x.turn) {
		return
	}
	s.rememberAfter(x, a.Text)
}

// rememberAfter queues the exchange for write-back, off the request path:
// the job is journaled (durable) before it returns.
func (s *Pipeline) rememberAfter(x *exchange, answer string) {
	o := s.Memory
	if x.scope == "" || o == nil || o.WriteBack == "off" || s.Writes == nil {
		return
	}
	job := writeback.Job{Scope: string(x.scope), User: x.userText, Answer: answer, RequestID: x.requestID, Client: x.clientName,
		Model: x.model, Session: x.session, Turn: x.turn,
		Meta: map[string]string{"user": x.user, "project": x.project, "turn_index": strconv.Itoa(x.turnIndex)}}
	if err := s.Writes.Enqueue(job); err != nil {
		s.Log.Error("memory write-back not journaled; exchange not remembered", "request_id", x.requestID, "err", err)
	}
}

// memoryText is what write-back stores: the user's turn (and the answer,
// in exchange mode), with recalled memories stripped, so they are never

// memoryText is what write-back stores: the user's turn (and the answer,
// in exchange mode), with recalled memories stripped, so they are never
// stored again, and secrets redacted.
func memoryText(mode string, j writeback.Job) string {
	user := strings.TrimSpace(redact.String(inject.Strip(j.User)))
	if user == "" {
		return ""
	}
	if mode == "user_only" {
		return memory.Clip(user)
	}
	answer := strings.TrimSpace(redact.String(inject.Strip(j.Answer)))
	if answer == "" {
		return memory.Clip(user)
	}
	return memory.Clip("User: " + user + "\nAssistant: " + answer)
}
