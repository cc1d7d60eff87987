package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/usage"
)

var _ usage.Summarizer = (*DB)(nil)

// groupColumns maps each group key to its column. Identifiers cannot be
// placeholders, so only these fixed names (and the fixed bucket
// expressions) are ever spliced into the SQL; every value is an argument.
var groupColumns = map[usage.Key]string{
	usage.KeyUser: "user_id", usage.KeyProject: "project", usage.KeyClient: "client",
	usage.KeyModel: "model", usage.KeyStatus: "status",
}

// bucketExpr truncates a row's time to its bucket in UTC, whatever the
// session's TimeZone.
var bucketExpr = map[usage.Bucket]string{
	usage.BucketHour: "date_trunc('hour', time, 'UTC')",
	usage.BucketDay:  "date_trunc('day', time, 'UTC')",
}

// sortKey is how a group column is ordered: text bytewise (COLLATE "C"),
// as SQLite's BINARY collation does, whatever the server's locale.
func sortKey(k usage.Key) string {
	if k == usage.KeyStatus {
		return "status"
	}
	return groupColumns[k] + ` COLLATE "C"`
}

// filter holds a statement's arguments as it is built.
type filter struct{ args []any }

func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return "$" + strconv.Itoa(len(f.args))
}

// where returns the WHERE clause for q (or ""), its arguments in f.
func (f *filter) where(q usage.Query) string {
	var conds []string
	eq := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = "+f.arg(clean(v)))
		}
	}
	eq("user_id", q.User)
	eq("project", q.Project)
	eq("client", q.Client)
	eq("model", q.Model)
	eq("session_id", q.Session)
	if !q.Since.IsZero() {
		conds = append(conds, "time >= "+f.arg(q.Since))
	}
	if !q.Until.IsZero() {
		conds = append(conds, "time < "+f.arg(q.Until))
	}
	switch {
	case q.Errors:
		conds = append(conds, "status NOT BETWEEN 200 AND 299")
	case q.Status != 0:
		conds = append(conds, "status = "+f.arg(int32(q.Status)))
	}
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// FindUsage implements usage.Summarizer: QueryUsage's columns, order and
// scan, with the status conditions added.
func (s *DB) FindUsage(ctx context.Context, q usage.Query) ([]usage.Record, error) {
	var f filter
	w := f.where(q)
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	rows, err := s.pool.Query(ctx, `SELECT `+usageColumns+` FROM usage`+w+
		` ORDER BY time DESC, request_id LIMIT `+f.arg(limit), f.args...)
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

// GroupUsage implements usage.Summarizer in one GROUP BY statement, the
// percentiles with the ordered-set aggregate percentile_cont.
func (s *DB) GroupUsage(ctx context.Context, q usage.Query, by usage.GroupBy) ([]usage.Group, error) {
	if err := by.Validate(); err != nil {
		return nil, err
	}
	var f filter
	w := f.where(q)
	sel := []string{"NULL::timestamptz"}
	var groupBy, order []string
	if by.Bucket != "" {
		sel[0] = bucketExpr[by.Bucket]
		groupBy, order = append(groupBy, "1"), append(order, "1")
	}
	grouped := map[usage.Key]bool{}
	for _, k := range by.Keys {
		grouped[k] = true
		groupBy, order = append(groupBy, groupColumns[k]), append(order, sortKey(k))
	}
	for _, k := range usage.Keys {
		switch {
		case grouped[k]:
			sel = append(sel, groupColumns[k])
		case k == usage.KeyStatus:
			sel = append(sel, "0")
		default:
			sel = append(sel, "''")
		}
	}
	if by.ByRequests {
		order = append([]string{"count(*) DESC"}, order...)
	}
	sel = append(sel, `count(*)`,
		`count(*) FILTER (WHERE status NOT BETWEEN 200 AND 299)`,
		`coalesce(sum(prompt_tokens), 0)::bigint`, `coalesce(sum(completion_tokens), 0)::bigint`,
		`coalesce(sum(cached_tokens), 0)::bigint`,
		`coalesce(sum(cost), 0)::double precision`, `count(*) FILTER (WHERE unpriced)`,
		`coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), 0)`,
		`coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms), 0)`,
		`coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY ttfb_ms), 0)`)
	stmt := `SELECT ` + strings.Join(sel, ", ") + ` FROM usage` + w
	if len(groupBy) > 0 {
		stmt += ` GROUP BY ` + strings.Join(groupBy, ", ") + ` ORDER BY ` + strings.Join(order, ", ")
	}
	if by.Limit > 0 {
		stmt += ` LIMIT ` + f.arg(by.Limit)
	}
	rows, err := s.pool.Query(ctx, stmt, f.args...)
	if err != nil {
		return nil, fmt.Errorf("grouping usage: %w", err)
	}
	defer rows.Close()
	var out []usage.Group
	for rows.Next() {
		var g usage.Group
		var bucket *time.Time
		var status int32
		if err := rows.Scan(&bucket, &g.User, &g.Project, &g.Client, &g.Model, &status,
			&g.Requests, &g.Errors, &g.PromptTokens, &g.CompletionTokens, &g.CachedTokens,
			&g.Cost, &g.Unpriced, &g.LatencyP50MS, &g.LatencyP95MS, &g.TTFBP50MS); err != nil {
			return nil, fmt.Errorf("grouping usage: %w", err)
		}
		g.Status = int(status)
		if bucket != nil {
			g.Bucket = bucket.UTC()
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("grouping usage: %w", err)
	}
	return out, nil
}
