package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/memory/hybrid"
)

func TestRenderProgress(t *testing.T) {
	for _, tt := range []struct {
		p       hybrid.Progress
		elapsed time.Duration
		want    string
	}{
		{hybrid.Progress{Model: "m", Dims: 256, Done: 0, Total: 1000}, 0,
			"reindex [>                             ]   0%  0/1000  0.0/s  ETA --  (model m, 256 values)"},
		{hybrid.Progress{Model: "m", Dims: 256, Done: 450, Total: 1000}, 12 * time.Second,
			"reindex [=============>                ]  45%  450/1000  37.5/s  ETA 15s  (model m, 256 values)"},
		{hybrid.Progress{Model: "m", Dims: 8, Done: 1000, Total: 1000}, 100 * time.Second,
			"reindex [==============================] 100%  1000/1000  10.0/s  ETA 0s  (model m, 8 values)"},
		// More done than counted at the start (memories added meanwhile).
		{hybrid.Progress{Model: "m", Dims: 8, Done: 12, Total: 10}, 4 * time.Second,
			"reindex [==============================] 100%  12/12  3.0/s  ETA 0s  (model m, 8 values)"},
		// A backend that cannot count: the total is what is done.
		{hybrid.Progress{Model: "m", Dims: 8, Done: 64}, time.Minute,
			"reindex [==============================] 100%  64/64  1.1/s  ETA 0s  (model m, 8 values)"},
		{hybrid.Progress{Model: "m", Dims: 8, Done: 1, Total: 7200}, time.Second,
			"reindex [>                             ]   0%  1/7200  1.0/s  ETA 1h59m59s  (model m, 8 values)"},
	} {
		if got := renderProgress(tt.p, tt.elapsed); got != tt.want {
			t.Errorf("renderProgress(%+v, %v) =\n%q\nwant\n%q", tt.p, tt.elapsed, got, tt.want)
		}
	}
}

// TestReindexProgressOutput: plain lines where stdout is not a terminal
// (a buffer here, as a pipe or a log); on a terminal one line redrawn
// with carriage returns and ended by a newline.
func TestReindexProgressOutput(t *testing.T) {
	var buf bytes.Buffer
	r := newReindexProgress(&buf)
	if r.tty {
		t.Fatal("a buffer taken for a terminal")
	}
	r.update(hybrid.Progress{Model: "m", Dims: 4, Done: 2, Total: 5})
	r.update(hybrid.Progress{Model: "m", Dims: 4, Done: 5, Total: 5})
	r.finish()
	want := "reindex: 2/5 memories embedded (model m, 4 values)\nreindex: 5/5 memories embedded (model m, 4 values)\n"
	if buf.String() != want {
		t.Errorf("plain output %q; want %q", buf.String(), want)
	}
	if strings.Contains(buf.String(), "\r") {
		t.Errorf("plain output holds a carriage return")
	}

	buf.Reset()
	at := time.Unix(100, 0)
	tty := &reindexProgress{w: &buf, tty: true, start: at, now: func() time.Time { return at.Add(2 * time.Second) }}
	tty.finish() // nothing drawn: nothing to end
	tty.update(hybrid.Progress{Model: "m", Dims: 4, Done: 2, Total: 4})
	tty.update(hybrid.Progress{Model: "m", Dims: 4, Done: 4, Total: 4})
	tty.finish()
	got := buf.String()
	if n := strings.Count(got, "\r"); n != 2 || strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\x1b[K\n") {
		t.Errorf("terminal output %q; want two carriage-return redraws and one final newline", got)
	}
	if !strings.Contains(got, " 50%  2/4  1.0/s  ETA 2s") || !strings.Contains(got, "100%  4/4  2.0/s  ETA 0s") {
		t.Errorf("terminal output %q lacks the percentages, rates and times left", got)
	}
}
