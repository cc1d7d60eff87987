package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// bench holds the processes under test and everything measured.
type bench struct {
	o            options
	dir          string // temporary: configs, logs, the gateway's data
	up, gw, edge *child
	targets      []target // direct, gateway, edge
	usageURL     string
	client       *http.Client
	seq          int64 // next request sequence number

	idle     map[string]int64            // VmRSS KiB of gateway and edge before any load
	after    map[string]map[string]int64 // /proc/PID/status memory lines of gateway and edge after all load
	maxPeak  map[string]int64            // highest VmHWM KiB seen at the end of any measured run, retries included
	results  []*result
	integ    *result
	usage    usageCheck
	problems []string
	stopped  bool
}

// procRes is what one process used during a run.
type procRes struct {
	cpu       time.Duration
	io        ioCounts // system calls and context switches over the run
	rssBefore int64    // VmRSS before the run, KiB
	peak      int64    // VmHWM after the run, KiB
	ok        bool     // the /proc readings succeeded
}

// resources is what every process used during a run; names are gateway,
// edge, upstream and loadgen (this process).
type resources struct {
	procs     map[string]procRes
	peakReset bool          // VmHWM was reset before the run, so peak is this run's own
	other     time.Duration // CPU time of all other processes on the machine over the run
	wall      time.Duration // length of the run, for other
	pressure  float64       // share of the run some task waited for a CPU (PSI), -1 if unknown
}

// pids names the processes whose resources are measured.
func (b *bench) pids() map[string]int {
	return map[string]int{"gateway": b.gw.cmd.Process.Pid, "edge": b.edge.cmd.Process.Pid,
		"upstream": b.up.cmd.Process.Pid, "loadgen": os.Getpid()}
}

// measured runs spec and records the CPU time and memory of each process
// over the run.
func (b *bench) measured(ctx context.Context, spec runSpec) *result {
	before := map[string]procRes{}
	reset := true
	for name, pid := range b.pids() {
		var p procRes
		var err1, err2 error
		p.cpu, err1 = cpuTime(pid)
		p.io = readIOCounts(pid)
		p.rssBefore, _, err2 = memKB(pid)
		if err := resetPeak(pid); err != nil {
			reset = false
		}
		p.ok = err1 == nil && err2 == nil
		before[name] = p
	}
	skip := map[int]bool{}
	for _, pid := range b.pids() {
		skip[pid] = true
	}
	other0 := otherCPU(skip)
	psi0, errPSI := cpuPressure()
	t0 := time.Now()
	r := runLoad(ctx, b.client, spec)
	r.res = resources{procs: map[string]procRes{}, peakReset: reset, other: otherCPU(skip) - other0, wall: time.Since(t0), pressure: -1}
	if psi1, err := cpuPressure(); err == nil && errPSI == nil {
		r.res.pressure = float64(psi1-psi0) / float64(time.Since(t0))
	}
	for name, pid := range b.pids() {
		p := before[name]
		cpu, err1 := cpuTime(pid)
		_, hwm, err2 := memKB(pid)
		p.cpu, p.peak, p.ok = cpu-p.cpu, hwm, p.ok && err1 == nil && err2 == nil
		p.io = readIOCounts(pid).minus(p.io)
		r.res.procs[name] = p
		if b.maxPeak == nil {
			b.maxPeak = map[string]int64{}
		}
		b.maxPeak[name] = max(b.maxPeak[name], hwm)
	}
	return r
}

// busyOthers is the CPU (in cores) other processes may use during a run
// before it is measured again.
const busyOthers = 0.25

// runOne measures one path × mode × rate: it waits for a quiet machine,
// warms up with warmN requests at the rate, then sends n. A run during which
// other processes used more than busyOthers CPU is measured again (up to
// -retries times), and the least disturbed attempt is kept.
func (b *bench) runOne(ctx context.Context, t target, stream bool, rate, warmN, n int) *result {
	var best *result
	for attempt := 0; attempt <= b.o.retries && ctx.Err() == nil; attempt++ {
		b.waitQuiet(ctx)
		runLoad(ctx, b.client, b.spec(t, stream, rate, warmN))
		time.Sleep(200 * time.Millisecond)
		spec := b.spec(t, stream, rate, n)
		if b.o.dump != "" {
			spec.dump = filepath.Join(b.o.dump, fmt.Sprintf("%s-%s-%d-try%d.csv", t.name, modeName(stream), rate, attempt+1))
		}
		r := b.measured(ctx, spec)
		if best == nil || r.res.otherCores() < best.res.otherCores() {
			best = r
		}
		if r.res.otherCores() <= busyOthers {
			break
		}
		fmt.Fprintf(os.Stderr, "bench: other processes used %.2f CPU during %s %s %d/s\n", r.res.otherCores(), t.name, modeName(stream), rate)
	}
	return best
}

// otherCores is the CPU other processes used during the run, in cores.
func (r resources) otherCores() float64 {
	if r.wall <= 0 {
		return 0
	}
	return r.other.Seconds() / r.wall.Seconds()
}

// waitQuiet waits, up to -wait-quiet, until the other processes on the
// machine use under 0.1 CPU over half a second, so that builds or tests run
// by others on a shared machine stay out of the measured runs as far as
// possible. The report shows what other processes used during each run.
func (b *bench) waitQuiet(ctx context.Context) {
	skip := map[int]bool{}
	for _, pid := range b.pids() {
		skip[pid] = true
	}
	start := time.Now()
	for ctx.Err() == nil {
		c0 := otherCPU(skip)
		time.Sleep(500 * time.Millisecond)
		if otherCPU(skip)-c0 < 50*time.Millisecond { // 0.1 CPU
			break
		}
		if time.Since(start) > b.o.waitQuiet {
			fmt.Fprintf(os.Stderr, "bench: other processes still busy after %s; measuring anyway\n", b.o.waitQuiet)
			return
		}
	}
	if d := time.Since(start); d > time.Second {
		fmt.Fprintf(os.Stderr, "bench: waited %s for other processes to go quiet\n", d.Round(100*time.Millisecond))
	}
}

// usageCheck is what the gateway's usage log holds for the integrity run.
type usageCheck struct {
	err                                string
	rows, errorRows, non200, badTokens int
}

// usageLimit is the most rows /v1/usage returns.
const usageLimit = 10000

// checkUsage reads the usage rows of project "bench" since start from the
// gateway's /v1/usage and checks there is one clean row per stream.
func (b *bench) checkUsage(ctx context.Context, since time.Time) usageCheck {
	q := url.Values{"project": {"bench"}, "since": {since.UTC().Format(time.RFC3339Nano)}, "limit": {strconv.Itoa(usageLimit)}}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.usageURL+"?"+q.Encode(), nil)
	if err != nil {
		return usageCheck{err: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+masterKey)
	resp, err := b.client.Do(req)
	if err != nil {
		return usageCheck{err: err.Error()}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return usageCheck{err: "GET /v1/usage: " + resp.Status}
	}
	var body struct {
		Data []struct {
			Status           int    `json:"status"`
			ErrorType        string `json:"error_type"`
			CompletionTokens int    `json:"completion_tokens"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return usageCheck{err: "decoding /v1/usage: " + err.Error()}
	}
	u := usageCheck{rows: len(body.Data)}
	want := len(answerWords(0))
	for _, r := range body.Data {
		if r.ErrorType != "" {
			u.errorRows++
		}
		if r.Status != http.StatusOK {
			u.non200++
		}
		if r.CompletionTokens != want {
			u.badTokens++
		}
	}
	return u
}

// header describes the machine and the run settings.
func (b *bench) header() []string {
	cpu := "unknown CPU"
	if s, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(s), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if s, err := os.ReadFile("/proc/meminfo"); err == nil {
		if _, v, ok := strings.Cut(strings.SplitN(string(s), "\n", 2)[0], ":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	peak := "VmHWM reset before each run (per-run peak)"
	for _, r := range b.results {
		if !r.res.peakReset {
			peak = "VmHWM could not be reset: peaks are since process start"
			break
		}
	}
	return []string{
		fmt.Sprintf("machine: %d CPUs (%s), %s RAM, Linux %s; bench built with %s", runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(kernel)), runtime.Version()),
		fmt.Sprintf("runs: %s each, rates %v/s, open loop, latency from the scheduled send time; in-flight cap %d, request timeout %s",
			b.o.duration, b.o.rates, b.o.maxInflight, b.o.reqTimeout),
		fmt.Sprintf("warm-up: 1 s per path and mode at %d/s at start, then 0.5 s at the run's rate before each run (quick: 0.3 s / 0.2 s)", b.o.rates[0]),
		fmt.Sprintf("before each run the bench waits (up to %s) until other processes use under 0.1 CPU; a run during which they used over %.2f CPU is measured again (up to %d times) and the least disturbed attempt kept",
			b.o.waitQuiet, busyOthers, b.o.retries),
		"the load generator, the fake upstream, the gateway and the edge all share the same CPUs; " + peak,
	}
}

// execCommand is exec.CommandContext with the bench's child settings.
func execCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.SysProcAttr = childAttr()
	return c
}
