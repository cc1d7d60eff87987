package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/usage"
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
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, db, code := "healthy", "ok", http.StatusOK
	if err := s.db.Ping(ctx); err != nil {
		status, db, code = "degraded", "unreachable", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{
		"status":        status,
		"version":       version.Version,
		"database":      db,
		"usage_pending": s.usage.Len(),
	})
}

// listModels serves GET /v1/models in OpenAI's list format, or Anthropic's
// when the request carries anthropic-version.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Anthropic-Version") != "" {
		s.anthropicModels(w)
		return
	}
	list := openai.ModelList{Object: "list", Data: make([]openai.Model, 0, len(s.models.Names()))}
	for _, name := range s.models.Names() {
		d, _ := s.models.Lookup(name)
		list.Data = append(list.Data, openai.Model{ID: name, Object: "model", Created: startedAt, OwnedBy: d.ProviderName})
	}
	writeJSON(w, http.StatusOK, list)
}

// queryUsage serves GET /v1/usage (master key): usage rows, newest first,
// filtered by user, project, client, model, since and until (RFC 3339 or a
// duration back from now such as 24h), up to limit (default 100, max 10000).
func (s *Server) queryUsage(w http.ResponseWriter, r *http.Request) {
	if !requireAdmin(w, r) {
		return
	}
	q := r.URL.Query()
	f := usage.Filter{User: q.Get("user"), Project: q.Get("project"), Client: q.Get("client"), Model: q.Get("model"), Limit: 100}
	var aerr *apiError
	if f.Since, aerr = parseTime("since", q.Get("since")); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	if f.Until, aerr = parseTime("until", q.Get("until")); aerr != nil {
		writeError(w, r, aerr)
		return
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, r, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_limit", "limit must be a number from 1 to 10000"))
			return
		}
		f.Limit = n
	}
	recs, err := s.db.QueryUsage(r.Context(), f)
	if err != nil {
		s.log.Error("usage query failed", "err", err)
		writeError(w, r, newAPIError(http.StatusServiceUnavailable, llm.ErrUnavailable, "database_unavailable", "the usage log could not be read"))
		return
	}
	if recs == nil {
		recs = []usage.Record{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": recs})
}

func parseTime(name, v string) (time.Time, *apiError) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_"+name,
		name+" must be an RFC 3339 time or a duration such as 24h")
}
