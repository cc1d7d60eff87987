package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/memproxy/memproxy/gateway/usage"
)

var _ usage.Sink = (*DB)(nil)
var _ usage.Reader = (*DB)(nil)

const usageColumns = `request_id, time, user_id, project, client, hostname, edge_id, ingress,
	method, path, model, upstream_model, provider, stream, status, error_type,
	prompt_tokens, completion_tokens, cached_tokens, latency_ms, ttfb_ms,
	cache_write_tokens, reasoning_tokens, cost, unpriced, session_id,
	memory_status, memory_count, memory_ids, memory_ms, tool_rounds, tools_called, cache_hit,
	purpose, parent_request_id`

// insertUsage writes a whole batch as one statement: each column travels
// as one array parameter and unnest zips them back into rows. That is one
// round trip and one plan however many rows there are, with no temporary
// table, and ON CONFLICT keeps the statement idempotent.
const insertUsage = `INSERT INTO usage (` + usageColumns + `)
	SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
		$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
		$13::text[], $14::boolean[], $15::integer[], $16::text[], $17::bigint[], $18::bigint[],
		$19::bigint[], $20::double precision[], $21::double precision[], $22::bigint[], $23::bigint[],
		$24::double precision[], $25::boolean[], $26::text[],
		$27::text[], $28::integer[], $29::text[], $30::double precision[], $31::integer[], $32::text[], $33::boolean[],
		$34::text[], $35::text[])
	ON CONFLICT (request_id) DO NOTHING`

// defaultLimit is the number of rows QueryUsage returns when the filter
// sets none (the same as the SQLite store).
const defaultLimit = 1000

// WriteUsage implements usage.Sink: the batch is one INSERT, so it is
// stored entirely or not at all, and a row whose request id is already
// stored (or appears earlier in the batch) is left as it is.
//
// Rows are inserted in request-id order so that concurrent batches sharing
// ids take their row locks in the same order and cannot deadlock. Times
// are kept to the microsecond (timestamptz), truncated toward the past.
// Text PostgreSQL cannot hold (NUL bytes, invalid UTF-8, e.g. from a
// request path) is stored with U+FFFD in its place rather than failing the
// batch, which the usage queue would otherwise retry forever.
func (s *DB) WriteUsage(ctx context.Context, recs []usage.Record) error {
	if len(recs) == 0 {
		return nil
	}
	order := make([]int, len(recs))
	for i := range order {
		order[i] = i
	}
	// Stable, so that of two rows with one id the first is inserted first
	// and kept.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(recs[a].RequestID, recs[b].RequestID) })

	n := len(recs)
	var (
		ids, users, projects, clients, hosts, edges, ingresses = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		methods, paths, models, upstreams, providers, errTypes = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		sessions                                               = make([]string, n)
		memStatus, memIDs, toolsCalled                         = make([]string, n), make([]string, n), make([]string, n)
		memCount, toolRounds                                   = make([]int32, n), make([]int32, n)
		memMS                                                  = make([]float64, n)
		cacheHits                                              = make([]bool, n)
		purposes, parents                                      = make([]string, n), make([]string, n)
		times                                                  = make([]time.Time, n)
		streams                                                = make([]bool, n)
		statuses                                               = make([]int32, n)
		prompt, completion, cached                             = make([]int64, n), make([]int64, n), make([]int64, n)
		cacheWrite, reasoning                                  = make([]int64, n), make([]int64, n)
		costs                                                  = make([]*float64, n) // nil is NULL
		unpriced                                               = make([]bool, n)
		latency, ttfb                                          = make([]float64, n), make([]float64, n)
	)
	for i, j := range order {
		r := &recs[j]
		ids[i], times[i] = clean(r.RequestID), r.Time
		users[i], projects[i], clients[i] = clean(r.User), clean(r.Project), clean(r.Client)
		hosts[i], edges[i], ingresses[i] = clean(r.Hostname), clean(r.EdgeID), clean(r.Ingress)
		methods[i], paths[i] = clean(r.Method), clean(r.Path)
		models[i], upstreams[i], providers[i] = clean(r.Model), clean(r.UpstreamModel), clean(r.Provider)
		streams[i], statuses[i], errTypes[i] = r.Stream, int32(r.Status), clean(r.ErrorType)
		prompt[i], completion[i], cached[i] = r.PromptTokens, r.CompletionTokens, r.CachedTokens
		latency[i], ttfb[i] = r.LatencyMS, r.TTFBMS
		cacheWrite[i], reasoning[i], costs[i], unpriced[i] = r.CacheWriteTokens, r.ReasoningTokens, r.Cost, r.Unpriced
		sessions[i] = clean(r.SessionID)
		memStatus[i], memCount[i], memIDs[i], memMS[i] = clean(r.MemoryStatus), int32(r.MemoryCount), clean(r.MemoryIDs), r.MemoryMS
		toolRounds[i], toolsCalled[i], cacheHits[i] = int32(r.ToolRounds), clean(r.ToolsCalled), r.CacheHit
		purposes[i], parents[i] = clean(r.Purpose), clean(r.ParentRequestID)
	}
	if _, err := s.pool.Exec(ctx, insertUsage, ids, times, users, projects, clients, hosts, edges,
		ingresses, methods, paths, models, upstreams, providers, streams, statuses, errTypes,
		prompt, completion, cached, latency, ttfb, cacheWrite, reasoning, costs, unpriced, sessions,
		memStatus, memCount, memIDs, memMS, toolRounds, toolsCalled, cacheHits, purposes, parents); err != nil {
		return fmt.Errorf("writing %d usage rows: %w", n, err)
	}
	return nil
}

// QueryUsage implements usage.Reader: newest first, ties broken by request
// id in byte order. Since is inclusive and Until exclusive. Every filter
// value is a placeholder argument, never spliced into the SQL.
func (s *DB) QueryUsage(ctx context.Context, f usage.Filter) ([]usage.Record, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = "+arg(clean(v)))
		}
	}
	eq("user_id", f.User)
	eq("project", f.Project)
	eq("client", f.Client)
	eq("model", f.Model)
	eq("session_id", f.Session)
	eq("request_id", f.RequestID)
	if !f.Since.IsZero() {
		where = append(where, "time >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "time < "+arg(f.Until))
	}
	q := `SELECT ` + usageColumns + ` FROM usage`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	q += " ORDER BY time DESC, request_id LIMIT " + arg(limit)

	rows, err := s.pool.Query(ctx, q, args...)
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
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("querying usage: %w", err)
	}
	return out, nil
}

// clean returns s with what a PostgreSQL text value cannot hold (NUL bytes,
// invalid UTF-8) replaced by U+FFFD. Filter values get the same treatment,
// so they still match what was stored.
func clean(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// scanUsage reads one row selected with usageColumns.
func scanUsage(rows interface{ Scan(...any) error }) (usage.Record, error) {
	var r usage.Record
	var status, memCount, toolRounds int32
	if err := rows.Scan(&r.RequestID, &r.Time, &r.User, &r.Project, &r.Client, &r.Hostname, &r.EdgeID,
		&r.Ingress, &r.Method, &r.Path, &r.Model, &r.UpstreamModel, &r.Provider, &r.Stream,
		&status, &r.ErrorType, &r.PromptTokens, &r.CompletionTokens, &r.CachedTokens,
		&r.LatencyMS, &r.TTFBMS, &r.CacheWriteTokens, &r.ReasoningTokens, &r.Cost, &r.Unpriced,
		&r.SessionID, &r.MemoryStatus, &memCount, &r.MemoryIDs, &r.MemoryMS, &toolRounds, &r.ToolsCalled, &r.CacheHit,
		&r.Purpose, &r.ParentRequestID); err != nil {
		return r, fmt.Errorf("querying usage: %w", err)
	}
	r.Status, r.MemoryCount, r.ToolRounds = int(status), int(memCount), int(toolRounds)
	r.Time = r.Time.UTC() // pgx hands back local time; the SQLite store returns UTC
	return r, nil
}
