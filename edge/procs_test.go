package edge

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
)

// TestProcsStep: above busyRate the daemon takes every core at once; it
// gives them back only after calmTicks ticks in a row below calmRate.
func TestProcsStep(t *testing.T) {
	const quiet, busy = 1, 8
	cur, calm := quiet, 0
	step := func(rate float64) {
		cur, calm = procsStep(cur, quiet, busy, rate, calm)
	}
	step(100)
	if cur != quiet {
		t.Fatalf("light load: %d threads, want %d", cur, quiet)
	}
	step(busyRate + 1)
	if cur != busy {
		t.Fatalf("heavy load: %d threads, want %d", cur, busy)
	}
	for i := range calmTicks - 1 {
		step(calmRate - 1)
		if cur != busy {
			t.Fatalf("calm tick %d of %d: already %d threads", i+1, calmTicks, cur)
		}
	}
	step(calmRate) // not calm: the count starts again
	for range calmTicks - 1 {
		step(0)
	}
	if cur != busy {
		t.Fatalf("a tick at calmRate did not restart the count (%d threads)", cur)
	}
	step(0)
	if cur != quiet {
		t.Fatalf("after %d calm ticks: %d threads, want %d", calmTicks, cur, quiet)
	}
}

// TestGovernProcs drives the governor as the daemon runs it: one thread
// at rest, every core under a busy rate, one again after a calm spell.
func TestGovernProcs(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: nothing to govern")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	synctest.Test(t, func(t *testing.T) {
		d := &Daemon{opts: Options{QuietProcs: 1}, log: slog.New(slog.DiscardHandler)}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { d.governProcs(ctx); close(done) }()
		synctest.Wait()
		if n := runtime.GOMAXPROCS(0); n != 1 {
			t.Fatalf("at rest: GOMAXPROCS %d, want 1", n)
		}
		d.served.Add(int64(2 * busyRate * procsTick.Seconds()))
		time.Sleep(procsTick)
		synctest.Wait()
		if n := runtime.GOMAXPROCS(0); n != runtime.NumCPU() {
			t.Fatalf("busy: GOMAXPROCS %d, want %d", n, runtime.NumCPU())
		}
		time.Sleep(calmTicks * procsTick)
		synctest.Wait()
		if n := runtime.GOMAXPROCS(0); n != 1 {
			t.Fatalf("after a calm spell: GOMAXPROCS %d, want 1", n)
		}
		cancel()
		<-done
	})
}
