package memorytest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
)

// BenchScopes is how many scopes BenchmarkSearch fills: more than one, so
// that a backend whose index is shared by all scopes pays for it.
const BenchScopes = 3

// BenchmarkSearch fills BenchScopes scopes ("u:memproxy-bench/p:N") with
// perScope memories each, then searches one of them with the QualitySet
// queries in turn (limit 10) and reports the latency of one Search as
// p50-µs and p99-µs besides ns/op, the first search of the scope as
// load-ms, and the process's CPU time per search as cpu-µs/op (less sensitive to a busy machine than wall time). The
// memories are generated from the quality data set's vocabulary, so
// queries match many of them (10–30 % of a scope), more than in a real
// scope. The scopes are emptied before and after.
//
// afterFill, if given, runs once the memories are loaded and before the
// searches (e.g. to ANALYZE the table, as a running database's
// autovacuum does).
func BenchmarkSearch(b *testing.B, be memory.Backend, perScope int, afterFill ...func(context.Context) error) {
	ctx := context.Background()
	scopes := make([]memory.Scope, BenchScopes)
	for i := range scopes {
		scopes[i] = memory.Scope(fmt.Sprintf("u:memproxy-bench/p:%d", i))
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
	for _, f := range afterFill {
		if err := f(ctx); err != nil {
			b.Fatalf("after loading: %v", err)
		}
	}

	var queries []string
	for _, p := range QualitySet {
		for _, q := range p.Queries {
			queries = append(queries, q.Text)
		}
	}
	// Searches run under a cancellable context, as a request's is (a
	// store may pay for watching it).
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The first search of a scope may build an in-process index of it
	// (the SQL stores do): reported as load-ms, outside the percentiles.
	start := time.Now()
	if _, err := be.Search(sctx, scopes[0], queries[0], 10); err != nil {
		b.Fatal(err)
	}
	load := time.Since(start)
	i := 0
	// The process's own CPU time per search (cpu-µs/op): for an in-process
	// store (SQLite) the cost of a search whatever else the machine runs;
	// for a server (PostgreSQL) only the client's share.
	measure(b, func() error {
		_, err := be.Search(sctx, scopes[0], queries[i%len(queries)], 10)
		i++
		return err
	})
	b.ReportMetric(float64(load.Microseconds())/1e3, "load-ms")
}

// fill adds perScope generated memories to each scope, from a few
// goroutines (backends that can take concurrent writes load faster).
func fill(b *testing.B, be memory.Backend, scopes []memory.Scope, perScope int) {
	var vocab []string
	for _, p := range QualitySet {
		for _, m := range p.Memories {
			vocab = append(vocab, strings.Fields(m)...)
		}
	}
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for n := w; n < perScope*len(scopes); n += workers {
				s, k := scopes[n%len(scopes)], n/len(scopes)
				words := make([]string, 12+rng.IntN(16))
				for j := range words {
					words[j] = vocab[rng.IntN(len(vocab))]
				}
				content := fmt.Sprintf("Note %d: %s", k, strings.Join(words, " "))
				// A few tries: on a loaded machine SQLite's busy timeout
				// can run out with eight writers queued.
				var err error
				for range 5 {
					if _, _, err = be.Add(context.Background(), s, content, map[string]string{"n": fmt.Sprint(k)}); err == nil {
						break
					}
				}
				if err != nil {
					errs <- fmt.Errorf("loading %s #%d: %w", s, k, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
