package usage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Query is a Filter plus the conditions only the Summarizer understands.
// Filter itself stays as the Reader knows it.
type Query struct {
	Filter
	// Status, when not zero, matches that HTTP status exactly.
	Status int
	// Errors, when true, matches every status outside 200–299 (and
	// overrides Status).
	Errors bool
}

// Key is a dimension usage can be grouped by.
type Key string

// The group keys. Each names a column of the usage log.
const (
	KeyUser    Key = "user"
	KeyProject Key = "project"
	KeyClient  Key = "client"
	KeyModel   Key = "model"
	KeyStatus  Key = "status"
)

// Keys lists every Key.
var Keys = []Key{KeyUser, KeyProject, KeyClient, KeyModel, KeyStatus}

// Bucket is the width of a time bucket: rows are grouped by the UTC hour or
// day they fall in. The empty Bucket groups by no time at all.
type Bucket string

// The time buckets.
const (
	BucketHour Bucket = "hour"
	BucketDay  Bucket = "day"
)

// Truncate returns the start of the bucket t falls in (UTC), or the zero
// time for the empty Bucket.
func (b Bucket) Truncate(t time.Time) time.Time {
	switch b {
	case BucketHour:
		return t.UTC().Truncate(time.Hour)
	case BucketDay:
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return time.Time{}
}

// GroupBy says how GroupUsage groups and orders its rows.
type GroupBy struct {
	// Bucket groups by time as well; "" does not.
	Bucket Bucket
	// Keys are the dimensions, each at most once. With neither Keys nor
	// Bucket there is exactly one row, the totals (zero when nothing
	// matched).
	Keys []Key
	// ByRequests orders rows by Requests, most first, instead of by
	// bucket (oldest first). Ties, and rows within a bucket, are ordered
	// by the keys in the order given here: text in byte order, status by
	// number.
	ByRequests bool
	// Limit caps the number of rows; zero or less means no cap.
	Limit int
}

// ErrBadGroupBy is returned (wrapped) by Validate and GroupUsage for an
// unknown bucket or key, or a key given twice.
var ErrBadGroupBy = errors.New("invalid group_by")

// Validate checks Bucket and Keys.
func (g GroupBy) Validate() error {
	if g.Bucket != "" && g.Bucket != BucketHour && g.Bucket != BucketDay {
		return fmt.Errorf("%w: unknown time bucket %q", ErrBadGroupBy, g.Bucket)
	}
	for i, k := range g.Keys {
		if !slices.Contains(Keys, k) {
			return fmt.Errorf("%w: unknown key %q", ErrBadGroupBy, k)
		}
		if slices.Contains(g.Keys[:i], k) {
			return fmt.Errorf("%w: %q given twice", ErrBadGroupBy, k)
		}
	}
	return nil
}

// Totals aggregates a set of records.
type Totals struct {
	Requests int64 `json:"requests"`
	// Errors counts the records whose status is outside 200–299.
	Errors           int64 `json:"errors"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	CachedTokens     int64 `json:"cached_tokens"`
	// Cost sums the known costs; Unpriced counts the records without one
	// because their model has no price.
	Cost     float64 `json:"cost"`
	Unpriced int64   `json:"unpriced"`
	// The percentiles interpolate linearly between the two nearest
	// values, as PostgreSQL's percentile_cont does: with the n values
	// sorted, percentile p is at position p·(n−1). Zero when there are
	// no records.
	LatencyP50MS float64 `json:"latency_p50_ms"`
	LatencyP95MS float64 `json:"latency_p95_ms"`
	TTFBP50MS    float64 `json:"ttfb_p50_ms"`
}

// Group is one row of GroupUsage: the values of the keys asked for (the
// others are zero), the bucket's start when one was asked for, and the
// totals of the records that share them.
type Group struct {
	Bucket                       time.Time
	User, Project, Client, Model string
	Status                       int
	Totals
}

// Value returns the group's value for k, as text.
func (g Group) Value(k Key) string {
	switch k {
	case KeyUser:
		return g.User
	case KeyProject:
		return g.Project
	case KeyClient:
		return g.Client
	case KeyModel:
		return g.Model
	case KeyStatus:
		return fmt.Sprint(g.Status)
	}
	return ""
}

// Summarizer answers aggregate questions about the usage log. A store
// implements it beside Reader; the gateway finds it by type assertion.
// Every query value is a placeholder argument, never SQL.
type Summarizer interface {
	// FindUsage is Reader.QueryUsage with q's status conditions: the same
	// order, bounds and default limit.
	FindUsage(ctx context.Context, q Query) ([]Record, error)
	// GroupUsage aggregates the records q matches as by says. It returns
	// an error wrapping ErrBadGroupBy when by is invalid.
	GroupUsage(ctx context.Context, q Query, by GroupBy) ([]Group, error)
}

// Ranked is one entry of a top list: a key's value and its totals.
type Ranked struct {
	Name string `json:"name"`
	Totals
}

// Summary is an overview of the records a Query matches.
type Summary struct {
	Totals      Totals   `json:"totals"`
	TopProjects []Ranked `json:"top_projects"`
	TopModels   []Ranked `json:"top_models"`
	TopClients  []Ranked `json:"top_clients"`
}

// Summarize returns the totals of q and the top n projects, models and
// clients by requests, from four GroupUsage queries.
func Summarize(ctx context.Context, s Summarizer, q Query, n int) (Summary, error) {
	all, err := s.GroupUsage(ctx, q, GroupBy{})
	if err != nil {
		return Summary{}, err
	}
	var sum Summary
	if len(all) == 1 {
		sum.Totals = all[0].Totals
	}
	for _, top := range []struct {
		key Key
		out *[]Ranked
	}{{KeyProject, &sum.TopProjects}, {KeyModel, &sum.TopModels}, {KeyClient, &sum.TopClients}} {
		gs, err := s.GroupUsage(ctx, q, GroupBy{Keys: []Key{top.key}, ByRequests: true, Limit: n})
		if err != nil {
			return Summary{}, err
		}
		*top.out = make([]Ranked, len(gs))
		for i, g := range gs {
			(*top.out)[i] = Ranked{Name: g.Value(top.key), Totals: g.Totals}
		}
	}
	return sum, nil
}

// Percentile returns percentile p (0–1) of sorted by linear interpolation,
// the definition every Summarizer follows (PostgreSQL's percentile_cont);
// 0 for no values. The conformance suite uses it as the reference.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := p * float64(len(sorted)-1)
	lo := int(pos)
	if lo+1 >= len(sorted) {
		return sorted[lo]
	}
	return sorted[lo] + (pos-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// ParseGroupBy reads a grouping as the usage API's group_by and the CLI's
// --by take it: a comma-separated list of at most one time bucket (hour,
// day) and any of the keys, each once ("day,project"). Errors wrap
// ErrBadGroupBy.
func ParseGroupBy(s string) (GroupBy, error) {
	var by GroupBy
	for part := range strings.SplitSeq(s, ",") {
		switch b := Bucket(strings.TrimSpace(part)); b {
		case BucketHour, BucketDay:
			if by.Bucket != "" {
				return GroupBy{}, fmt.Errorf("%w: two time buckets", ErrBadGroupBy)
			}
			by.Bucket = b
		case "":
			return GroupBy{}, fmt.Errorf("%w: an empty entry", ErrBadGroupBy)
		default:
			by.Keys = append(by.Keys, Key(b))
		}
	}
	if err := by.Validate(); err != nil {
		return GroupBy{}, err
	}
	return by, nil
}

// ErrBadTime is returned (wrapped) by ParseTime.
var ErrBadTime = errors.New("not an RFC 3339 time, a date (2006-01-02) or a duration such as 24h or 7d")

// ParseTime reads a point in time as the usage API's since and until and
// the CLI's flags take it: RFC 3339, a date (midnight UTC), or a positive
// duration back from now as time.ParseDuration reads it, optionally led by
// whole days ("7d", "1d12h").
func ParseTime(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if d, ok := parseDays(v); ok && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: %w", v, ErrBadTime)
}

// parseDays is time.ParseDuration that also takes whole days first.
func parseDays(v string) (time.Duration, bool) {
	var days time.Duration
	if i := strings.IndexByte(v, 'd'); i > 0 {
		n, err := strconv.Atoi(v[:i])
		if err != nil || n < 0 || n > 100_000 {
			return 0, false
		}
		days, v = time.Duration(n)*24*time.Hour, v[i+1:]
		if v == "" {
			return days, true
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, false
	}
	return days + d, true
}
