package adminapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/gateway/usage"
)

// The memory API: the caller's own scope only (derived from its identity
// exactly as retrieval derives it), whatever the request says.
//
//	GET    /v1/memory/search?q=…&limit=N   search
//	POST   /v1/memory                      add {"content","metadata"}
//	GET    /v1/memory?cursor=…&limit=N     list, newest first
//	GET    /v1/memory/{id}                 get
//	DELETE /v1/memory/{id}                 delete
//	DELETE /v1/memory?all=true             delete every memory of the scope
//	GET    /v1/memory/why/{request_id}     what memory did for a request
//	GET    /v1/memory/{id}/history         what superseded what (memory_edit_api.go)
//	PUT    /v1/memory/{id}                 a person's edit {"content"}: supersedes
//	GET    /v1/memory?include_superseded=true  list superseded memories too
func (s *API) memoryRoutes(r *mux.Router) {
	h := func(f func(http.ResponseWriter, *http.Request, memory.Scope)) http.Handler {
		return s.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sc, ok := s.memoryScope(w, r)
			if ok {
				f(w, r, sc)
			}
		}))
	}
	for _, p := range []string{"/v1/memory", "/memory"} {
		r.Handle(p+"/search", h(s.memSearch)).Methods(http.MethodGet)
		r.Handle(p+"/why/{request_id}", h(s.memoryWhy)).Methods(http.MethodGet)
		r.Handle(p, h(s.memAdd)).Methods(http.MethodPost)
		r.Handle(p, h(s.memList)).Methods(http.MethodGet)
		r.Handle(p, h(s.memDeleteAll)).Methods(http.MethodDelete)
		r.Handle(p+"/{id}", h(s.memGet)).Methods(http.MethodGet)
		r.Handle(p+"/{id}", h(s.memDelete)).Methods(http.MethodDelete)
		r.Handle(p+"/{id}", h(s.memEdit)).Methods(http.MethodPut)
		r.Handle(p+"/{id}/history", h(s.memHistory)).Methods(http.MethodGet)
	}
}

// memoryScope is the caller's scope, or an answer saying why there is none.
func (s *API) memoryScope(w http.ResponseWriter, r *http.Request) (memory.Scope, bool) {
	o := s.Memory
	if o == nil || !o.Enabled || o.Backend == nil {
		track.WriteError(w, r, track.NewError(http.StatusNotFound, llm.ErrNotFound, "memory_disabled", "memory is not enabled on this gateway (context_retrieval.enabled)"))
		return "", false
	}
	id, _ := auth.FromContext(r.Context())
	sc := scopeFor(id, o.Policy)
	if sc == "" {
		track.WriteError(w, r, track.NewError(http.StatusBadRequest, llm.ErrInvalidRequest, "no_scope",
			"the request has no memory scope: the "+o.Policy+" policy needs a user and a project (x-memory-project over plain HTTP)"))
		return "", false
	}
	return sc, true
}

// memoryJSON is a memory as the API shows it (never its hidden keys).
type memoryJSON struct {
	ID           string            `json:"id"`
	Content      string            `json:"content"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	Score        *float64          `json:"score,omitempty"`
	Status       string            `json:"status"`
	SupersededBy string            `json:"superseded_by,omitempty"`
	ValidTo      *time.Time        `json:"valid_to,omitempty"`
	Source       *memory.Source    `json:"source,omitempty"`
}

func toJSON(ms []memory.Memory, scored bool) []memoryJSON {
	out := make([]memoryJSON, len(ms))
	for i, m := range ms {
		out[i] = memoryJSON{ID: m.ID, Content: m.Content, Metadata: m.Metadata, CreatedAt: m.CreatedAt,
			Status: memory.StatusOf(m.SupersededBy), SupersededBy: m.SupersededBy}
		if !m.ValidTo.IsZero() {
			out[i].ValidTo = &m.ValidTo
		}
		if m.Source != (memory.Source{}) {
			out[i].Source = &m.Source
		}
		if scored {
			sc := m.Score
			out[i].Score = &sc
		}
	}
	return out
}

func (s *API) memError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, memory.ErrNotFound):
		track.WriteError(w, r, track.NewError(http.StatusNotFound, llm.ErrNotFound, "memory_not_found", "no such memory in your scope"))
	case errors.Is(err, memory.ErrInvalidContent), errors.Is(err, memory.ErrInvalidMetadata), errors.Is(err, memory.ErrInvalidCursor):
		track.WriteError(w, r, track.NewError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_memory", err.Error()))
	case errors.Is(err, memory.ErrSuperseded):
		track.WriteError(w, r, track.NewError(http.StatusConflict, llm.ErrInvalidRequest, "memory_superseded",
			"this memory has been superseded; edit its newest version (see its history)"))
	case errors.Is(err, memory.ErrUnsupported):
		track.WriteError(w, r, track.NewError(http.StatusNotImplemented, llm.ErrInvalidRequest, "memory_unsupported", err.Error()))
	default:
		s.Log.Warn("memory backend failed", "err", err)
		track.WriteError(w, r, track.NewError(http.StatusServiceUnavailable, llm.ErrUnavailable, "memory_unavailable", "the memory store could not be reached"))
	}
}

func limitParam(r *http.Request) int {
	n, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	return memory.ClampLimit(n)
}

func (s *API) memSearch(w http.ResponseWriter, r *http.Request, sc memory.Scope) {
	ms, err := s.Memory.Backend.Search(r.Context(), sc, r.URL.Query().Get("q"), limitParam(r))
	if err != nil {
		s.memError(w, r, err)
		return
	}
	track.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "scope": sc, "data": toJSON(ms, true)})
}

func (s *API) memAdd(w http.ResponseWriter, r *http.Request, sc memory.Scope) {
	var in struct {
		Content  string            `json:"content"`
		Metadata map[string]string `json:"metadata"`
		Keys     string            `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, memory.MaxContentBytes+64<<10)).Decode(&in); err != nil {
		track.WriteError(w, r, track.NewError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_json", "body must be {\"content\": \"…\", \"metadata\": {…}}"))
		return
	}
	m, created, err := s.addMemory(r, sc, in.Content, in.Metadata, in.Keys)
	if err != nil {
		s.memError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	track.WriteJSON(w, status, map[string]any{"memory": toJSON([]memory.Memory{m}, false)[0], "created": created})
}

func (s *API) memList(w http.ResponseWriter, r *http.Request, sc memory.Scope) {
	o := memory.ListOptions{Cursor: r.URL.Query().Get("cursor"), Limit: limitParam(r), IncludeSuperseded: r.URL.Query().Get("include_superseded") == "true"}
	ms, next, err := memory.ListWith(r.Context(), s.Memory.Backend, sc, o)
	if err != nil {
		s.memError(w, r, err)
		return
	}
	track.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "scope": sc, "data": toJSON(ms, false), "next_cursor": next})
}

func (s *API) memGet(w http.ResponseWriter, r *http.Request, sc memory.Scope) {
	m, err := s.Memory.Backend.Get(r.Context(), sc, mux.Vars(r)["id"])
	if err != nil {
		s.memError(w, r, err)
		return
	}
	track.WriteJSON(w, http.StatusOK, toJSON([]memory.Memory{m}, false)[0])
}

func (s *API) memDelete(w http.ResponseWriter, r *http.Request, sc memory.Scope) {
	if err := s.Memory.Backend.Delete(r.Context(), sc, mux.Vars(r)["id"]); err != nil {
		s.memError(w, r, err)
		return
	}
	track.WriteJSON(w, http.StatusOK, map[string]any{"deleted": mux.Vars(r)["id"]})
}

func (s *API) memDeleteAll(w http.ResponseWriter, r *http.Request, sc memory.Scope) {
	if r.URL.Query().Get("all") != "true" {
		track.WriteError(w, r, track.NewError(http.StatusBadRequest, llm.ErrInvalidRequest, "confirm_required", "deleting every memory of your scope needs ?all=true"))
		return
	}
	n, err := s.Memory.Backend.DeleteAll(r.Context(), sc)
	if err != nil {
		s.memError(w, r, err)
		return
	}
	track.WriteJSON(w, http.StatusOK, map[string]any{"deleted": n, "scope": sc})
}

// routingInfo serves GET /memory-routing/info (the seed's endpoint,
// extended): who the gateway takes the caller to be, and where its
// memories live.
func (s *API) routingInfo(w http.ResponseWriter, r *http.Request) {
	id, _ := auth.FromContext(r.Context())
	info := map[string]any{
		"user": id.User, "project": id.Project, "client": id.Client, "matched_pattern": id.ClientPattern,
		"user_rule": id.UserRule, "ingress": id.Ingress, "memory_enabled": false,
	}
	if o := s.Memory; o != nil && o.Enabled && o.Backend != nil {
		info["memory_enabled"], info["scope"], info["scope_policy"], info["backend"] = true, scopeFor(id, o.Policy), o.Policy, o.BackendName
	}
	track.WriteJSON(w, http.StatusOK, info)
}

// memoryWhy serves GET /v1/memory/why/{request_id}: what memory did for a
// request of the caller's scope — its status, the memories injected (as
// they are now; deleted ones are named) and the retrieval time.
func (s *API) memoryWhy(w http.ResponseWriter, r *http.Request, sc memory.Scope) {
	reqID := mux.Vars(r)["request_id"]
	id, _ := auth.FromContext(r.Context())
	recs, err := s.DB.QueryUsage(r.Context(), usage.Filter{RequestID: reqID, Limit: 1})
	if err != nil {
		s.memError(w, r, err)
		return
	}
	if len(recs) == 0 || (!id.Admin && recs[0].User != id.User) || scopeFor(&auth.Identity{User: recs[0].User, Project: recs[0].Project}, s.Memory.Policy) != sc {
		track.WriteError(w, r, track.NewError(http.StatusNotFound, llm.ErrNotFound, "request_not_found", "no request "+reqID+" in your scope (rows are written a moment after the answer)"))
		return
	}
	rec := recs[0]
	type shown struct {
		ID      string   `json:"id"`
		Content string   `json:"content,omitempty"`
		Score   *float64 `json:"score,omitempty"`
		Deleted bool     `json:"deleted,omitempty"`
	}
	rc, known := s.Receipts.Get(rec.RequestID)
	var ms []shown
	for i, mid := range strings.Split(rec.MemoryIDs, ",") {
		if mid == "" {
			continue
		}
		m, err := s.Memory.Backend.Get(r.Context(), sc, mid)
		sh := shown{ID: mid, Content: m.Content, Deleted: err != nil}
		if known && i < len(rc.Scores) {
			sh.Score = &rc.Scores[i]
		}
		ms = append(ms, sh)
	}
	out := map[string]any{
		"request_id": rec.RequestID, "scope": sc, "status": rec.MemoryStatus, "retrieval_ms": rec.MemoryMS,
		"strategy": map[string]string{"query": s.Memory.Query, "injection": s.Memory.Inject},
		"memories": ms, "explanation": whyText(rec.MemoryStatus),
	}
	if known {
		out["query"], out["reused_from_turn"] = rc.Query, rc.Reused
	}
	track.WriteJSON(w, http.StatusOK, out)
}

// whyText says in words what a memory status means.
func whyText(status string) string {
	switch status {
	case track.MemInjected:
		return "these memories matched the request's query and were injected, fenced as data"
	case track.MemEmpty:
		return "retrieval ran but no memory of the scope matched well enough"
	case track.MemTimeout:
		return "retrieval ran past its time budget; the request went on without memories"
	case track.MemError:
		return "the memory backend failed; the request went on without memories"
	case track.MemSide:
		return "a request the client makes on its own (a title, a probe, a compaction): no memory for it"
	case track.MemOptedOut:
		return "the client asked for no memories (x-memory-disable: 1)"
	case track.MemNoQuery:
		return "the request had no text to search with"
	case track.MemNoPlace:
		return "memories matched but the request had no place for them (e.g. a tool-result turn)"
	case track.MemOff, "":
		return "memory was off for this model or request"
	default:
		return status
	}
}

// scopeFor derives the memory scope of an identity by policy, exactly as
// retrieval does (memory.ScopeFor).
func scopeFor(id *auth.Identity, policy string) memory.Scope {
	return memory.ScopeFor(policy, id.User, id.Project)
}
