package postgres_test

import (
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/store/storetest"
	"github.com/memproxy/memproxy/gateway/usage"
)

// TestSummary runs the Summarizer conformance cases alone (TestStore runs
// them too, among the rest).
func TestSummary(t *testing.T) {
	db := open(t, freshSchema(t))
	defer db.Close()
	storetest.RunSummary(t, db)
}

// TestSummaryTimeZone points the session at a zone 5:30 ahead of UTC:
// buckets must still be UTC days and hours, not the session's.
func TestSummaryTimeZone(t *testing.T) {
	db := open(t, withParam(t, freshSchema(t), "timezone", "Asia/Kolkata"))
	defer db.Close()
	late := time.Date(2026, 3, 13, 20, 15, 0, 0, time.UTC) // 01:45 on the 14th in Kolkata
	if err := db.WriteUsage(t.Context(), []usage.Record{{RequestID: "r1", Time: late, Status: 200}}); err != nil {
		t.Fatal(err)
	}
	for b, want := range map[usage.Bucket]time.Time{
		usage.BucketDay:  time.Date(2026, 3, 13, 0, 0, 0, 0, time.UTC),
		usage.BucketHour: time.Date(2026, 3, 13, 20, 0, 0, 0, time.UTC),
	} {
		g, err := db.GroupUsage(t.Context(), usage.Query{}, usage.GroupBy{Bucket: b})
		if err != nil || len(g) != 1 || !g[0].Bucket.Equal(want) || g[0].Bucket.Location() != time.UTC {
			t.Errorf("%s bucket in Asia/Kolkata: %+v, %v; want %v UTC", b, g, err, want)
		}
	}
}
