package storetest

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
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
		LatencyMS:        1234.5625,
		TTFBMS:           0.015625,
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
// to within a microsecond and in UTC, every other field exactly.
func sameRecord(got, want usage.Record) string {
	var diffs []string
	if got.Time.Location() != time.UTC {
		diffs = append(diffs, fmt.Sprintf("Time location %v, want UTC", got.Time.Location()))
	}
	if d := got.Time.Sub(want.Time); d <= -time.Microsecond || d >= time.Microsecond {
		diffs = append(diffs, fmt.Sprintf("Time %v, want %v", got.Time, want.Time))
	}
	got.Time, want.Time = time.Time{}, time.Time{}
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

func testEmpty(t *testing.T, db store.DB) {
	if err := db.WriteUsage(t.Context(), nil); err != nil {
		t.Fatalf("WriteUsage(nil): %v", err)
	}
	if got := query(t, db, usage.Filter{}); len(got) != 0 {
		t.Fatalf("QueryUsage on an empty store = %d rows", len(got))
	}
}

func testCancelled(t *testing.T, db store.DB) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.WriteUsage(ctx, []usage.Record{full(1), full(2)}); err == nil {
		t.Error("WriteUsage with a cancelled context succeeded")
	}
	if got := query(t, db, all); len(got) != 0 {
		t.Errorf("a cancelled write stored %q", ids(got))
	}
}

func testRoundTrip(t *testing.T, db store.DB) {
	sparse := usage.Record{Time: base.Add(-time.Hour), RequestID: "sparse", Status: 200}
	want := []usage.Record{full(1), sparse}
	write(t, db, want...)
	got := query(t, db, all)
	if len(got) != len(want) {
		t.Fatalf("QueryUsage = %d rows %q; want %d", len(got), ids(got), len(want))
	}
	for i := range want {
		if d := sameRecord(got[i], want[i]); d != "" {
			t.Errorf("row %d (%s):\n%s", i, want[i].RequestID, d)
		}
	}
}

func testIdempotent(t *testing.T, db store.DB) {
	first := full(1)
	first.Model = "first"
	again := first
	again.Model, again.Time, again.Status = "second", base.Add(time.Hour), 500
	other := full(2)
	write(t, db, first)
	write(t, db, again, other) // the usage queue retries whole batches like this

	// Within one batch, too, the first row for an id is kept.
	twin := full(3)
	twin.Model = "first"
	twinAgain := twin
	twinAgain.Model = "second"
	write(t, db, twin, twinAgain)

	got := query(t, db, all)
	want := []usage.Record{twin, other, first}
	if len(got) != len(want) {
		t.Fatalf("QueryUsage = %q; want %q", ids(got), ids(want))
	}
	for i := range want {
		if d := sameRecord(got[i], want[i]); d != "" {
			t.Errorf("row %d (%s):\n%s", i, want[i].RequestID, d)
		}
	}
}

// dataset is 48 records spread over two users, three projects, two
// clients and two models, one minute apart, with some times shared.
func dataset() []usage.Record {
	var recs []usage.Record
	for i := range 48 {
		r := full(i)
		r.User = []string{"alice", "bob"}[i%2]
		r.Project = []string{"p1", "p2", "p3"}[i%3]
		r.Client = []string{"cursor", "claude-code"}[(i/2)%2]
		r.Model = []string{"gpt-4o", "claude-sonnet"}[(i/4)%2]
		r.Time = base.Add(time.Duration(i/4*4+i%2) * time.Minute) // pairs share a time
		recs = append(recs, r)
	}
	return recs
}

func testFilters(t *testing.T, db store.DB) {
	recs := dataset()
	write(t, db, recs...)
	at := func(i int) time.Time { return recs[i].Time }
	tests := []struct {
		name string
		f    usage.Filter
	}{
		{"none", usage.Filter{}},
		{"user", usage.Filter{User: "alice"}},
		{"project", usage.Filter{Project: "p2"}},
		{"client", usage.Filter{Client: "claude-code"}},
		{"model", usage.Filter{Model: "claude-sonnet"}},
		{"since (inclusive)", usage.Filter{Since: at(20)}},
		{"until (exclusive)", usage.Filter{Until: at(20)}},
		{"since and until", usage.Filter{Since: at(9), Until: at(30)}},
		{"since equals until", usage.Filter{Since: at(9), Until: at(9)}},
		{"since in another zone", usage.Filter{Since: at(20).UTC()}},
		{"limit", usage.Filter{Limit: 7}},
		{"negative limit is the default", usage.Filter{Limit: -1}},
		{"user and project", usage.Filter{User: "bob", Project: "p3"}},
		{"client and model", usage.Filter{Client: "cursor", Model: "gpt-4o"}},
		{"all fields", usage.Filter{User: "alice", Project: "p1", Client: "cursor", Model: "gpt-4o", Since: at(4), Until: at(40), Limit: 100}},
		{"all fields, limited", usage.Filter{User: "bob", Project: "p2", Client: "claude-code", Model: "claude-sonnet", Since: at(1), Limit: 1}},
		{"matches nothing", usage.Filter{User: "carol"}},
		{"case matters", usage.Filter{User: "Alice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := expect(recs, tc.f)
			got := query(t, db, tc.f)
			if !slices.Equal(ids(got), ids(want)) {
				t.Errorf("QueryUsage(%+v) =\n  %q\nwant\n  %q", tc.f, ids(got), ids(want))
			}
		})
	}
}

// expect is the reference for QueryUsage (with a limit of its own when the
// filter sets none; the suite never stores more than a default of 1000).
func expect(recs []usage.Record, f usage.Filter) []usage.Record {
	var out []usage.Record
	for _, r := range recs {
		if (f.User == "" || r.User == f.User) && (f.Project == "" || r.Project == f.Project) &&
			(f.Client == "" || r.Client == f.Client) && (f.Model == "" || r.Model == f.Model) &&
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

func testOrder(t *testing.T, db store.DB) {
	// Ids that byte order and a natural-language collation sort apart.
	var recs []usage.Record
	for _, id := range []string{"b", "a", "B", "_z", "a-1", "a1", "A", "ä"} {
		r := full(0)
		r.RequestID = id
		recs = append(recs, r)
	}
	newer, older := full(1), full(-1)
	recs = append(recs, older, newer)
	write(t, db, recs...)
	want := []string{newer.RequestID, "A", "B", "_z", "a", "a-1", "a1", "b", "ä", older.RequestID}
	for range 3 {
		if got := ids(query(t, db, all)); !slices.Equal(got, want) {
			t.Fatalf("QueryUsage order = %q; want %q", got, want)
		}
	}
	for n := 1; n < len(want); n++ {
		if got := ids(query(t, db, usage.Filter{Limit: n})); !slices.Equal(got, want[:n]) {
			t.Errorf("QueryUsage(Limit %d) = %q; want %q", n, got, want[:n])
		}
	}
}

func testFilterValuesAreNotSQL(t *testing.T, db store.DB) {
	const injection = "' OR 1=1 --"
	hostile := full(1)
	hostile.User = injection
	write(t, db, full(2), full(3), hostile)
	for _, v := range []string{injection, `" OR ""="`, "x'; DROP TABLE usage; --", "%", "_", `\`, "*"} {
		// (User gets a suffix: the hostile row is stored with that user.)
		for _, f := range []usage.Filter{{User: v + "x"}, {Project: v}, {Client: v}, {Model: v}} {
			if got := query(t, db, f); len(got) != 0 {
				t.Errorf("QueryUsage(%+v) = %q; want nothing", f, ids(got))
			}
		}
	}
	if got := ids(query(t, db, usage.Filter{User: injection})); !slices.Equal(got, []string{hostile.RequestID}) {
		t.Errorf("QueryUsage(User %q) = %q; want only the row stored with that user", injection, got)
	}
	if got := query(t, db, all); len(got) != 3 {
		t.Errorf("after the hostile queries the store holds %d rows; want 3", len(got))
	}
}

func testHostileText(t *testing.T, db store.DB) {
	// A request path may decode to a NUL or to bytes that are not UTF-8,
	// and a JSON model name may hold \u0000. Such a row must not poison
	// the batch it travels in (the queue would retry it forever).
	odd := full(1)
	odd.Path, odd.Model, odd.User = "/v1/chat\x00completions", "gpt\xff\xfe", "u\x00"
	plain := full(2)
	write(t, db, odd, plain)
	got := query(t, db, all)
	if len(got) != 2 {
		t.Fatalf("QueryUsage = %q; want both rows", ids(got))
	}
	if d := sameRecord(got[0], plain); d != "" {
		t.Errorf("plain row:\n%s", d)
	}
	for _, f := range []struct{ name, got, want string }{
		{"Path", got[1].Path, odd.Path}, {"Model", got[1].Model, odd.Model}, {"User", got[1].User, odd.User},
	} {
		if f.got != f.want && f.got != replaced(f.want) {
			t.Errorf("%s = %q; want %q or %q", f.name, f.got, f.want, replaced(f.want))
		}
	}
	if got := ids(query(t, db, usage.Filter{User: odd.User})); !slices.Equal(got, []string{odd.RequestID}) {
		t.Errorf("QueryUsage(User %q) = %q; want the row written with that user", odd.User, got)
	}
}

// replaced is s with NUL bytes and invalid UTF-8 replaced by U+FFFD.
func replaced(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func testLargeBatch(t *testing.T, db store.DB) {
	recs := make([]usage.Record, 5000)
	for i := range recs {
		recs[i] = full(i)
	}
	write(t, db, recs...)
	got := query(t, db, all)
	newestFirst(recs)
	if !slices.Equal(ids(got), ids(recs)) {
		t.Fatalf("QueryUsage returned %d rows; want the %d written, newest first", len(got), len(recs))
	}
	for _, i := range []int{0, 1234, 4999} {
		if d := sameRecord(got[i], recs[i]); d != "" {
			t.Errorf("row %d:\n%s", i, d)
		}
	}
}

func testConcurrentWriters(t *testing.T, db store.DB) {
	const writers, batches, rows = 8, 10, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				batch := make([]usage.Record, rows)
				for i := range batch {
					batch[i] = full(w*batches*rows + b*rows + i)
				}
				if err := db.WriteUsage(t.Context(), batch); err != nil {
					errs <- fmt.Errorf("writer %d batch %d: %w", w, b, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertOnce(t, query(t, db, all), writers*batches*rows)
}

func testConcurrentOverlappingBatches(t *testing.T, db store.DB) {
	// Replicas retrying the same rows in different orders must neither
	// deadlock nor duplicate.
	const writers, n, rows = 8, 400, 100
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			recs := make([]usage.Record, n)
			for i := range recs {
				recs[i] = full(i)
			}
			rand.New(rand.NewPCG(uint64(w), 1)).Shuffle(n, func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
			for b := 0; b < n; b += rows {
				if err := db.WriteUsage(t.Context(), recs[b:b+rows]); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertOnce(t, query(t, db, all), n)
}

// assertOnce checks that got holds n distinct ids, each once.
func assertOnce(t *testing.T, got []usage.Record, n int) {
	t.Helper()
	seen := make(map[string]int, len(got))
	for _, r := range got {
		seen[r.RequestID]++
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("request id %s stored %d times", id, c)
		}
	}
	if len(seen) != n {
		t.Errorf("store holds %d distinct ids; want %d", len(seen), n)
	}
}
