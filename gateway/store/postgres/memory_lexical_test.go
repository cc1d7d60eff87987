package postgres_test

import (
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/memorytest"
	"github.com/memproxy/memproxy/gateway/store/postgres"
)

func TestLexicalInStep(t *testing.T) {
	db := memoryDB(t)
	memorytest.CheckInStep(t, db, func() int64 { return postgres.LexicalBuilds(db) })
}

// TestSearchFallback: with an index budget no scope fits, every search
// is the tsvector search's, and still passes the suite.
func TestSearchFallback(t *testing.T) {
	db := memoryDB(t)
	postgres.SetLexicalBudget(db, 1)
	memorytest.Run(t, func(t *testing.T) memory.Backend { return db })
	r5, mrr, err := memorytest.Evaluate(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tsvector fallback: recall@5 %.3f, MRR %.3f", r5, mrr)
	if r5 < 0.9 {
		t.Errorf("tsvector fallback recall@5 %.3f; it measured 0.950", r5)
	}
	if postgres.LexicalBuilds(db) == 0 {
		t.Errorf("no index was tried")
	}
}

func TestLexicalCatchUp(t *testing.T) {
	dsn := freshSchema(t)
	a, b := open(t, dsn), open(t, dsn)
	defer a.Close()
	defer b.Close()
	memorytest.CheckCatchUp(t, a, b, func() int64 { return postgres.LexicalBuilds(a) })
}

// BenchmarkCatchUp: a search of a 10k scope right after another replica's
// write to it.
func BenchmarkCatchUp(b *testing.B) {
	dsn := freshSchema(b)
	a, other := open(b, dsn), open(b, dsn)
	b.Cleanup(func() { a.Close(); other.Close() }) // after the benchmark's own cleanup
	memorytest.BenchmarkCatchUp(b, a, other, 10_000)
	b.ReportMetric(float64(postgres.LexicalBuilds(a)), "builds")
}
