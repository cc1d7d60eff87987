package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/store/storetest"
	"github.com/memproxy/memproxy/gateway/usage"
)

// TestSummary runs the Summarizer conformance cases alone (TestStore runs
// them too, among the rest).
func TestSummary(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "memproxy.db"))
	defer db.Close()
	storetest.RunSummary(t, db)
}

// TestSummaryWhileWriting aggregates while batches are being written, as
// the dashboard does beside a busy gateway: in WAL mode readers neither
// wait for the writer nor fail with SQLITE_BUSY, and each answer is a
// consistent snapshot (whole batches only).
func TestSummaryWhileWriting(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "memproxy.db"))
	defer db.Close()
	const batches, size = 40, 50
	start := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	wg.Go(func() {
		for b := range batches {
			recs := make([]usage.Record, size)
			for i := range recs {
				recs[i] = usage.Record{RequestID: fmt.Sprintf("r%03d-%03d", b, i), Time: start.Add(time.Duration(b*size+i) * time.Second),
					Project: []string{"a", "b"}[i%2], Status: 200, LatencyMS: float64(i)}
			}
			if err := db.WriteUsage(t.Context(), recs); err != nil {
				t.Errorf("WriteUsage: %v", err)
				return
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 25 {
				g, err := db.GroupUsage(t.Context(), usage.Query{}, usage.GroupBy{})
				if err != nil {
					t.Errorf("GroupUsage while writing: %v", err)
					return
				}
				if g[0].Requests%size != 0 {
					t.Errorf("GroupUsage saw %d requests: part of a batch", g[0].Requests)
				}
			}
		})
	}
	wg.Wait()
	g, err := db.GroupUsage(t.Context(), usage.Query{}, usage.GroupBy{Bucket: usage.BucketHour, Keys: []usage.Key{usage.KeyProject}})
	if err != nil || len(g) != 2 || g[0].Requests != batches*size/2 || g[0].LatencyP50MS != 24 {
		t.Errorf("after writing: %+v, %v", g, err)
	}
}
