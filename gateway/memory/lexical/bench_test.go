package lexical

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory/memorytest"
)

// benchMemories generates n memories as memorytest.BenchmarkSearch does:
// 12–27 words drawn from the quality set's memories.
func benchMemories(n int) []string {
	var vocab []string
	for _, p := range memorytest.QualitySet {
		for _, m := range p.Memories {
			vocab = append(vocab, strings.Fields(m)...)
		}
	}
	rng := rand.New(rand.NewPCG(1, 42))
	out := make([]string, n)
	for k := range out {
		words := make([]string, 12+rng.IntN(16))
		for j := range words {
			words[j] = vocab[rng.IntN(len(vocab))]
		}
		out[k] = fmt.Sprintf("Note %d: %s", k, strings.Join(words, " "))
	}
	return out
}

// BenchmarkIndex: one scope of 10k generated memories. build is the
// index's construction (ms per build, as a scope's first search pays it
// besides reading the rows); heap-B/memory the live heap it holds per
// memory, est-B/memory the cache's estimate of it; search is the
// ranking of the quality set's queries (the store adds reading the
// rows found).
func BenchmarkIndex(b *testing.B) {
	docs := benchMemories(10_000)
	build := func() *Index {
		bd := NewBuilder(0)
		for i, d := range docs {
			bd.Add(fmt.Sprintf("mem_%026d", i), int64(i), d)
		}
		return bd.Index()
	}
	b.Run("build", func(b *testing.B) {
		var ix *Index
		for b.Loop() {
			ix = build()
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ix = build()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(docs)), "heap-B/memory")
		b.ReportMetric(float64(ix.Bytes())/float64(len(docs)), "est-B/memory")
		runtime.KeepAlive(ix)
	})
	b.Run("search", func(b *testing.B) {
		ix := build()
		var queries [][]string
		for _, p := range memorytest.QualitySet {
			for _, q := range p.Queries {
				queries = append(queries, QueryTerms(q.Text))
			}
		}
		i := 0
		for b.Loop() {
			ix.Search(queries[i%len(queries)], 10)
			i++
		}
	})
}
