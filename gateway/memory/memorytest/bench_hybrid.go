package memorytest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/hybrid"
)

// BenchmarkHybridSearch fills the scopes as BenchmarkSearch does, gives
// every memory a random vector of dims values, and then measures, with
// the embedding call excluded (a precomputed query vector is returned at
// once):
//
//   - vector: SearchVectors alone (limit 20, as hybrid asks), the scope's
//     vectors already loaded;
//   - hybrid: hybrid Search (lexical and vector lists fused, limit 10);
//
// each reported as p50-µs and p99-µs besides ns/op. load-ms is the first
// vector search, which reads and decodes the scope's vectors. afterLoad,
// if given, runs once the vectors are stored (e.g. VACUUM ANALYZE, as a
// running database's autovacuum does).
func BenchmarkHybridSearch(b *testing.B, be VectorBackend, perScope, dims int, afterLoad ...func(context.Context) error) {
	ctx := context.Background()
	scopes := make([]memory.Scope, BenchScopes)
	for i := range scopes {
		scopes[i] = memory.Scope(fmt.Sprintf("u:memproxy-hbench/p:%d", i))
	}
	empty := func() {
		for _, s := range scopes {
			if _, err := be.DeleteAll(ctx, s); err != nil {
				b.Fatalf("emptying %s: %v", s, err)
			}
		}
	}
	empty()
	b.Cleanup(empty)
	fill(b, be, scopes, perScope)
	const mdl = "bench-model"
	rng := rand.New(rand.NewPCG(7, 7))
	randVec := func() []float32 {
		v := make([]float32, dims)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for {
		us, err := be.MissingVectors(ctx, mdl, dims, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(us) == 0 {
			break
		}
		for _, u := range us {
			if err := be.PutVector(ctx, u.Scope, u.Memory.ID, mdl, randVec()); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, f := range afterLoad {
		if err := f(ctx); err != nil {
			b.Fatalf("after loading: %v", err)
		}
	}
	// Searches run under a cancellable context, as a request's is (a
	// store may pay for watching it).
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queries := make([][]float32, 64)
	for i := range queries {
		queries[i] = randVec()
	}
	start := time.Now()
	if _, err := be.SearchVectors(sctx, scopes[0], mdl, queries[0], 20, 0); err != nil {
		b.Fatal(err)
	}
	load := time.Since(start)

	b.Run("vector", func(b *testing.B) {
		i := 0
		measure(b, func() error {
			i++
			_, err := be.SearchVectors(sctx, scopes[0], mdl, queries[i%len(queries)], 20, 0)
			return err
		})
		b.ReportMetric(float64(load.Microseconds())/1e3, "load-ms")
	})
	b.Run("hybrid", func(b *testing.B) {
		i := 0
		h, err := hybrid.New(be, hybrid.Options{Embed: func(context.Context, []string, string) ([][]float32, string, error) {
			return [][]float32{queries[i%len(queries)]}, mdl, nil
		}})
		if err != nil {
			b.Fatal(err)
		}
		var text []string
		for _, p := range QualitySet {
			for _, q := range p.Queries {
				text = append(text, q.Text)
			}
		}
		measure(b, func() error {
			i++
			_, err := h.Search(sctx, scopes[0], text[i%len(text)], 10)
			return err
		})
	})
}

// measure runs op in b.Loop and reports p50-µs, p99-µs and the
// process's CPU time per op (cpu-µs/op).
func measure(b *testing.B, op func() error) {
	lat := make([]time.Duration, 0, 1024)
	cpu0, cpuOK := cpuTime()
	for b.Loop() {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	if cpu1, ok := cpuTime(); ok && cpuOK && len(lat) > 0 {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(len(lat)), "cpu-µs/op")
	}
	reportLatency(b, lat)
}

// reportLatency reports the p50-µs and p99-µs of lat.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p int) float64 { return float64(lat[min(len(lat)-1, len(lat)*p/100)].Nanoseconds()) / 1e3 }
	b.ReportMetric(pct(50), "p50-µs")
	b.ReportMetric(pct(99), "p99-µs")
}
