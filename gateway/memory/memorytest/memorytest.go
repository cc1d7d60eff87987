// Package memorytest is the conformance suite for memory.Backend: the
// SQLite and PostgreSQL stores and the Supermemory client run the same
// assertions, so the gateway behaves the same whichever holds its memories.
// It also holds a retrieval-quality data set (Evaluate) and a search
// latency benchmark (BenchmarkSearch) for comparing backends.
//
// Beyond the interface's doc comments the suite pins down:
//   - scope isolation on every method, including scopes that are prefixes
//     of one another, differ only in case or trailing space, or hold SQL
//     LIKE wildcards and quotes;
//   - identical content in two scopes is two memories;
//   - dedup ignores surrounding and repeated white space, not case;
//   - queries full of FTS5, tsquery and SQL syntax neither fail nor reach
//     outside the scope;
//   - search ranks the memory matching more query words first and, for
//     lexical backends, returns nothing that matches none;
//   - List pages cover every memory exactly once, newest first.
//
// RunLifecycle is the suite of memory.Lifecycle (supersede, edit, history,
// hidden keys, source), with the same scope rules on every method.
package memorytest

import (
	"crypto/rand"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
)

// Option adjusts the suite to a backend.
type Option func(*config)

type config struct{ semantic bool }

// Semantic declares that the backend's search is by meaning, so it may
// return memories that share no word with the query and may return fewer
// than limit results when more match. The assertions that rely on word
// matching are then skipped; isolation and ranking order still apply.
func Semantic() Option { return func(c *config) { c.semantic = true } }

// Run runs the suite. Each subtest calls newBackend, possibly from parallel
// subtests; a backend may be shared between calls (subtests use scopes of
// their own, with a random part), and newBackend arranges its cleanup.
func Run(t *testing.T, newBackend func(t *testing.T) memory.Backend, opts ...Option) {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, b memory.Backend, c config)
	}{
		{"RoundTrip", testRoundTrip},
		{"Dedup", testDedup},
		{"DedupConcurrent", testDedupConcurrent},
		{"ScopeIsolation", testScopeIsolation},
		{"LookalikeScopes", testLookalikeScopes},
		{"DeleteAll", testDeleteAll},
		{"SearchRanking", testSearchRanking},
		{"Limits", testLimits},
		{"Paging", testPaging},
		{"QuerySyntax", testQuerySyntax},
		{"Unicode", testUnicode},
		{"Metadata", testMetadata},
		{"InvalidScope", testInvalidScope},
		{"InvalidInput", testInvalidInput},
		{"NotFound", testNotFound},
		{"Cancelled", testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend(t), c)
		})
	}
}

// scope returns a scope unique to this run of the test, named by name.
func scope(_ *testing.T, name string) memory.Scope {
	return memory.Scope("u:mt-" + strings.ToLower(rand.Text()[:8]) + "/p:" + name)
}

func add(t *testing.T, b memory.Backend, s memory.Scope, content string, meta map[string]string) memory.Memory {
	t.Helper()
	m, created, err := b.Add(t.Context(), s, content, meta)
	if err != nil {
		t.Fatalf("Add(%q, %.40q): %v", s, content, err)
	}
	if !created {
		t.Fatalf("Add(%q, %.40q): created=false for new content", s, content)
	}
	if m.ID == "" || m.Content != content {
		t.Fatalf("Add(%q, %.40q) = %+v; want an id and the content", s, content, m)
	}
	return m
}

func search(t *testing.T, b memory.Backend, s memory.Scope, q string, limit int) []memory.Memory {
	t.Helper()
	ms, err := b.Search(t.Context(), s, q, limit)
	if err != nil {
		t.Fatalf("Search(%q, %q, %d): %v", s, q, limit, err)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].Score > ms[i-1].Score {
			t.Errorf("Search(%q, %q): result %d scores %v above result %d's %v; want best first", s, q, i, ms[i].Score, i-1, ms[i-1].Score)
		}
	}
	return ms
}

// listAll follows List's cursors from the start, checking each page.
func listAll(t *testing.T, b memory.Backend, s memory.Scope, page int) []memory.Memory {
	t.Helper()
	var all []memory.Memory
	cursor := ""
	for range 10_000 {
		ms, next, err := b.List(t.Context(), s, cursor, page)
		if err != nil {
			t.Fatalf("List(%q, %q, %d): %v", s, cursor, page, err)
		}
		if len(ms) > page {
			t.Fatalf("List(%q, limit %d) returned %d", s, page, len(ms))
		}
		if next != "" && len(ms) == 0 {
			t.Fatalf("List(%q) returned an empty page with a next cursor", s)
		}
		all = append(all, ms...)
		if next == "" {
			return all
		}
		cursor = next
	}
	t.Fatalf("List(%q) never ended", s)
	return nil
}

func ids(ms []memory.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// sameMemory reports how got differs from want ("" if it does not):
// CreatedAt in UTC and within a millisecond, the rest exactly (nil and
// empty metadata are the same).
func sameMemory(got, want memory.Memory) string {
	var diffs []string
	if got.ID != want.ID {
		diffs = append(diffs, "id "+got.ID+" != "+want.ID)
	}
	if got.Content != want.Content {
		diffs = append(diffs, "content differs")
	}
	if !maps.Equal(got.Metadata, want.Metadata) {
		diffs = append(diffs, "metadata differs")
	}
	if got.CreatedAt.Location() != time.UTC || got.CreatedAt.Sub(want.CreatedAt).Abs() > time.Millisecond {
		diffs = append(diffs, "created "+got.CreatedAt.String()+" != "+want.CreatedAt.String())
	}
	return strings.Join(diffs, "; ")
}

func testRoundTrip(t *testing.T, b memory.Backend, _ config) {
	s := scope(t, "roundtrip")
	before := time.Now()
	m := add(t, b, s, "The staging database is reset every Sunday at 02:00 UTC.", map[string]string{"source": "chat"})
	if m.CreatedAt.Location() != time.UTC || m.CreatedAt.Before(before.Add(-time.Minute)) || m.CreatedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("CreatedAt = %v; want about now, in UTC", m.CreatedAt)
	}
	got, err := b.Get(t.Context(), s, m.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if d := sameMemory(got, m); d != "" {
		t.Errorf("Get: %s", d)
	}
	if l := listAll(t, b, s, 10); len(l) != 1 || sameMemory(l[0], m) != "" {
		t.Errorf("List = %+v; want just %+v", l, m)
	}
	if err := b.Delete(t.Context(), s, m.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Get(t.Context(), s, m.ID); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("Get after Delete: %v; want ErrNotFound", err)
	}
	if err := b.Delete(t.Context(), s, m.ID); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("second Delete: %v; want ErrNotFound", err)
	}
	if l := listAll(t, b, s, 10); len(l) != 0 {
		t.Errorf("List after Delete = %d memories; want none", len(l))
	}
}

func testDedup(t *testing.T, b memory.Backend, _ config) {
	s := scope(t, "dedup")
	first := add(t, b, s, "Use pnpm, not npm, in the web workspace.", map[string]string{"v": "1"})
	for _, variant := range []string{
		"Use pnpm, not npm, in the web workspace.",
		"  Use pnpm, not npm, in the web workspace.\n",
		"Use  pnpm,\tnot npm,\n\nin the web   workspace.",
		"\u00a0Use pnpm, not npm, in the web workspace.\u2003",
	} {
		m, created, err := b.Add(t.Context(), s, variant, map[string]string{"v": "2"})
		if err != nil {
			t.Fatalf("Add(%q): %v", variant, err)
		}
		if created || sameMemory(m, first) != "" {
			t.Errorf("Add(%q) = %+v, created=%v; want the first memory unchanged, created=false", variant, m, created)
		}
	}
	add(t, b, s, "use pnpm, not npm, in the web workspace.", nil) // case differs: a new memory
	if l := listAll(t, b, s, 10); len(l) != 2 {
		t.Errorf("List = %d memories; want 2", len(l))
	}
}

func testDedupConcurrent(t *testing.T, b memory.Backend, _ config) {
	s := scope(t, "dedup-concurrent")
	const n = 8
	got := make([]memory.Memory, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], created[i], errs[i] = b.Add(t.Context(), s, "CI runs on every push to main.", nil) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Add %d: %v", i, errs[i])
		}
		if got[i].ID != got[0].ID {
			t.Errorf("Add %d returned id %s, Add 0 %s; want one memory", i, got[i].ID, got[0].ID)
		}
	}
	if !slices.Contains(created, true) {
		t.Errorf("no Add reported created")
	}
	if l := listAll(t, b, s, 10); len(l) != 1 {
		t.Errorf("List = %d memories; want 1", len(l))
	}
}

func testDeleteAll(t *testing.T, b memory.Backend, _ config) {
	a, o := scope(t, "deleteall-a"), scope(t, "deleteall-b")
	for _, c := range []string{"first note on retries", "second note on retries", "third note on retries"} {
		add(t, b, a, c, nil)
	}
	kept := []string{add(t, b, o, "first note on retries", nil).ID, add(t, b, o, "other note on retries", nil).ID}
	if n, err := b.DeleteAll(t.Context(), a); err != nil || n != 3 {
		t.Errorf("DeleteAll = %d, %v; want 3", n, err)
	}
	if l := listAll(t, b, a, 10); len(l) != 0 {
		t.Errorf("List after DeleteAll = %d memories; want none", len(l))
	}
	if r := search(t, b, a, "retries note", 10); len(r) != 0 {
		t.Errorf("Search after DeleteAll = %v; want nothing", ids(r))
	}
	if n, err := b.DeleteAll(t.Context(), a); err != nil || n != 0 {
		t.Errorf("DeleteAll of an empty scope = %d, %v; want 0", n, err)
	}
	if l := listAll(t, b, o, 10); !sameSet(ids(l), kept) {
		t.Errorf("other scope after DeleteAll lists %v; want %v", ids(l), kept)
	}
}
