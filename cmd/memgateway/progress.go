package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/memproxy/memproxy/gateway/memory/hybrid"
)

// reindexProgress shows `memory reindex`'s progress: on a terminal one
// line redrawn in place (carriage return) with a bar, the percentage, the
// rate and the time left; elsewhere (a pipe, a file, a CI log) one plain
// line per batch, which reads well in a log and greps.
type reindexProgress struct {
	w     io.Writer
	tty   bool
	start time.Time
	now   func() time.Time
	drawn bool
}

// barWidth is the number of cells of the bar.
const barWidth = 30

func newReindexProgress(w io.Writer) *reindexProgress {
	f, ok := w.(*os.File)
	return &reindexProgress{w: w, tty: ok && term.IsTerminal(int(f.Fd())), start: time.Now(), now: time.Now}
}

// update shows p (called after each batch).
func (r *reindexProgress) update(p hybrid.Progress) {
	if !r.tty {
		fmt.Fprintf(r.w, "reindex: %d/%d memories embedded (model %s, %d values)\n", p.Done, max(p.Total, p.Done), p.Model, p.Dims)
		return
	}
	// \x1b[K clears what a longer earlier line left to the right.
	fmt.Fprintf(r.w, "\r%s\x1b[K", renderProgress(p, r.now().Sub(r.start)))
	r.drawn = true
}

// finish ends the redrawn line, so that what follows starts on its own.
func (r *reindexProgress) finish() {
	if r.drawn {
		fmt.Fprintln(r.w)
		r.drawn = false
	}
}

// renderProgress is the terminal line for p after elapsed:
//
//	reindex [=============>                ]  45%  450/1000  37.5/s  ETA 15s  (model m, 256 values)
//
// The rate is this run's memories per second since it started; the time
// left assumes it holds ("ETA --" before anything is done).
func renderProgress(p hybrid.Progress, elapsed time.Duration) string {
	total := max(p.Total, p.Done)
	frac := 1.0
	if total > 0 {
		frac = float64(p.Done) / float64(total)
	}
	filled := int(frac * barWidth)
	bar := strings.Repeat("=", filled)
	if filled < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-filled-1)
	}
	rate, eta := 0.0, "--"
	if s := elapsed.Seconds(); s > 0 && p.Done > 0 {
		rate = float64(p.Done) / s
		eta = time.Duration(float64(total-p.Done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("reindex [%s] %3d%%  %d/%d  %.1f/s  ETA %s  (model %s, %d values)",
		bar, int(frac*100), p.Done, total, rate, eta, p.Model, p.Dims)
}
