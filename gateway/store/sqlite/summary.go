package sqlite

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

// bucketExpr is the start of a row's bucket in Unix nanoseconds: integer
// division truncates, and Unix time has no leap seconds, so these are UTC
// hours and days.
var bucketExpr = map[usage.Bucket]string{
	usage.BucketHour: "(time_ns / 3600000000000) * 3600000000000",
	usage.BucketDay:  "(time_ns / 86400000000000) * 86400000000000",
}

// where returns the WHERE clause (or "") and its arguments for q.
func where(q usage.Query) (string, []any) {
	var conds []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			conds, args = append(conds, col+" = ?"), append(args, v)
		}
	}
	eq("user_id", q.User)
	eq("project", q.Project)
	eq("client", q.Client)
	eq("model", q.Model)
	eq("session_id", q.Session)
	if !q.Since.IsZero() {
		conds, args = append(conds, "time_ns >= ?"), append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		conds, args = append(conds, "time_ns < ?"), append(args, q.Until.UnixNano())
	}
	switch {
	case q.Errors:
		conds = append(conds, "status NOT BETWEEN 200 AND 299")
	case q.Status != 0:
		conds, args = append(conds, "status = ?"), append(args, q.Status)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// FindUsage implements usage.Summarizer: QueryUsage's columns, order and
// scan, with the status conditions added.
func (s *DB) FindUsage(ctx context.Context, q usage.Query) ([]usage.Record, error) {
	w, args := where(q)
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+usageColumns+` FROM usage`+w+
		` ORDER BY time_ns DESC, request_id LIMIT ?`, append(args, limit)...)
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

// GroupUsage implements usage.Summarizer in one statement.
//
// SQLite has no percentile aggregate, so the percentiles come from window
// functions: an inner query numbers each row within its group twice (by
// latency and by time to first byte, from 0) and counts the group; the
// outer GROUP BY then picks the one or two rows around position p·(n−1)
// with max(CASE …) and interpolates between them. That is
// percentile_cont's definition, so both stores agree to the last bit, and
// the database sorts and aggregates without sending every latency to Go.
func (s *DB) GroupUsage(ctx context.Context, q usage.Query, by usage.GroupBy) ([]usage.Group, error) {
	if err := by.Validate(); err != nil {
		return nil, err
	}
	w, args := where(q)
	bucket := "0"
	var part []string // the inner query's partition: bucket and key expressions
	if by.Bucket != "" {
		bucket = bucketExpr[by.Bucket]
		part = append(part, bucket)
	}
	grouped := map[usage.Key]bool{}
	for _, k := range by.Keys {
		grouped[k] = true
		part = append(part, groupColumns[k])
	}
	partition := ""
	if len(part) > 0 {
		partition = "PARTITION BY " + strings.Join(part, ", ") + " "
	}
	window := func(order string) string { return "(" + partition + "ORDER BY " + order + ")" }
	inner := `SELECT ` + bucket + ` AS g_bucket, user_id, project, client, model, status,
		prompt_tokens, completion_tokens, cached_tokens, cost, unpriced, latency_ms, ttfb_ms,
		row_number() OVER ` + window("latency_ms") + ` - 1 AS lat_i,
		row_number() OVER ` + window("ttfb_ms") + ` - 1 AS ttfb_i,
		count(*) OVER (` + partition + `) AS n
		FROM usage` + w

	sel := []string{"0"}
	var groupBy, order []string
	if by.Bucket != "" {
		sel[0], groupBy = "g_bucket", append(groupBy, "g_bucket")
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
	for _, k := range by.Keys {
		groupBy = append(groupBy, groupColumns[k])
	}
	if by.ByRequests {
		order = append(order, "count(*) DESC")
	}
	order = append(order, groupBy...)
	sel = append(sel, `count(*)`,
		`coalesce(sum(CASE WHEN status BETWEEN 200 AND 299 THEN 0 ELSE 1 END), 0)`,
		`coalesce(sum(prompt_tokens), 0)`, `coalesce(sum(completion_tokens), 0)`, `coalesce(sum(cached_tokens), 0)`,
		`coalesce(sum(cost), 0.0)`, `coalesce(sum(unpriced), 0)`,
		percentile("lat_i", "latency_ms", 0.5), percentile("lat_i", "latency_ms", 0.95), percentile("ttfb_i", "ttfb_ms", 0.5))
	stmt := `SELECT ` + strings.Join(sel, ", ") + ` FROM (` + inner + `)`
	if len(groupBy) > 0 {
		stmt += ` GROUP BY ` + strings.Join(groupBy, ", ") + ` ORDER BY ` + strings.Join(order, ", ")
	}
	if by.Limit > 0 {
		stmt += ` LIMIT ?`
		args = append(args, by.Limit)
	}
	rows, err := s.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("grouping usage: %w", err)
	}
	defer rows.Close()
	var out []usage.Group
	for rows.Next() {
		var g usage.Group
		var ns int64
		if err := rows.Scan(&ns, &g.User, &g.Project, &g.Client, &g.Model, &g.Status,
			&g.Requests, &g.Errors, &g.PromptTokens, &g.CompletionTokens, &g.CachedTokens,
			&g.Cost, &g.Unpriced, &g.LatencyP50MS, &g.LatencyP95MS, &g.TTFBP50MS); err != nil {
			return nil, fmt.Errorf("grouping usage: %w", err)
		}
		if by.Bucket != "" {
			g.Bucket = time.Unix(0, ns).UTC()
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("grouping usage: %w", err)
	}
	return out, nil
}

// percentile is the aggregate for percentile p of column v, whose rows are
// numbered from 0 in idx (ascending v) among n: the value at position
// lo = ⌊p·(n−1)⌋ plus the fraction p·(n−1)−lo of the step to the next one
// (none when lo is the last). p is one of the fixed constants above.
func percentile(idx, v string, p float64) string {
	ps := strconv.FormatFloat(p, 'g', -1, 64)
	lo := `CAST((n - 1) * ` + ps + ` AS INTEGER)`
	at := func(i string) string { return `max(CASE WHEN ` + idx + ` = ` + i + ` THEN ` + v + ` END)` }
	frac := `((max(n) - 1) * ` + ps + ` - CAST((max(n) - 1) * ` + ps + ` AS INTEGER))`
	return `coalesce(` + at(lo) + ` + ` + frac + ` * coalesce(` + at(lo+` + 1`) + ` - ` + at(lo) + `, 0), 0.0)`
}
