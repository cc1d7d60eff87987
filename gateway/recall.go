package gateway

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
	"github.com/memproxy/memproxy/internal/telemetry"
)

// MemoryOptions configure retrieval, injection and write-back (the seed's
// context_retrieval block). A nil Backend or Enabled false turns memory off.
type MemoryOptions struct {
	Enabled     bool
	Backend     memory.Backend
	BackendName string
	// Policy derives the scope: "user", "project" or "user_project".
	Policy string
	// Query and Inject are inject's strategy names.
	Query, Inject string
	MaxResults    int
	// MaxChars bounds the injected block (whole memories dropped first).
	MaxChars int
	// Threshold drops memories scoring below it (0 keeps all).
	Threshold float64
	// Budget bounds retrieval; past it the request goes on without
	// memories (fail-open).
	Budget      time.Duration
	EnabledFor  []string
	DisabledFor []string
	// WriteBack is "off", "user_only" or "exchange".
	WriteBack string
}

// Memory statuses recorded in the usage row.
const (
	memOff       = "off"          // memory disabled for this model or gateway
	memOptedOut  = "opted_out"    // x-memory-disable: 1
	memNoScope   = "no_scope"     // the identity lacks what the policy needs
	memSide      = "side_request" // a title, probe, compaction… the client makes on its own
	memNoQuery   = "no_query"     // nothing to search with
	memEmpty     = "empty"        // searched, nothing relevant
	memInjected  = "injected"     // memories added to the prompt
	memNoPlace   = "no_place"     // nowhere to put them (e.g. a tool-result turn)
	memTimeout   = "timeout"      // retrieval ran past its budget
	memError     = "error"        // the backend failed
	headerMemIDs = "X-Memproxy-Memories"
	headerMemMS  = "X-Memproxy-Memory-Ms"
)

// receipt is what retrieval did for one request.
type receipt struct {
	status string
	scope  memory.Scope
	ids    []string
	scores []float64
	ms     float64
	// query is the text retrieval searched with; reused marks memories
	// reused from the turn's first call.
	query  string
	reused bool
}

// scopeFor derives the memory scope of an identity by policy; "" when the
// identity lacks a part the policy needs. Parts are escaped, so no user
// or project name can forge another scope's key.
func scopeFor(id *auth.Identity, policy string) memory.Scope {
	return memory.ScopeFor(policy, id.User, id.Project)
}

// defaults fills the seed's defaults into unset options.
func (o *MemoryOptions) defaults() {
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

func (o *MemoryOptions) on(model string) bool {
	if o == nil || !o.Enabled || o.Backend == nil {
		return false
	}
	for _, m := range o.DisabledFor {
		if m == model {
			return false
		}
	}
	if len(o.EnabledFor) == 0 {
		return true
	}
	for _, m := range o.EnabledFor {
		if m == model {
			return true
		}
	}
	return false
}

// recall retrieves the request's memories and injects them into body (in
// the client's dialect). It never fails the request: every problem is a
// status in the receipt.
func (s *Server) recall(w http.ResponseWriter, r *http.Request, x *exchange, body []byte) ([]byte, receipt) {
	o := s.opts.Memory
	if !o.on(x.model) {
		return body, receipt{status: memOff}
	}
	if r.Header.Get("X-Memory-Disable") == "1" {
		return body, receipt{status: memOptedOut}
	}
	if reason, side := sideRequest(r, x); side {
		s.log.Debug("side request: no memory", "request_id", x.requestID, "reason", reason)
		return body, receipt{status: memSide}
	}
	id, _ := auth.FromContext(r.Context())
	rc := receipt{scope: scopeFor(id, o.Policy)}
	if rc.scope == "" {
		rc.status = memNoScope
		return body, rc
	}
	x.scope = rc.scope
	conv := x.peek.Conversation()
	clean := cleaner(x.clientName)
	at, text, cont := humanOf(x)
	x.userText = text
	st := stateFrom(r.Context())
	x.session, x.user, x.project, x.turnIndex = st.rec.SessionID, st.rec.User, st.rec.Project, at
	x.turn = turnKey(rc.scope, x.session, at, text)
	q := conv.Query(o.Query, clean)
	rc.query = q
	if t, ok := s.turns.get(x.turn); ok && cont {
		rc.reused = true
		return s.injectBlock(w, r, x, body, rc, t, at)
	}
	if q == "" {
		rc.status = memNoQuery
		return body, rc
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), o.Budget)
	// The span names the backend and counts; the query and the scope's
	// names stay out of it.
	sctx, end := telemetry.Span(ctx, "memory.retrieve", attribute.String("memproxy.memory.backend", o.BackendName),
		attribute.Int("memproxy.memory.max_results", o.MaxResults))
	var hi hybrid.SearchInfo // filled by a hybrid backend (memory_embed.go)
	found, err := o.Backend.Search(hybrid.WithInfo(sctx, &hi), rc.scope, q, o.MaxResults)
	if span := trace.SpanFromContext(sctx); span.IsRecording() {
		span.SetAttributes(attribute.Int("memproxy.memory.results", len(found)))
	}
	end(err)
	cancel()
	rc.ms = ms(time.Since(start))
	w.Header().Set(headerMemMS, strconv.FormatFloat(rc.ms, 'f', 1, 64))
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		rc.status = memTimeout
		s.log.Warn("memory retrieval over budget; going on without memories", "request_id", stateFrom(r.Context()).rec.RequestID, "budget", o.Budget)
		return body, rc
	case err != nil:
		rc.status = memError
		s.log.Warn("memory retrieval failed; going on without memories", "request_id", stateFrom(r.Context()).rec.RequestID, "err", err)
		return body, rc
	}
	var items []inject.Item
	for _, m := range found {
		if m.Score >= o.Threshold {
			items = append(items, inject.Item{ID: m.ID, Content: m.Content})
			rc.scores = append(rc.scores, m.Score)
		}
	}
	block, ids := inject.Fence(items, o.MaxChars)
	if len(ids) == 0 {
		rc.status, rc.scores = memEmpty, nil
		return body, lexicalOnly(rc, hi)
	}
	t := turnRecall{block: block, ids: ids, scores: rc.scores[:len(ids)]}
	s.turns.put(x.turn, t)
	out, rc := s.injectBlock(w, r, x, body, rc, t, at)
	return out, lexicalOnly(rc, hi)
}

// injectBlock puts a turn's memories into body at the turn's human
// message (by the configured strategy) and fills the receipt.
func (s *Server) injectBlock(w http.ResponseWriter, r *http.Request, x *exchange, body []byte, rc receipt, t turnRecall, at int) ([]byte, receipt) {
	out, err := inject.Apply(x.client.Layout(), body, s.opts.Memory.Inject, t.block, at)
	if err != nil {
		rc.status, rc.scores = memNoPlace, nil
		if !errors.Is(err, inject.ErrNoPlace) {
			s.log.Warn("memory injection failed", "request_id", stateFrom(r.Context()).rec.RequestID, "err", err)
		}
		return body, rc
	}
	rc.status, rc.ids, rc.scores = memInjected, t.ids, t.scores
	w.Header().Set(headerMemIDs, strings.Join(t.ids, ","))
	return out, rc
}

// answered is called with the answer a client received in full. An answer
// that calls tools does not end the agent's turn: the turn is written back
// once, with the answer that ends it.
func (s *Server) answered(x *exchange, a dialect.Answer) {
	if a.ToolCalls || x.turn == "" || !s.turns.firstWrite(x.turn) {
		return
	}
	s.rememberAfter(x, a.Text)
}

// rememberAfter queues the exchange for write-back, off the request path:
// the job is journaled (durable) before it returns.
func (s *Server) rememberAfter(x *exchange, answer string) {
	o := s.opts.Memory
	if x.scope == "" || o == nil || o.WriteBack == "off" || s.writes == nil {
		return
	}
	job := writeback.Job{Scope: string(x.scope), User: x.userText, Answer: answer, RequestID: x.requestID, Client: x.clientName,
		Model: x.model, Session: x.session, Turn: x.turn,
		Meta: map[string]string{"user": x.user, "project": x.project, "turn_index": strconv.Itoa(x.turnIndex)}}
	if err := s.writes.Enqueue(job); err != nil {
		s.log.Error("memory write-back not journaled; exchange not remembered", "request_id", x.requestID, "err", err)
	}
}

// memoryText is what write-back stores: the user's turn (and the answer,
// in exchange mode), with recalled memories stripped, so they are never
// stored again, and secrets redacted.
func memoryText(mode string, j writeback.Job) string {
	user := strings.TrimSpace(redact.String(inject.Strip(j.User)))
	if user == "" {
		return ""
	}
	if mode == "user_only" {
		return clip(user)
	}
	answer := strings.TrimSpace(redact.String(inject.Strip(j.Answer)))
	if answer == "" {
		return clip(user)
	}
	return clip("User: " + user + "\nAssistant: " + answer)
}

// clip keeps a memory within the size every backend accepts.
func clip(s string) string {
	if len(s) <= memory.MaxContentBytes {
		return s
	}
	return truncate(s, memory.MaxContentBytes)
}

func truncate(s string, n int) string {
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
