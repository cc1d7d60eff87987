package usage

import (
	"context"
	"testing"
	"time"
)

// BenchmarkBeginFinish measures what journaling adds to a request's path:
// Begin at admission and Finish at the end, one after the other (serial)
// and from many goroutines at once (parallel: group commit), per fsync
// mode, with a sink that takes everything.
func BenchmarkBeginFinish(b *testing.B) {
	rec := Record{Time: time.Now().UTC(), RequestID: "req_ABCDEFGHIJKLMNOPQRSTUVWX", User: "ann", Project: "shop",
		Client: "claude-code", Ingress: "tunnel", Method: "POST", Path: "/v1/messages", Model: "claude-sonnet",
		Provider: "anthropic", UpstreamModel: "claude-sonnet-4", Status: 200, PromptTokens: 1200, CompletionTokens: 300,
		LatencyMS: 812.5, TTFBMS: 301.2, MemoryStatus: "injected", MemoryCount: 3, MemoryIDs: "m1,m2,m3"}
	sink := sinkFunc(func(context.Context, []Record) error { return nil })
	for _, mode := range []string{"none", "never", "batch", "always"} {
		for _, parallel := range []bool{false, true} {
			name := mode + "/serial"
			if parallel {
				name = mode + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				o := QueueOptions{Fsync: mode}
				if mode != "none" {
					o.JournalDir = b.TempDir()
				}
				q := NewQueue(sink, o)
				go q.Run()
				b.ReportAllocs()
				if parallel {
					b.SetParallelism(16)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							q.Finish(q.Begin(rec), rec)
						}
					})
				} else {
					for b.Loop() {
						q.Finish(q.Begin(rec), rec)
					}
				}
				b.StopTimer()
				_ = q.Close(context.Background())
			})
		}
	}
}
