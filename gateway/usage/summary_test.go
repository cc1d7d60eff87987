package usage

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestSummaryParseTime(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"7d":                        now.Add(-7 * 24 * time.Hour),
		"1d12h":                     now.Add(-36 * time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"2026-03-01":                time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		"2026-03-01T10:00:00+02:00": time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC),
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "7", "-7d", "-24h", "7days", "1.5d", "0d", "d7", "99999999d", "yesterday"} {
		if _, err := ParseTime(in, now); !errors.Is(err, ErrBadTime) {
			t.Errorf("ParseTime(%q) = %v; want ErrBadTime", in, err)
		}
	}
}

func TestSummaryParseGroupBy(t *testing.T) {
	for in, want := range map[string]GroupBy{
		"project":             {Keys: []Key{KeyProject}},
		"day,project":         {Bucket: BucketDay, Keys: []Key{KeyProject}},
		"model, hour, status": {Bucket: BucketHour, Keys: []Key{KeyModel, KeyStatus}},
		"day":                 {Bucket: BucketDay},
	} {
		got, err := ParseGroupBy(in)
		if err != nil || got.Bucket != want.Bucket || !slices.Equal(got.Keys, want.Keys) {
			t.Errorf("ParseGroupBy(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "week", "day,hour", "project,project", "project,", "path", "project;drop", "Project"} {
		if _, err := ParseGroupBy(in); !errors.Is(err, ErrBadGroupBy) {
			t.Errorf("ParseGroupBy(%q) = %v; want ErrBadGroupBy", in, err)
		}
	}
}

func TestSummaryPercentile(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		p    float64
		want float64
	}{
		{nil, 0.5, 0},
		{[]float64{7}, 0.95, 7},
		{[]float64{10, 20}, 0.5, 15},
		{[]float64{10, 20, 30, 40}, 0.5, 25},
		{[]float64{10, 20, 30, 40}, 0.95, 38.5},
		{[]float64{1, 2, 3, 4, 5}, 0.5, 3},
	} {
		if got := Percentile(tc.in, tc.p); got-tc.want > 1e-9 || tc.want-got > 1e-9 {
			t.Errorf("Percentile(%v, %v) = %v; want %v", tc.in, tc.p, got, tc.want)
		}
	}
}

func TestSummaryBucketTruncate(t *testing.T) {
	at := time.Date(2026, 3, 14, 1, 30, 0, 0, time.FixedZone("UTC+5:30", 5*3600+1800)) // 20:00 UTC the day before
	if got, want := BucketDay.Truncate(at), time.Date(2026, 3, 13, 0, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("day of %v = %v; want %v", at, got, want)
	}
	if got, want := BucketHour.Truncate(at), time.Date(2026, 3, 13, 20, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("hour of %v = %v; want %v", at, got, want)
	}
	if got := Bucket("").Truncate(at); !got.IsZero() {
		t.Errorf("no bucket: %v", got)
	}
}
