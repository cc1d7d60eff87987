package storetest

import (
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
		{"session", usage.Filter{Session: "sess-b"}},
		{"session and user, limited", usage.Filter{Session: "sess-a", User: "bob", Limit: 3}},
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
		for _, f := range []usage.Filter{{User: v + "x"}, {Project: v}, {Client: v}, {Model: v}, {Session: v}} {
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
