package sqlite

// The memorytest conformance suite on the SQLite store, and what is
// particular to it: the FTS5 query it builds from user text, the index
// created on first use, and a build without FTS5.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/memorytest"
)

// memoryDB opens a fresh store, skipping the test when this build's SQLite
// has no FTS5 (go-sqlite3 needs -tags sqlite_fts5; make sets it).
func memoryDB(t testing.TB) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "memproxy.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.MemorySupported(t.Context()); errors.Is(err, ErrNoFTS5) {
		t.Skipf("memory store needs FTS5, which this build lacks: run with -tags sqlite_fts5 (make test sets it): %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestMemory(t *testing.T) {
	memorytest.Run(t, func(t *testing.T) memory.Backend { return memoryDB(t) })
}

// TestMemoryOneDB runs the suite with every subtest sharing one database,
// as the gateway does.
func TestMemoryOneDB(t *testing.T) {
	db := memoryDB(t)
	memorytest.Run(t, func(t *testing.T) memory.Backend { return db })
}

func TestMemoryQuality(t *testing.T) {
	r5, mrr, err := memorytest.Evaluate(t.Context(), memoryDB(t))
	if err != nil {
		t.Fatal(err)
	}
	if r5 < 0 || r5 > 1 || mrr < 0 || mrr > 1 {
		t.Fatalf("recall@5 %v, MRR %v; want both in [0,1]", r5, mrr)
	}
	t.Logf("recall@5 %.3f, MRR %.3f", r5, mrr)
}

func TestFTSQuery(t *testing.T) {
	for in, want := range map[string]string{
		"deploy billing":               `"deploy" OR "billing"`,
		`"quoted" NEAR(a b) -x col:y*`: `"quoted" OR "NEAR" OR "b" OR "x" OR "col" OR "y"`,
		"AND OR NOT":                   ``, // stop words
		"deploy AND helm OR NOT x":     `"deploy" OR "helm" OR "x"`,
		"how do I deploy":              `"deploy"`,
		"Café Café café":               `"Café"`,
		"go-sqlite3 v1.2":              `"go" OR "sqlite3" OR "v1" OR "2"`,
		`^{}[]()*:+-"'.,;!?&|<>@#$%\`:  ``,
		"":                             ``,
		"日本語のメモ":                       `"日本語のメモ"`,
	} {
		if got := ftsQuery(in); got != want {
			t.Errorf("ftsQuery(%q) = %s; want %s", in, got, want)
		}
	}
	if n := strings.Count(ftsQuery(strings.Repeat("w ", 10)+strings.Repeat("x", 3)+" "+wordList(100)), " OR "); n != maxQueryTerms-1 {
		t.Errorf("a long query gives %d terms; want at most %d", n+1, maxQueryTerms)
	}
}

func wordList(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("w")
		b.WriteString(strings.Repeat("a", i+1))
		b.WriteString(" ")
	}
	return b.String()
}

// FuzzSearch: whatever the query, Search answers without an error and
// with nothing but the scope's memories. The seeds run with go test; go
// test -tags sqlite_fts5 -fuzz FuzzSearch explores further.
func FuzzSearch(f *testing.F) {
	db := memoryDB(f)
	mine, _, err := db.Add(f.Context(), "u:a/p:mine", "alpha beta gamma, a NEAR quoted \"phrase\"", nil)
	if err != nil {
		f.Fatal(err)
	}
	if _, _, err := db.Add(f.Context(), "u:a/p:other", "alpha beta gamma delta secret", nil); err != nil {
		f.Fatal(err)
	}
	for _, q := range []string{`"`, `NEAR(alpha beta`, `alpha*`, `{content}: alpha`, `alpha AND -beta`, `^alpha`,
		`alpha:*`, `"alpha" OR scope:*`, "\x00alpha", "\xffalpha", `'); DROP TABLE memories; --`} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		r, err := db.Search(context.Background(), "u:a/p:mine", q, 10)
		if err != nil {
			t.Fatalf("Search(%q): %v", q, err)
		}
		for _, m := range r {
			if m.ID != mine.ID {
				t.Fatalf("Search(%q) returned %s, not of the scope", q, m.ID)
			}
		}
	})
}

// BenchmarkSearch: 10k memories in each of memorytest.BenchScopes scopes.
func BenchmarkSearch(b *testing.B) {
	memorytest.BenchmarkSearch(b, memoryDB(b), 10_000)
}

func TestMemoryLifecycle(t *testing.T) {
	db := memoryDB(t)
	memorytest.RunLifecycle(t, func(t *testing.T) memory.Lifecycle { return db })
}

func TestMemoryVectors(t *testing.T) {
	db := memoryDB(t)
	memorytest.RunVectors(t, func(t *testing.T) memorytest.VectorBackend { return db })
}

func TestMemoryHybrid(t *testing.T) {
	memorytest.RunHybrid(t, func(t *testing.T) memorytest.VectorBackend { return memoryDB(t) })
}

// BenchmarkHybridSearch: 10k memories with 256-value vectors in each of
// memorytest.BenchScopes scopes; the embedding call excluded.
func BenchmarkHybridSearch(b *testing.B) {
	memorytest.BenchmarkHybridSearch(b, memoryDB(b), benchPerScope(), 256)
}

// benchPerScope is 10k, or MEMPROXY_BENCH_PER_SCOPE.
func benchPerScope() int {
	if n, err := strconv.Atoi(os.Getenv("MEMPROXY_BENCH_PER_SCOPE")); err == nil && n > 0 {
		return n
	}
	return 10_000
}

// TestMemoryReplicas: two handles on one file, as the gateway and
// `memgateway memory` commands are.
func TestMemoryReplicas(t *testing.T) {
	memorytest.RunReplicas(t, func(t *testing.T) (memory.Lifecycle, memory.Lifecycle) {
		a := memoryDB(t)
		b, err := Open(t.Context(), a.path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return a, b
	})
}
