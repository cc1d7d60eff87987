package storetest

// The records the suite writes, and how it compares what comes back.

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/usage"
)

// base is the time the suite's records are built around. It has a
// nanosecond part, and is not in UTC, to check both are handled.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+5:30", 5*3600+1800))

// all asks for every row the suite ever writes.
var all = usage.Filter{Limit: 100_000}

// full returns a record with every field set, distinct for each i.
func full(i int) usage.Record {
	cost := 0.0123456789 + float64(i)/1024 // a float64 column gives back exactly this
	return usage.Record{
		Time:             base.Add(time.Duration(i) * time.Second),
		RequestID:        fmt.Sprintf("req-%06d", i),
		User:             fmt.Sprintf("user-%d", i),
		Project:          fmt.Sprintf("project-%d", i),
		Client:           "Zoë's IDE ✓",
		Hostname:         fmt.Sprintf("host-%d.example", i),
		EdgeID:           fmt.Sprintf("edge-%d", i),
		Ingress:          "edge",
		Method:           "POST",
		Path:             "/v1/chat/completions",
		Model:            "gpt-4o",
		UpstreamModel:    "gpt-4o-2024-08-06",
		Provider:         "openai",
		Stream:           true,
		Status:           429,
		ErrorType:        "provider_rate_limited",
		PromptTokens:     1_234_567_890_123 + int64(i),
		CompletionTokens: 456,
		CachedTokens:     78,
		CacheWriteTokens: 90,
		ReasoningTokens:  123,
		LatencyMS:        1234.5625,
		TTFBMS:           0.015625,
		Cost:             &cost,
		SessionID:        fmt.Sprintf("3f1c2a9e-%04d-4b7d-9c1e-claude-code", i),
		MemoryStatus:     "injected",
		MemoryCount:      2 + i%3,
		MemoryIDs:        fmt.Sprintf("mem_%d,mem_%d", i, i+1),
		MemoryMS:         12.25,
		ToolRounds:       1 + i%2,
		ToolsCalled:      "supermemoryToolSearch,supermemoryToolGetDocument",
		CacheHit:         i%2 == 1,
		Purpose:          map[bool]string{true: "memory_extraction"}[i%2 != 0],
		ParentRequestID:  map[bool]string{true: fmt.Sprintf("req_parent_%d", i)}[i%2 != 0],
	}
}

func write(t *testing.T, db store.DB, recs ...usage.Record) {
	t.Helper()
	if err := db.WriteUsage(t.Context(), recs); err != nil {
		t.Fatalf("WriteUsage(%d rows): %v", len(recs), err)
	}
}

func query(t *testing.T, db store.DB, f usage.Filter) []usage.Record {
	t.Helper()
	got, err := db.QueryUsage(t.Context(), f)
	if err != nil {
		t.Fatalf("QueryUsage(%+v): %v", f, err)
	}
	return got
}

func ids(recs []usage.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.RequestID
	}
	return out
}

// sameRecord reports how got differs from want ("" if it does not): times
// to within a microsecond and in UTC, every other field exactly (Cost by
// value: nil and 0 differ).
func sameRecord(got, want usage.Record) string {
	var diffs []string
	if got.Time.Location() != time.UTC {
		diffs = append(diffs, fmt.Sprintf("Time location %v, want UTC", got.Time.Location()))
	}
	if d := got.Time.Sub(want.Time); d <= -time.Microsecond || d >= time.Microsecond {
		diffs = append(diffs, fmt.Sprintf("Time %v, want %v", got.Time, want.Time))
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if c, w := costString(got.Cost), costString(want.Cost); c != w {
		diffs = append(diffs, fmt.Sprintf("Cost %s, want %s", c, w))
	}
	got.Cost, want.Cost = nil, nil
	if got != want {
		diffs = append(diffs, fmt.Sprintf("got  %+v\nwant %+v", got, want))
	}
	return strings.Join(diffs, "\n")
}

// newestFirst sorts recs as QueryUsage must return them.
func newestFirst(recs []usage.Record) {
	slices.SortFunc(recs, func(a, b usage.Record) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.RequestID, b.RequestID)
	})
}

// dataset is 48 records spread over two users, three projects, two
// clients, two models and two sessions (and none), one minute apart, with
// some times shared.
func dataset() []usage.Record {
	var recs []usage.Record
	for i := range 48 {
		r := full(i)
		r.User = []string{"alice", "bob"}[i%2]
		r.Project = []string{"p1", "p2", "p3"}[i%3]
		r.Client = []string{"cursor", "claude-code"}[(i/2)%2]
		r.Model = []string{"gpt-4o", "claude-sonnet"}[(i/4)%2]
		r.SessionID = []string{"", "sess-a", "sess-b"}[(i/5)%3]
		r.Time = base.Add(time.Duration(i/4*4+i%2) * time.Minute) // pairs share a time
		recs = append(recs, r)
	}
	return recs
}

// expect is the reference for QueryUsage (with a limit of its own when the
// filter sets none; the suite never stores more than a default of 1000).
func expect(recs []usage.Record, f usage.Filter) []usage.Record {
	var out []usage.Record
	for _, r := range recs {
		if (f.User == "" || r.User == f.User) && (f.Project == "" || r.Project == f.Project) &&
			(f.Client == "" || r.Client == f.Client) && (f.Model == "" || r.Model == f.Model) &&
			(f.Session == "" || r.SessionID == f.Session) &&
			(f.Since.IsZero() || !r.Time.Before(f.Since)) && (f.Until.IsZero() || r.Time.Before(f.Until)) {
			out = append(out, r)
		}
	}
	newestFirst(out)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out
}

// costString shows a cost for messages: "nil" or its exact value.
func costString(c *float64) string {
	if c == nil {
		return "nil"
	}
	return strconv.FormatFloat(*c, 'g', -1, 64)
}
