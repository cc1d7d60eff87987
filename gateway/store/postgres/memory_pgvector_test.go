package postgres_test

// The vector conformance suites on the pgvector path (HNSW in PostgreSQL),
// where the test server's database has the extension. No registry the
// project's machines reach carries pgvector (Debian's packages here have
// none), so CI skips these unless its server has it;
// MEMPROXY_REQUIRE_PGVECTOR=1 makes its absence a failure.

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/memorytest"
	"github.com/memproxy/memproxy/gateway/store/postgres"
	"github.com/memproxy/memproxy/test/services"
)

// requirePgvector skips (or fails, with MEMPROXY_REQUIRE_PGVECTOR) unless
// the test server has the pgvector extension.
func requirePgvector(t testing.TB) {
	t.Helper()
	base := services.RequirePostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_extension WHERE extname = 'vector'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		if os.Getenv("MEMPROXY_REQUIRE_PGVECTOR") != "" {
			t.Fatal("the pgvector extension is required (MEMPROXY_REQUIRE_PGVECTOR is set) but not installed in the test database")
		}
		t.Skip("pgvector: the extension is not installed in the test database (no registry these machines reach carries it; CREATE EXTENSION vector where it is installed)")
	}
}

func openVectors(t testing.TB, dsn, mode string) *postgres.DB {
	t.Helper()
	db, err := postgres.OpenWith(t.Context(), dsn, postgres.Options{Vectors: mode})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pgvectorDB(t testing.TB) *postgres.DB {
	t.Helper()
	requirePgvector(t)
	return openVectors(t, freshSchema(t), postgres.VectorsPgvector)
}

func TestMemoryVectorsPgvector(t *testing.T) {
	db := pgvectorDB(t)
	if got := db.VectorSearch(); !strings.HasPrefix(got, "pgvector ") {
		t.Fatalf("VectorSearch = %q; want the pgvector path", got)
	}
	memorytest.RunVectors(t, func(t *testing.T) memorytest.VectorBackend { return db })
}

func TestMemoryHybridPgvector(t *testing.T) {
	memorytest.RunHybrid(t, func(t *testing.T) memorytest.VectorBackend { return pgvectorDB(t) })
}

// TestPgvectorTakesOverStoredVectors: vectors stored while search ran in
// the gateway are copied into pgvector when vector_search turns to it (the
// next start), and searched there with the same answers as the scan; a
// superseded memory leaves the index.
func TestPgvectorTakesOverStoredVectors(t *testing.T) {
	requirePgvector(t)
	dsn := freshSchema(t)
	scan := openVectors(t, dsn, postgres.VectorsGateway)
	if got := scan.VectorSearch(); strings.HasPrefix(got, "pgvector") {
		t.Fatalf("VectorSearch = %q with the scan asked for", got)
	}
	ctx, sc, model := t.Context(), memory.Scope("u:alice/p:shop"), "embed-test"
	rng := rand.New(rand.NewPCG(1, 2))
	vecs := map[string][]float32{}
	for i := range 40 {
		m, _, err := scan.Add(ctx, sc, "memory "+strings.Repeat("x", i+1), nil)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float32, 16)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		vecs[m.ID] = v
		if err := scan.PutVector(ctx, sc, m.ID, model, v); err != nil {
			t.Fatal(err)
		}
	}
	other, _, _ := scan.Add(ctx, "u:bob/p:shop", "bob's memory", nil)
	if err := scan.PutVector(ctx, "u:bob/p:shop", other.ID, model, vecs[firstKey(vecs)]); err != nil {
		t.Fatal(err)
	}
	pgv := openVectors(t, dsn, postgres.VectorsPgvector)
	for id, q := range vecs {
		want, err := scan.SearchVectors(ctx, sc, model, q, 5, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgv.SearchVectors(ctx, sc, model, q, 5, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[0].ID != id || len(got) != len(want) {
			t.Fatalf("pgvector search for %s: %v; want it first of %d like the scan's %v", id, ids(got), len(want), ids(want))
		}
		for _, m := range got {
			if m.ID == other.ID {
				t.Fatalf("another scope's memory %s in the results", other.ID)
			}
		}
	}
	// A superseded memory's vector leaves the index (its emb is cleared),
	// so index scans need no join to skip it.
	old := firstKey(vecs)
	if _, err := pgv.Supersede(ctx, sc, old, "memory corrected", memory.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var cleared bool
	if err := conn.QueryRow(ctx, `SELECT emb IS NULL FROM memory_vectors WHERE id = $1`, old).Scan(&cleared); err != nil || !cleared {
		t.Errorf("superseded memory's pgvector copy cleared: %v, %v; want true", cleared, err)
	}
	if got, _ := pgv.SearchVectors(ctx, sc, model, vecs[old], 5, 0); len(got) > 0 && got[0].ID == old {
		t.Errorf("the superseded memory %s still found first", old)
	}
}

func firstKey(m map[string][]float32) string {
	for k := range m {
		return k
	}
	return ""
}

func ids(ms []memory.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// TestPgvectorAskedForButMissing: Options.Vectors = pgvector on a
// database without the extension (extensions are per database: a fresh
// one has none) is an error at Open, not a silent scan; the default scans.
func TestPgvectorAskedForButMissing(t *testing.T) {
	base := services.RequirePostgres(t)
	name := "memproxy_novector_" + hex.EncodeToString(randomBytes(6))
	admin(t, base, `CREATE DATABASE `+name)
	t.Cleanup(func() { admin(t, base, `DROP DATABASE `+name+` WITH (FORCE)`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	if db, err := postgres.OpenWith(t.Context(), u.String(), postgres.Options{Vectors: postgres.VectorsPgvector}); err == nil {
		db.Close()
		t.Fatal("Open asked for pgvector without the extension: no error")
	}
	db := openVectors(t, u.String(), postgres.VectorsGateway)
	if got := db.VectorSearch(); strings.HasPrefix(got, "pgvector") {
		t.Errorf("VectorSearch = %q on a database without the extension", got)
	}
}

// BenchmarkHybridSearchPgvector: BenchmarkHybridSearch with vector search
// in PostgreSQL (HNSW) instead of the gateway.
func BenchmarkHybridSearchPgvector(b *testing.B) {
	requirePgvector(b)
	dsn := freshSchema(b)
	db := openVectors(b, dsn, postgres.VectorsPgvector)
	memorytest.BenchmarkHybridSearch(b, db, 10_000, 256, func(context.Context) error {
		admin(b, dsn, `VACUUM ANALYZE memories, memory_vectors, memory_vector_scopes`)
		return nil
	})
}
