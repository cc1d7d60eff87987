package storetest

// The usage.Summarizer cases: every grouping is checked against a reference
// computed here in Go from the records written, so both stores follow one
// set of rules:
//   - buckets are UTC hours or days, whatever zone a time was written in;
//     a bucket holds its start and not its end;
//   - rows come oldest bucket first, then by the keys in the order asked,
//     text in byte order and status by number; ByRequests puts the most
//     requests first; Limit keeps the first rows;
//   - errors are statuses outside 200–299; cost sums the known costs;
//     unpriced counts Unpriced rows;
//   - percentiles interpolate as usage.Percentile does;
//   - without keys or bucket there is exactly one row, zero when nothing
//     matched.

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/usage"
)

// day0 is a UTC midnight; the summary records span the three days after it.
var day0 = time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)

// summaryRecords are 300 records over three days, two users, four projects
// (named so that byte order and a locale's order differ), three clients,
// three models and five statuses, with latencies drawn at random (fixed
// seed, ties included) and costs known, unpriced or absent. Times are
// written in base's zone, at whole microseconds, and the hour and day
// boundaries are hit exactly.
func summaryRecords() []usage.Record {
	rng := rand.New(rand.NewPCG(7, 11))
	zone := base.Location()
	var recs []usage.Record
	for i := range 300 {
		r := full(i)
		r.RequestID = fmt.Sprintf("sum-%04d", i)
		r.Time = day0.Add(time.Duration(i)*13*time.Minute + time.Duration(rng.IntN(600e6))*time.Microsecond).In(zone)
		r.User = []string{"alice", "bob"}[i%2]
		r.Project = []string{"p1", "P2", "_p3", "p1", "ä4", "p1"}[i%6]
		r.Client = []string{"cursor", "claude-code", ""}[(i/3)%3]
		r.Model = []string{"gpt-4o", "claude-sonnet", "Zoë ✓"}[(i/7)%3]
		r.Status = []int{200, 200, 200, 429, 200, 500, 201, 400}[i%8]
		r.PromptTokens, r.CompletionTokens, r.CachedTokens = int64(100+i), int64(i%17), int64(i%5)
		r.LatencyMS = math.Round(rng.Float64()*5000*1024) / 1024
		if i%10 == 3 {
			r.LatencyMS = 250 // ties
		}
		r.TTFBMS = rng.Float64() * 800
		switch i % 5 {
		case 0:
			r.SetCost(0, false) // unpriced
		case 1:
			r.Cost, r.Unpriced = nil, false // reached no model
		default:
			r.SetCost(float64(i%9)/1000+0.000123, true)
		}
		recs = append(recs, r)
	}
	// Exactly at a boundary, and a microsecond before one.
	for i, at := range []time.Time{day0.Add(24 * time.Hour), day0.Add(24*time.Hour - time.Microsecond), day0.Add(37 * time.Hour)} {
		r := full(1000 + i)
		r.RequestID = fmt.Sprintf("edge-%d", i)
		r.Time, r.Project, r.Status = at.In(zone), "p1", 200
		recs = append(recs, r)
	}
	return recs
}

// summaryCase is a query and a grouping whose result is checked.
type summaryCase struct {
	name string
	q    usage.Query
	by   usage.GroupBy
}

// RunSummary runs the Summarizer cases on db, which must be empty. Run
// includes them; a backend's own tests may call it alone.
func RunSummary(t *testing.T, db store.DB) {
	s, ok := db.(usage.Summarizer)
	if !ok {
		t.Fatalf("%T does not implement usage.Summarizer", db)
	}
	// An empty store first.
	if got := group(t, s, usage.Query{}, usage.GroupBy{}); len(got) != 1 || got[0] != (usage.Group{}) {
		t.Errorf("GroupUsage(no keys) on an empty store = %+v; want one zero row", got)
	}
	if got := group(t, s, usage.Query{}, usage.GroupBy{Bucket: usage.BucketDay, Keys: []usage.Key{usage.KeyProject}}); len(got) != 0 {
		t.Errorf("GroupUsage(day, project) on an empty store = %+v; want no rows", got)
	}

	recs := summaryRecords()
	write(t, db, recs...)
	at := func(i int) time.Time { return recs[i].Time }
	keys := func(ks ...usage.Key) []usage.Key { return ks }
	cases := []summaryCase{
		{"totals", usage.Query{}, usage.GroupBy{}},
		{"totals of nothing", usage.Query{Filter: usage.Filter{User: "carol"}}, usage.GroupBy{}},
		{"hour", usage.Query{}, usage.GroupBy{Bucket: usage.BucketHour}},
		{"day", usage.Query{}, usage.GroupBy{Bucket: usage.BucketDay}},
		{"day, project", usage.Query{}, usage.GroupBy{Bucket: usage.BucketDay, Keys: keys(usage.KeyProject)}},
		{"hour, model, client", usage.Query{}, usage.GroupBy{Bucket: usage.BucketHour, Keys: keys(usage.KeyModel, usage.KeyClient)}},
		{"status", usage.Query{}, usage.GroupBy{Keys: keys(usage.KeyStatus)}},
		{"every key", usage.Query{}, usage.GroupBy{Keys: keys(usage.KeyStatus, usage.KeyModel, usage.KeyClient, usage.KeyProject, usage.KeyUser)}},
		{"every key and day", usage.Query{}, usage.GroupBy{Bucket: usage.BucketDay, Keys: keys(usage.KeyUser, usage.KeyProject, usage.KeyClient, usage.KeyModel, usage.KeyStatus)}},
		{"top projects", usage.Query{}, usage.GroupBy{Keys: keys(usage.KeyProject), ByRequests: true, Limit: 3}},
		{"top models by day", usage.Query{}, usage.GroupBy{Bucket: usage.BucketDay, Keys: keys(usage.KeyModel), ByRequests: true}},
		{"limit", usage.Query{}, usage.GroupBy{Bucket: usage.BucketHour, Keys: keys(usage.KeyProject), Limit: 5}},
		{"filtered", usage.Query{Filter: usage.Filter{User: "bob", Project: "p1", Since: at(40), Until: at(250)}}, usage.GroupBy{Bucket: usage.BucketDay, Keys: keys(usage.KeyClient)}},
		{"errors", usage.Query{Errors: true}, usage.GroupBy{Keys: keys(usage.KeyStatus)}},
		{"status 429", usage.Query{Status: 429}, usage.GroupBy{Keys: keys(usage.KeyProject)}},
		{"errors beat status", usage.Query{Status: 200, Errors: true}, usage.GroupBy{}},
		{"one request", usage.Query{Filter: usage.Filter{Since: at(17), Until: at(17).Add(time.Microsecond)}}, usage.GroupBy{Keys: keys(usage.KeyProject)}},
		{"two requests", usage.Query{Filter: usage.Filter{Since: at(17), Until: at(19)}}, usage.GroupBy{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := groupRef(recs, tc.q, tc.by)
			got := group(t, s, tc.q, tc.by)
			if d := diffGroups(got, want); d != "" {
				t.Errorf("GroupUsage(%+v, %+v):\n%s", tc.q, tc.by, d)
			}
		})
	}

	t.Run("percentiles by hand", func(t *testing.T) {
		// at(0) and at(1) are 13 minutes apart, alone in the first hour.
		g := group(t, s, usage.Query{Filter: usage.Filter{Until: at(2)}}, usage.GroupBy{})[0]
		lo, hi := min(recs[0].LatencyMS, recs[1].LatencyMS), max(recs[0].LatencyMS, recs[1].LatencyMS)
		if g.Requests != 2 || !near(g.LatencyP50MS, (lo+hi)/2) || !near(g.LatencyP95MS, lo+0.95*(hi-lo)) {
			t.Errorf("two requests of %v and %v ms: %d requests, p50 %v, p95 %v", lo, hi, g.Requests, g.LatencyP50MS, g.LatencyP95MS)
		}
	})

	t.Run("find", func(t *testing.T) {
		for _, q := range []usage.Query{
			{}, {Errors: true}, {Status: 429}, {Status: 201, Filter: usage.Filter{User: "alice"}},
			{Errors: true, Filter: usage.Filter{Project: "p1", Limit: 4}}, {Status: 418},
		} {
			want := expect(recs, usage.Filter{Limit: 100_000})
			want = slices.DeleteFunc(want, func(r usage.Record) bool { return !matches(r, q) })
			if lim := q.Limit; lim > 0 && len(want) > lim {
				want = want[:lim]
			}
			got, err := s.FindUsage(t.Context(), q)
			if err != nil {
				t.Fatalf("FindUsage(%+v): %v", q, err)
			}
			if !slices.Equal(ids(got), ids(want)) {
				t.Errorf("FindUsage(%+v) =\n  %q\nwant\n  %q", q, ids(got), ids(want))
			}
		}
	})

	t.Run("summarize", func(t *testing.T) {
		q := usage.Query{Filter: usage.Filter{Since: at(10)}}
		sum, err := usage.Summarize(t.Context(), s, q, 2)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffGroups([]usage.Group{{Totals: sum.Totals}}, groupRef(recs, q, usage.GroupBy{})); d != "" {
			t.Errorf("Summarize totals:\n%s", d)
		}
		top := groupRef(recs, q, usage.GroupBy{Keys: []usage.Key{usage.KeyModel}, ByRequests: true, Limit: 2})
		if len(sum.TopModels) != 2 || sum.TopModels[0].Name != top[0].Model || sum.TopModels[1].Requests != top[1].Requests {
			t.Errorf("Summarize top models = %+v; want %+v", sum.TopModels, top)
		}
		if len(sum.TopProjects) != 2 || len(sum.TopClients) != 2 {
			t.Errorf("Summarize: %d top projects, %d top clients; want 2 each", len(sum.TopProjects), len(sum.TopClients))
		}
	})

	t.Run("invalid group by", func(t *testing.T) {
		for _, by := range []usage.GroupBy{
			{Bucket: "week"}, {Keys: []usage.Key{"path"}}, {Keys: []usage.Key{"project; DROP TABLE usage"}},
			{Keys: []usage.Key{usage.KeyModel, usage.KeyModel}},
		} {
			if _, err := s.GroupUsage(t.Context(), usage.Query{}, by); !errors.Is(err, usage.ErrBadGroupBy) {
				t.Errorf("GroupUsage(%+v) = %v; want ErrBadGroupBy", by, err)
			}
		}
	})

	t.Run("filter values are not SQL", func(t *testing.T) {
		for _, v := range []string{"' OR 1=1 --", `" OR ""="`, "x'; DROP TABLE usage; --", "%", "_"} {
			q := usage.Query{Filter: usage.Filter{User: v, Project: v, Client: v, Model: v, Session: v}}
			if g := group(t, s, q, usage.GroupBy{}); len(g) != 1 || g[0].Requests != 0 {
				t.Errorf("GroupUsage with filters %q = %+v; want no requests", v, g)
			}
		}
		if g := group(t, s, usage.Query{}, usage.GroupBy{}); g[0].Requests != int64(len(recs)) {
			t.Errorf("after the hostile filters: %d requests; want %d", g[0].Requests, len(recs))
		}
	})
}

func group(t *testing.T, s usage.Summarizer, q usage.Query, by usage.GroupBy) []usage.Group {
	t.Helper()
	g, err := s.GroupUsage(t.Context(), q, by)
	if err != nil {
		t.Fatalf("GroupUsage(%+v, %+v): %v", q, by, err)
	}
	return g
}

// matches is the reference for Query's conditions.
func matches(r usage.Record, q usage.Query) bool {
	if len(expect([]usage.Record{r}, q.Filter)) == 0 {
		return false
	}
	switch {
	case q.Errors:
		return r.Status < 200 || r.Status > 299
	case q.Status != 0:
		return r.Status == q.Status
	}
	return true
}

// groupRef is the reference for GroupUsage.
func groupRef(recs []usage.Record, q usage.Query, by usage.GroupBy) []usage.Group {
	type acc struct {
		g         usage.Group
		lat, ttfb []float64
	}
	byKey := map[usage.Group]*acc{}
	var order []*acc
	for _, r := range recs {
		if !matches(r, q) {
			continue
		}
		var k usage.Group
		k.Bucket = by.Bucket.Truncate(r.Time)
		for _, key := range by.Keys {
			switch key {
			case usage.KeyUser:
				k.User = r.User
			case usage.KeyProject:
				k.Project = r.Project
			case usage.KeyClient:
				k.Client = r.Client
			case usage.KeyModel:
				k.Model = r.Model
			case usage.KeyStatus:
				k.Status = r.Status
			}
		}
		a := byKey[k]
		if a == nil {
			a = &acc{g: k}
			byKey[k] = a
			order = append(order, a)
		}
		a.g.Requests++
		if r.Status < 200 || r.Status > 299 {
			a.g.Errors++
		}
		a.g.PromptTokens += r.PromptTokens
		a.g.CompletionTokens += r.CompletionTokens
		a.g.CachedTokens += r.CachedTokens
		if r.Cost != nil {
			a.g.Cost += *r.Cost
		}
		if r.Unpriced {
			a.g.Unpriced++
		}
		a.lat, a.ttfb = append(a.lat, r.LatencyMS), append(a.ttfb, r.TTFBMS)
	}
	if len(by.Keys) == 0 && by.Bucket == "" && len(order) == 0 {
		return []usage.Group{{}}
	}
	out := make([]usage.Group, len(order))
	for i, a := range order {
		slices.Sort(a.lat)
		slices.Sort(a.ttfb)
		a.g.LatencyP50MS, a.g.LatencyP95MS = usage.Percentile(a.lat, 0.5), usage.Percentile(a.lat, 0.95)
		a.g.TTFBP50MS = usage.Percentile(a.ttfb, 0.5)
		out[i] = a.g
	}
	slices.SortFunc(out, func(a, b usage.Group) int {
		if by.ByRequests {
			if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
				return c
			}
		}
		if c := a.Bucket.Compare(b.Bucket); c != 0 {
			return c
		}
		for _, k := range by.Keys {
			c := strings.Compare(a.Value(k), b.Value(k))
			if k == usage.KeyStatus {
				c = cmp.Compare(a.Status, b.Status)
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	if by.Limit > 0 && len(out) > by.Limit {
		out = out[:by.Limit]
	}
	return out
}

// near compares sums and percentiles: the stores may add costs in another
// order.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b)) }

// diffGroups reports how got differs from want ("" if it does not).
func diffGroups(got, want []usage.Group) string {
	var diffs []string
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) {
			diffs = append(diffs, fmt.Sprintf("%d rows, want %d", len(got), len(want)))
			break
		}
		g, w := got[i], want[i]
		if g.Bucket.Location() != time.UTC && !g.Bucket.IsZero() {
			diffs = append(diffs, fmt.Sprintf("row %d: bucket in %v, want UTC", i, g.Bucket.Location()))
		}
		floats := [][2]float64{{g.Cost, w.Cost}, {g.LatencyP50MS, w.LatencyP50MS}, {g.LatencyP95MS, w.LatencyP95MS}, {g.TTFBP50MS, w.TTFBP50MS}}
		ok := true
		for _, f := range floats {
			ok = ok && near(f[0], f[1])
		}
		ok = ok && g.Bucket.Equal(w.Bucket)
		g.Cost, g.LatencyP50MS, g.LatencyP95MS, g.TTFBP50MS, g.Bucket = w.Cost, w.LatencyP50MS, w.LatencyP95MS, w.TTFBP50MS, w.Bucket
		if !ok || g != w {
			diffs = append(diffs, fmt.Sprintf("row %d:\n  got  %+v\n  want %+v", i, got[i], want[i]))
		}
		if len(diffs) > 5 {
			break
		}
	}
	return strings.Join(diffs, "\n")
}
