package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/usage"
)

var _ usage.Sink = (*DB)(nil)
var _ usage.Reader = (*DB)(nil)

const usageColumns = `request_id, time_ns, user_id, project, client, hostname, edge_id, ingress,
	method, path, model, upstream_model, provider, stream, status, error_type,
	prompt_tokens, completion_tokens, cached_tokens, latency_ms, ttfb_ms,
	cache_write_tokens, reasoning_tokens, cost, unpriced, session_id,
	memory_status, memory_count, memory_ids, memory_ms, tool_rounds, tools_called, cache_hit,
	purpose, parent_request_id`

// WriteUsage implements usage.Sink: one transaction per batch; a row whose
// request id is already stored is left as it is.
func (s *DB) WriteUsage(ctx context.Context, recs []usage.Record) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("writing usage: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO usage (`+usageColumns+`)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (request_id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("writing usage: %w", err)
	}
	defer stmt.Close()
	for _, r := range recs {
		if _, err := stmt.ExecContext(ctx, r.RequestID, r.Time.UnixNano(), r.User, r.Project, r.Client,
			r.Hostname, r.EdgeID, r.Ingress, r.Method, r.Path, r.Model, r.UpstreamModel, r.Provider,
			r.Stream, r.Status, r.ErrorType, r.PromptTokens, r.CompletionTokens, r.CachedTokens,
			r.LatencyMS, r.TTFBMS, r.CacheWriteTokens, r.ReasoningTokens, r.Cost, r.Unpriced,
			r.SessionID, r.MemoryStatus, r.MemoryCount, r.MemoryIDs, r.MemoryMS, r.ToolRounds, r.ToolsCalled, r.CacheHit,
			r.Purpose, r.ParentRequestID); err != nil {
			return fmt.Errorf("writing usage row %s: %w", r.RequestID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("writing usage: %w", err)
	}
	return nil
}

// QueryUsage implements usage.Reader. Every filter value is a placeholder
// argument, never spliced into the SQL.
func (s *DB) QueryUsage(ctx context.Context, f usage.Filter) ([]usage.Record, error) {
	var where []string
	var args []any
	add := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	add("user_id", f.User)
	add("project", f.Project)
	add("client", f.Client)
	add("model", f.Model)
	add("session_id", f.Session)
	add("request_id", f.RequestID)
	if !f.Since.IsZero() {
		where, args = append(where, "time_ns >= ?"), append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "time_ns < ?"), append(args, f.Until.UnixNano())
	}
	q := `SELECT ` + usageColumns + ` FROM usage`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	q += " ORDER BY time_ns DESC, request_id LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("querying usage: %w", err)
	}
	defer rows.Close()
	var out []usage.Record
	for rows.Next() {
		r, err := scanUsage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// scanUsage reads one row selected with usageColumns.
func scanUsage(rows interface{ Scan(...any) error }) (usage.Record, error) {
	var r usage.Record
	var ns int64
	if err := rows.Scan(&r.RequestID, &ns, &r.User, &r.Project, &r.Client, &r.Hostname, &r.EdgeID,
		&r.Ingress, &r.Method, &r.Path, &r.Model, &r.UpstreamModel, &r.Provider, &r.Stream,
		&r.Status, &r.ErrorType, &r.PromptTokens, &r.CompletionTokens, &r.CachedTokens,
		&r.LatencyMS, &r.TTFBMS, &r.CacheWriteTokens, &r.ReasoningTokens, &r.Cost, &r.Unpriced,
		&r.SessionID, &r.MemoryStatus, &r.MemoryCount, &r.MemoryIDs, &r.MemoryMS, &r.ToolRounds, &r.ToolsCalled, &r.CacheHit,
		&r.Purpose, &r.ParentRequestID); err != nil {
		return r, fmt.Errorf("querying usage: %w", err)
	}
	r.Time = time.Unix(0, ns).UTC()
	return r, nil
}
