package postgres_test

// The memorytest conformance suite on PostgreSQL, each subtest in a fresh
// schema, the quality evaluation and the search benchmark.

import (
	"context"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/memorytest"
	"github.com/memproxy/memproxy/gateway/store/postgres"
)

func memoryDB(t testing.TB) *postgres.DB {
	t.Helper()
	db := open(t, freshSchema(t))
	t.Cleanup(func() { db.Close() })
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

func TestMemoryLifecycle(t *testing.T) {
	db := memoryDB(t)
	memorytest.RunLifecycle(t, func(t *testing.T) memory.Lifecycle { return db })
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

// BenchmarkSearch: 10k memories in each of memorytest.BenchScopes scopes,
// with the table analyzed after loading, as autovacuum does within a
// minute in a running deployment (BenchmarkSearchUnanalyzed: before).
func BenchmarkSearch(b *testing.B) {
	dsn := freshSchema(b)
	db := open(b, dsn)
	b.Cleanup(func() { db.Close() })
	memorytest.BenchmarkSearch(b, db, 10_000, func(context.Context) error {
		admin(b, dsn, `ANALYZE memories`)
		return nil
	})
}

// BenchmarkSearchUnanalyzed: as BenchmarkSearch, searching right after the
// load, before the table has statistics.
func BenchmarkSearchUnanalyzed(b *testing.B) {
	memorytest.BenchmarkSearch(b, memoryDB(b), 10_000)
}

func TestMemoryVectors(t *testing.T) {
	db := memoryDB(t)
	memorytest.RunVectors(t, func(t *testing.T) memorytest.VectorBackend { return db })
}

func TestMemoryHybrid(t *testing.T) {
	memorytest.RunHybrid(t, func(t *testing.T) memorytest.VectorBackend { return memoryDB(t) })
}

// BenchmarkHybridSearch: as SQLite's, with the tables vacuumed and
// analyzed after loading, as autovacuum does in a running deployment
// (loading bumps each scope's vector version 10k times).
func BenchmarkHybridSearch(b *testing.B) {
	dsn := freshSchema(b)
	db := open(b, dsn)
	b.Cleanup(func() { db.Close() })
	memorytest.BenchmarkHybridSearch(b, db, 10_000, 256, func(context.Context) error {
		admin(b, dsn, `VACUUM ANALYZE memories, memory_vectors, memory_vector_scopes`)
		return nil
	})
}

// TestMemoryReplicas: two stores on one database, as two gateway replicas.
func TestMemoryReplicas(t *testing.T) {
	memorytest.RunReplicas(t, func(t *testing.T) (memory.Lifecycle, memory.Lifecycle) {
		dsn := freshSchema(t)
		a, b := open(t, dsn), open(t, dsn)
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	})
}
