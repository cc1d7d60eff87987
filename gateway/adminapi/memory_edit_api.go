package adminapi

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/track"
)

// The memory API's lifecycle routes (see memoryRoutes): history, a
// person's edit, listing superseded memories, and the source of what the
// API adds. They use memory.Lifecycle; a backend without it (or that
// cannot do the operation, as Supermemory) answers 501 memory_unsupported.

// addMemory stores what POST /v1/memory was given. With a Lifecycle
// backend the memory is sourced to the caller's client ("api" when the
// client is not recognised) and may carry hidden keys; without one, keys
// are refused rather than dropped.
func (s *API) addMemory(r *http.Request, sc memory.Scope, content string, meta map[string]string, keys string) (memory.Memory, bool, error) {
	b := s.Memory.Backend
	l, err := memory.LifecycleOf(b)
	if err != nil {
		if keys != "" {
			return memory.Memory{}, false, err
		}
		return b.Add(r.Context(), sc, content, meta)
	}
	client := "api"
	if id, _ := auth.FromContext(r.Context()); id != nil && id.Client != "" && id.Client != config.UnknownClient {
		client = id.Client
	}
	return l.AddWith(r.Context(), sc, content, memory.AddOptions{Metadata: meta, Keys: keys, Source: memory.Source{Client: client}})
}

// memHistory serves GET /v1/memory/{id}/history: the memory's supersede
// chain, oldest first.
func (s *API) memHistory(w http.ResponseWriter, r *http.Request, sc memory.Scope) {
	l, err := memory.LifecycleOf(s.Memory.Backend)
	if err != nil {
		s.memError(w, r, err)
		return
	}
	ms, err := l.History(r.Context(), sc, mux.Vars(r)["id"])
	if err != nil {
		s.memError(w, r, err)
		return
	}
	track.WriteJSON(w, http.StatusOK, map[string]any{"object": "list", "scope": sc, "id": mux.Vars(r)["id"], "data": toJSON(ms, false)})
}

// memEdit serves PUT /v1/memory/{id} {"content": …}: a person's correction,
// which supersedes the memory (memory.Lifecycle.Update); the answer is the
// new memory and the id it replaced.
func (s *API) memEdit(w http.ResponseWriter, r *http.Request, sc memory.Scope) {
	var in struct {
		Content *string `json:"content"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, memory.MaxContentBytes+64<<10)).Decode(&in); err != nil || in.Content == nil {
		track.WriteError(w, r, track.NewError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_json", "body must be {\"content\": \"…\"}"))
		return
	}
	l, err := memory.LifecycleOf(s.Memory.Backend)
	if err != nil {
		s.memError(w, r, err)
		return
	}
	id := mux.Vars(r)["id"]
	m, err := l.Update(r.Context(), sc, id, *in.Content)
	if err != nil {
		s.memError(w, r, err)
		return
	}
	track.WriteJSON(w, http.StatusOK, map[string]any{"memory": toJSON([]memory.Memory{m}, false)[0], "supersedes": id, "changed": m.ID != id})
}
