package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/usage"
)

// BenchBatch is the batch size of BenchmarkWriteUsage: the usage queue's
// default.
const BenchBatch = 512

// BenchmarkWriteUsage writes batches of BenchBatch new rows to sink, as the
// usage queue does, and reports rows/s. Backends call it from their own
// BenchmarkWriteUsage.
func BenchmarkWriteUsage(b *testing.B, sink usage.Sink) {
	recs := make([]usage.Record, BenchBatch)
	cost := 0.0045
	start := time.Now()
	n := 0
	for b.Loop() {
		b.StopTimer()
		for i := range recs {
			recs[i] = usage.Record{
				Time: start.Add(time.Duration(n) * time.Microsecond), RequestID: fmt.Sprintf("bench-%012d", n),
				User: "alice", Project: "github.com/acme/api", Client: "cursor", Hostname: "alice-mbp",
				Ingress: "tunnel", Method: "POST", Path: "/v1/chat/completions", Model: "gpt-4o",
				UpstreamModel: "gpt-4o-2024-08-06", Provider: "openai", Stream: true, Status: 200,
				PromptTokens: 1200, CompletionTokens: 300, CachedTokens: 1024, LatencyMS: 812.5, TTFBMS: 95.25,
				ReasoningTokens: 120, Cost: &cost, SessionID: "0b6f1c1e-5a4e-4f7e-9d3b-6c1d2e3f4a5b",
			}
			n++
		}
		b.StartTimer()
		if err := sink.WriteUsage(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}
