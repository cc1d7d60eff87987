package track

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestAuthFailSampler: per source and minute, the first failures get rows,
// the rest are counted and summed up in one warning when the minute ends;
// all sources together are capped too.
func TestAuthFailSampler(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var a authFailSampler
	t0 := time.Unix(1_800_000_000-1_800_000_000%60, 0)
	kept := 0
	for range 50 {
		if a.keep(log, "10.0.0.1", t0) {
			kept++
		}
	}
	if kept != AuthFailRowsPerSource {
		t.Fatalf("%d of 50 failures kept in a minute, want %d", kept, AuthFailRowsPerSource)
	}
	if !a.keep(log, "10.0.0.2", t0.Add(59*time.Second)) {
		t.Fatal("another source's first failure was left out")
	}
	if !a.keep(log, "10.0.0.1", t0.Add(time.Minute)) {
		t.Fatal("a new minute kept no row for the source")
	}
	if !strings.Contains(logs.String(), "left_out=40") {
		t.Errorf("no warning summing up the 40 left out: %s", logs.String())
	}
	total := 0
	for i := range 2 * authFailRowsPerMinute {
		if a.keep(log, "src"+string(rune('a'+i%200)), t0.Add(2*time.Minute)) {
			total++
		}
	}
	if total != authFailRowsPerMinute {
		t.Errorf("%d rows kept across sources in a minute, want the cap %d", total, authFailRowsPerMinute)
	}
}
