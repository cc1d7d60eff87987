package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/internal/version"
)

// startedAt stands in for a model's creation time in /v1/models, which
// OpenAI's format requires and a gateway alias does not have.
var startedAt = time.Now().Unix()

// health serves GET /health without authentication: it says whether the
// gateway and its database answer, and nothing about keys or config.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() { // shutting down: balancers take this replica out at once
		track.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining", "version": version.Version})
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
	track.WriteJSON(w, code, out)
}
