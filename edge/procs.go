package edge

import (
	"context"
	"runtime"
	"time"
)

// The daemon runs its Go code on few threads while its load is light
// (Options.QuietProcs, GOMAXPROCS): it relays one developer's requests, a
// few at a time, each mostly waiting on the network, and with a thread
// per core every hand-off between its goroutines (HTTP handler, gRPC
// reader and writer) woke another core's idle thread, which spun and slept
// again: 15–25 % of the edge's CPU per request (docs/performance.md,
// "Edge path CPU"). Under a load that one thread cannot keep up with
// (a script or a benchmark sending thousands of requests a second), it
// takes every core, and gives them back once the load has stayed light
// for a while.

const (
	// busyRate is the request rate (per second) above which the daemon
	// takes every core: one thread relays 1000 a second at under half a
	// core, but fell behind at 2000 on a 2-core machine shared with the
	// gateway (docs/performance.md). calmRate is the rate below which it
	// gives them back, after calmTicks ticks in a row.
	busyRate, calmRate = 1500, 750
	calmTicks          = 5
	// procsTick is how often the rate is read: an idle daemon wakes this
	// often, and no more.
	procsTick = 2 * time.Second
)

// procsStep is the governor's decision at one tick: the GOMAXPROCS to run
// with next and the count of calm ticks in a row, given the current
// setting and the request rate over the last tick.
func procsStep(cur, quiet, busy int, rate float64, calm int) (int, int) {
	switch {
	case rate > busyRate:
		return busy, 0
	case cur == quiet || rate >= calmRate:
		return cur, 0
	case calm+1 >= calmTicks:
		return quiet, 0
	}
	return cur, calm + 1
}

// governProcs applies Options.QuietProcs at once and then adjusts
// GOMAXPROCS to the request rate every procsTick until ctx ends.
func (d *Daemon) governProcs(ctx context.Context) {
	quiet, busy := d.opts.QuietProcs, runtime.NumCPU()
	if quiet <= 0 || quiet >= busy {
		return
	}
	runtime.GOMAXPROCS(quiet)
	cur := quiet
	t := time.NewTicker(procsTick)
	defer t.Stop()
	last, calm := d.served.Load(), 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := d.served.Load()
		rate := float64(n-last) / procsTick.Seconds()
		next, c := procsStep(cur, quiet, busy, rate, calm)
		last, calm = n, c
		if next != cur {
			d.log.Info("edge threads", "gomaxprocs", next, "requests_per_second", rate)
			runtime.GOMAXPROCS(next)
			cur = next
		}
	}
}
