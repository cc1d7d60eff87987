package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/internal/version"
)

// startedAt stands in for a model's creation time in /v1/models, which
// OpenAI's format requires and a gateway alias does not have.
var startedAt = time.Now().Unix()

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// health serves GET /health without authentication: it says whether the
// gateway and its database answer, and nothing about keys or config.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() { // shutting down: balancers take this replica out at once
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining", "version": version.Version})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, db, code := "healthy", "ok", http.StatusOK
	if err := s.db.Ping(ctx); err != nil {
		status, db, code = "degraded", "unreachable", http.StatusServiceUnavailable
	}
	out := map[string]any{
		"status":              status,
		"version":             version.Version,
		"database":            db,
		"usage_pending":       s.usage.Len(),
		"usage_journal_bytes": s.usage.JournalBytes(),
	}
	if s.writes != nil {
		ws := s.writes.Stats()
		out["memory_writeback_pending"], out["memory_writeback_stuck"] = ws.Pending, ws.Stuck
	}
	writeJSON(w, code, out)
}

// listModels serves GET /v1/models in OpenAI's list format, or Anthropic's
// when the request carries anthropic-version.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	names := s.visibleModels(r)
	if r.Header.Get("Anthropic-Version") != "" {
		s.anthropicModels(w, names)
		return
	}
	list := openai.ModelList{Object: "list", Data: make([]openai.Model, 0, len(names))}
	for _, name := range names {
		d, _ := s.models.Lookup(name)
		list.Data = append(list.Data, openai.Model{ID: name, Object: "model", Created: startedAt, OwnedBy: d.ProviderName})
	}
	writeJSON(w, http.StatusOK, list)
}

// visibleModels are the model names the caller's key may use: all of them,
// unless the key carries a model allow list.
func (s *Server) visibleModels(r *http.Request) []string {
	all := s.models.Names()
	id, ok := auth.FromContext(r.Context())
	if !ok || len(id.Key.Models) == 0 {
		return all
	}
	out := make([]string, 0, len(all))
	for _, n := range all {
		if id.Key.AllowsModel(n) {
			out = append(out, n)
		}
	}
	return out
}
