package sqlite

import (
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/memorytest"
)

func TestLexicalInStep(t *testing.T) {
	db := memoryDB(t)
	memorytest.CheckInStep(t, db, db.lexical.Builds)
}

// TestSearchFallback: with an index budget no scope fits, every search
// is FTS5's, and still passes the suite (and ranks as FTS5 did).
func TestSearchFallback(t *testing.T) {
	db := memoryDB(t)
	db.lexical.MaxBytes = 1
	memorytest.Run(t, func(t *testing.T) memory.Backend { return db })
	r5, mrr, err := memorytest.Evaluate(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FTS5 fallback: recall@5 %.3f, MRR %.3f", r5, mrr)
	if r5 < 0.9 {
		t.Errorf("FTS5 fallback recall@5 %.3f; it measured 0.970", r5)
	}
	if db.lexical.Builds() == 0 {
		t.Errorf("no index was tried")
	}
	for _, s := range []string{memorytest.EvalUser + "/p:shop"} {
		if _, ok := db.lexical.Version(s); ok {
			t.Errorf("scope %s has an index over the budget", s)
		}
	}
}

func TestLexicalCatchUp(t *testing.T) {
	a := memoryDB(t)
	b, err := Open(t.Context(), a.path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	memorytest.CheckCatchUp(t, a, b, a.lexical.Builds)
	if a.lexical.Refreshes() == 0 {
		t.Errorf("a's index was never refreshed")
	}
}

// BenchmarkCatchUp: a search of a 10k scope right after another handle's
// write to it.
func BenchmarkCatchUp(b *testing.B) {
	a := memoryDB(b)
	other, err := Open(b.Context(), a.path)
	if err != nil {
		b.Fatal(err)
	}
	defer other.Close()
	memorytest.BenchmarkCatchUp(b, a, other, benchPerScope())
	b.ReportMetric(float64(a.lexical.Builds()), "builds")
}
