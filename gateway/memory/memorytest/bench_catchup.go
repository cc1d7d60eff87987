package memorytest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
)

// BenchmarkCatchUp measures a search right after another process's write
// to the scope: a and other share a database; one scope gets perScope
// generated memories, a searches it once (building its index, load-ms),
// then each op is other's Add followed by a's Search (timed alone, as
// p50-µs and p99-µs), which must catch a's index up with the write.
func BenchmarkCatchUp(b *testing.B, a, other memory.Backend, perScope int) {
	ctx := context.Background()
	s := memory.Scope("u:memproxy-cbench/p:0")
	empty := func() {
		if _, err := a.DeleteAll(ctx, s); err != nil {
			b.Fatalf("emptying %s: %v", s, err)
		}
	}
	empty()
	b.Cleanup(empty)
	fill(b, a, []memory.Scope{s}, perScope)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	if _, err := a.Search(sctx, s, "run dbt models changed", 10); err != nil {
		b.Fatal(err)
	}
	load := time.Since(start)
	n := 0
	lat := make([]time.Duration, 0, 1024)
	for b.Loop() {
		b.StopTimer()
		n++
		if _, _, err := other.Add(ctx, s, fmt.Sprintf("Catch-up note %d about deploy windows", n), nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if _, err := a.Search(sctx, s, "deploy windows", 10); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportLatency(b, lat)
	b.ReportMetric(float64(load.Microseconds())/1e3, "load-ms")
}
