// Command bench is memproxy's loopback load benchmark. It starts a fake
// OpenAI upstream (this binary again, as a separate process), the gateway
// and an edge from -bin, then drives fixed-rate (open-loop) load along three
// paths: direct (client → upstream), gateway (client → gateway HTTP) and
// edge (client → edge → gRPC → gateway), non-streaming and streaming. It
// reports latency percentiles, errors, CPU time and RSS of the product
// processes, the latency each path adds over direct, and a stream integrity
// run that counts cut or altered streams. It reports; it never asserts.
//
//	go run ./test/bench -bin bin [-duration 10s] [-rates 500,1000,2000] [-quick] [-markdown FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	bin           string
	duration      time.Duration
	rates         []int
	quick         bool
	markdown      string
	integrity     int
	integrityRate int
	maxInflight   int
	reqTimeout    time.Duration
	timeout       time.Duration
	keep          bool
	dump          string
	waitQuiet     time.Duration
	retries       int
	upstream      string // hidden: run as the fake upstream on this address
	legacyConfig  bool
	paths         map[string]bool // measure only these targets (nil: all)
}

// main parses the flags and runs either the benchmark or, with -upstream,
// the fake upstream.
func main() {
	var o options
	var rates, paths string
	flag.StringVar(&o.bin, "bin", "bin", "directory holding memgateway and memedge (run 'make build' first)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured run")
	flag.StringVar(&rates, "rates", "500,1000,2000", "request rates to measure, per second, comma separated")
	flag.BoolVar(&o.quick, "quick", false, "smoke check: 1 s runs at the first rate only, 1,000-stream integrity run, no retries")
	flag.StringVar(&o.markdown, "markdown", "", "also write the results as Markdown tables to this file")
	flag.IntVar(&o.integrity, "integrity", 10000, "streams in the integrity run (edge path)")
	flag.IntVar(&o.integrityRate, "integrity-rate", 1000, "request rate of the integrity run, per second")
	flag.IntVar(&o.maxInflight, "max-inflight", 1000, "in-flight cap per run; requests beyond it are not sent and count as errors")
	flag.DurationVar(&o.reqTimeout, "request-timeout", 5*time.Second, "timeout of one request, headers and body")
	flag.DurationVar(&o.timeout, "timeout", 45*time.Minute, "total time limit of the benchmark")
	flag.BoolVar(&o.legacyConfig, "legacy-config", false, "leave out settings a gateway older than 2026-12-06 rejects (max_connections_per_ip); its connections are not capped anyway")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs, usage database)")
	flag.DurationVar(&o.waitQuiet, "wait-quiet", 20*time.Second, "before each run, wait up to this long for other processes on the machine to go quiet")
	flag.IntVar(&o.retries, "retries", 2, "measure a run again, up to this many times, when other processes used over 0.25 CPU during it")
	flag.StringVar(&paths, "paths", "direct,gateway,edge", "paths to measure, comma separated (the added latency needs direct)")
	flag.StringVar(&o.dump, "dump", "", "write per-request timings of each measured run as CSV files into this directory")
	flag.StringVar(&o.upstream, "upstream", "", "")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./test/bench -bin bin [flags]\n\n")
		flag.VisitAll(func(f *flag.Flag) {
			if f.Name != "upstream" { // internal: the fake upstream's re-exec
				fmt.Fprintf(flag.CommandLine.Output(), "  -%s\t%s (default %q)\n", f.Name, f.Usage, f.DefValue)
			}
		})
	}
	flag.Parse()
	if o.upstream != "" {
		if err := checkLoopback(o.upstream); err != nil {
			fail(err)
		}
		if err := runUpstream(o.upstream); err != nil {
			fail(err)
		}
		return
	}
	for _, s := range strings.Split(rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("-rates: %q is not a positive number", s))
		}
		o.rates = append(o.rates, n)
	}
	for _, p := range strings.Split(paths, ",") {
		switch p = strings.TrimSpace(p); p {
		case "direct", "gateway", "edge":
			if o.paths == nil {
				o.paths = map[string]bool{}
			}
			o.paths[p] = true
		default:
			fail(fmt.Errorf("-paths: %q is not direct, gateway or edge", p))
		}
	}
	if o.quick {
		o.duration, o.rates, o.integrity = time.Second, o.rates[:1], min(o.integrity, 1000)
		o.retries, o.waitQuiet = 0, min(o.waitQuiet, 2*time.Second)
	}
	if o.integrityRate <= 0 || o.maxInflight <= 0 || o.duration <= 0 {
		fail(fmt.Errorf("-integrity-rate, -max-inflight and -duration must be positive"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		cancel()
		stop()
		fail(err)
	}
}

// fail reports err and exits with status 1.
func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// run sets up the processes, measures, and reports.
func run(ctx context.Context, o options) (err error) {
	b := &bench{o: o, client: newClient(), seq: 1}
	if b.dir, err = os.MkdirTemp("", "memproxy-bench-"); err != nil {
		return err
	}
	defer func() {
		b.shutdown()
		if ents, _ := os.ReadDir(b.dir); len(ents) > 0 && (o.keep || err != nil || len(b.problems) > 0) {
			fmt.Fprintf(os.Stderr, "bench: configs, logs and the usage database are kept in %s\n", b.dir)
		} else {
			os.RemoveAll(b.dir)
		}
	}()
	if err := b.setup(ctx); err != nil {
		return err
	}
	// A run cut short (time limit, crash) still reports what was measured.
	merr := b.measureAll(ctx)
	if merr != nil {
		b.problem("the benchmark stopped early: %v", merr)
	}
	b.shutdown()
	tables := b.tables()
	fmt.Println()
	writeText(os.Stdout, b.header(), tables)
	if o.markdown != "" {
		f, err := os.Create(o.markdown)
		if err != nil {
			return err
		}
		writeMarkdown(f, b.header(), tables)
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", o.markdown)
	}
	return merr
}

// The gateway config: the upstream answers as model "fast". %s is
// connCapOff, or nothing for a gateway older than the setting.
const gatewayConfig = `general_settings:
  master_key: %s
%smodel_list:
  - model_name: %s
    litellm_params:
      model: openai/%s
      api_base: http://127.0.0.1:%d/v1
      api_key: %s
`

const masterKey = "sk-bench-master"

// connCapOff lifts the gateway's per-address connection cap (256 by
// default): the load generator opens up to -max-inflight connections from
// 127.0.0.1, as a load balancer in front of the gateway would.
const connCapOff = "  max_connections_per_ip: 0\n"

func (b *bench) connCapSetting() string {
	if b.o.legacyConfig {
		return ""
	}
	return connCapOff
}

// setup starts the upstream, the gateway and the edge, checks every path
// once, and records idle RSS.
func (b *bench) setup(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bin, err := filepath.Abs(b.o.bin)
	if err != nil {
		return err
	}
	gwBin, edgeBin := filepath.Join(bin, "memgateway"), filepath.Join(bin, "memedge")
	for _, p := range []string{gwBin, edgeBin} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w (run 'make build' first)", err)
		}
	}
	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	upPort, httpPort, grpcPort, edgePort := ports[0], ports[1], ports[2], ports[3]
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	has := func(s string) func(string) bool { return func(l string) bool { return strings.Contains(l, s) } }

	if b.up, _, err = startChild("upstream", b.dir, self, []string{"-upstream", addr(upPort)}, nil, has("upstream ready"), 10*time.Second); err != nil {
		return err
	}
	cfg := filepath.Join(b.dir, "gateway.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, gatewayConfig, masterKey, b.connCapSetting(), benchModel, benchModel, upPort, upstreamKey), 0o600); err != nil {
		return err
	}
	if b.gw, _, err = startChild("gateway", b.dir, gwBin, []string{"serve", "--data-dir", filepath.Join(b.dir, "data"),
		"--http", addr(httpPort), "--grpc", addr(grpcPort), "--config", cfg}, nil, has("HTTP on"), 30*time.Second); err != nil {
		return err
	}
	home := filepath.Join(b.dir, "edge-home")
	env := []string{"MEMPROXY_HOME=" + home, "MEMEDGE_PORT_MIN=" + strconv.Itoa(edgePort), "MEMEDGE_PORT_MAX=" + strconv.Itoa(edgePort)}
	lctx, lcancel := context.WithTimeout(ctx, 15*time.Second)
	defer lcancel()
	login := execCommand(lctx, edgeBin, "login", "--gateway", addr(grpcPort), "--key", masterKey)
	login.Env = append(os.Environ(), env...)
	if out, err := login.CombinedOutput(); err != nil {
		return fmt.Errorf("memedge login: %v: %s", err, out)
	}
	var line string
	if b.edge, line, err = startChild("edge", b.dir, edgeBin, []string{"run", "--project", "bench"}, env, has("bench →"), 30*time.Second); err != nil {
		return err
	}
	edgeURL := "http://" + addr(edgePort)
	if _, u, _ := strings.Cut(line, "→ "); strings.TrimSpace(u) != edgeURL {
		return fmt.Errorf("the edge announced %q, expected %s", line, edgeURL)
	}
	const path = "/v1/chat/completions"
	b.targets = []target{
		{name: "direct", url: "http://" + addr(upPort) + path, key: upstreamKey},
		{name: "gateway", url: "http://" + addr(httpPort) + path, key: masterKey},
		{name: "edge", url: edgeURL + path},
	}
	b.usageURL = "http://" + addr(httpPort) + "/v1/usage"
	for _, t := range b.targets {
		if err := checkLoopback(t.url); err != nil {
			return err
		}
	}
	time.Sleep(time.Second) // let the edge reach the gateway and both settle
	b.idle = map[string]int64{}
	for _, c := range []*child{b.gw, b.edge} {
		b.idle[c.name], _, _ = memKB(c.cmd.Process.Pid)
	}
	for _, t := range b.targets { // one request of each kind, to fail early and clearly
		for _, stream := range []bool{false, true} {
			r := runLoad(ctx, b.client, b.spec(t, stream, 1, 1))
			if r.counts[outOK] != 1 {
				return fmt.Errorf("first request on path %s (stream=%v) failed: %s", t.name, stream, firstError(r))
			}
		}
	}
	return nil
}

// spec builds a run of count requests at rate on t, with fresh sequence
// numbers.
func (b *bench) spec(t target, stream bool, rate, count int) runSpec {
	s := runSpec{target: t, stream: stream, rate: rate, count: count, maxInflight: b.o.maxInflight,
		reqTimeout: b.o.reqTimeout, grace: 2 * time.Second, seqBase: b.seq}
	b.seq += int64(count)
	return s
}

// measureAll warms each path up, runs every path × mode × rate, then the
// stream integrity run.
func (b *bench) measureAll(ctx context.Context) error {
	warm, preWarm := time.Second, 500*time.Millisecond
	if b.o.quick {
		warm, preWarm = 300*time.Millisecond, 200*time.Millisecond
	}
	count := func(rate int, d time.Duration) int { return max(1, int(float64(rate)*d.Seconds())) }
	for _, t := range b.targets {
		for _, stream := range []bool{false, true} {
			r := runLoad(ctx, b.client, b.spec(t, stream, b.o.rates[0], count(b.o.rates[0], warm)))
			if r.errors() > 0 {
				b.problem("warm-up of %s (stream=%v): %d errors: %s", t.name, stream, r.errors(), firstError(r))
			}
		}
	}
	for _, stream := range []bool{false, true} {
		for _, rate := range b.o.rates {
			for _, t := range b.targets {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if !b.o.paths[t.name] {
					continue
				}
				r := b.runOne(ctx, t, stream, rate, count(rate, preWarm), count(rate, b.o.duration))
				b.results = append(b.results, r)
				fmt.Fprintf(os.Stderr, "%-7s %-6s %5d/s: p50 %s p99 %s, %d errors\n", t.name, modeName(stream), rate,
					ms(pct(r.lat, 50)), ms(pct(r.lat, 99)), r.errors())
				if err := b.checkAlive(); err != nil {
					return err
				}
			}
		}
	}
	b.waitQuiet(ctx)
	edge := b.targets[2]
	start := time.Now()
	b.integ = b.measured(ctx, b.spec(edge, true, b.o.integrityRate, b.o.integrity))
	fmt.Fprintf(os.Stderr, "integrity: %d streams, %d cut, %d errors\n", b.integ.spec.count, b.integ.cut(), b.integ.errors())
	time.Sleep(1500 * time.Millisecond) // the usage log writes in batches
	b.after = map[string]map[string]int64{}
	for _, c := range []*child{b.gw, b.edge} {
		b.after[c.name], _ = statusKB(c.cmd.Process.Pid)
	}
	b.usage = b.checkUsage(ctx, start)
	return b.checkAlive()
}

// checkAlive turns a crashed product process into an error naming it.
func (b *bench) checkAlive() error {
	for _, c := range []*child{b.up, b.gw, b.edge} {
		if !c.alive() {
			b.problem("%s exited during the benchmark: %v; last log lines:\n%s", c.name, c.waitErr, c.logTail(15))
			return fmt.Errorf("%s exited during the benchmark (%v)", c.name, c.waitErr)
		}
	}
	return nil
}

// shutdown stops the children (edge first) and collects the warnings and
// errors they logged. It is safe to call twice.
func (b *bench) shutdown() {
	if b.stopped {
		return
	}
	b.stopped = true
	for _, c := range []*child{b.edge, b.gw, b.up} {
		if c == nil {
			continue
		}
		wasAlive := c.alive()
		if err := c.stop(); err != nil && wasAlive {
			b.problem("%s did not exit cleanly on SIGTERM: %v", c.name, err)
		}
		if p := c.logProblems(); len(p) > 0 {
			b.problem("%s logged %d warning/error lines, first: %s", c.name, len(p), strings.Join(p[:min(3, len(p))], " | "))
		}
	}
}

// problem records something the report must mention (and prints it now).
func (b *bench) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.problems = append(b.problems, msg)
	fmt.Fprintln(os.Stderr, "bench: problem:", msg)
}

// firstError describes the first kind of error a run had.
func firstError(r *result) string {
	for k := outCap; k < numOutcomes; k++ {
		if r.counts[k] > 0 {
			return outcomeNames[k] + ": " + r.samples[k]
		}
	}
	return "none"
}

// modeName names the mode of a run: json or stream.
func modeName(stream bool) string {
	if stream {
		return "stream"
	}
	return "json"
}
