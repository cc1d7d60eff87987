package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// table is one block of the report, rendered as text or Markdown.
type table struct {
	title string
	head  []string
	rows  [][]string
	notes []string
}

// add appends a row.
func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/1e6) }

// msSigned formats a difference in milliseconds with its sign.
func msSigned(d time.Duration) string { return fmt.Sprintf("%+.2f", float64(d)/1e6) }

// mib formats KiB as MiB.
func mib(kb int64) string { return fmt.Sprintf("%.1f", float64(kb)/1024) }

// perReq is CPU time per request sent, in ms.
func perReq(d time.Duration, r *result) float64 {
	return float64(d) / 1e6 / float64(max(1, r.sent()))
}

// countPerReq renders c's system calls (or, switches, its context
// switches) per request sent in r; "-" where they were not read.
func countPerReq(c ioCounts, r *result, switches bool) string {
	if !c.ok {
		return "-"
	}
	n := c.syscalls
	if switches {
		n = c.switches
	}
	return fmt.Sprintf("%.1f", float64(n)/float64(max(1, r.sent())))
}

// achieved is the rate of successful requests over the run's wall time.
func achieved(r *result) string {
	if r.wall <= 0 {
		return "0"
	}
	return fmt.Sprintf("%.0f", float64(r.counts[outOK])/r.wall.Seconds())
}

// find returns the result for path, mode and rate, or nil.
func (b *bench) find(path string, stream bool, rate int) *result {
	for _, r := range b.results {
		if r.spec.target.name == path && r.spec.stream == stream && r.spec.rate == rate {
			return r
		}
	}
	return nil
}

// tables builds the whole report.
func (b *bench) tables() []*table {
	lat := &table{title: "Latency (ms, from the scheduled send time)",
		head: []string{"path", "mode", "rate/s", "sent", "errors", "achieved/s", "p50", "p99", "TTFB p50", "TTFB p99", "send lag p99"}}
	add := &table{title: "Added latency over direct (ms)",
		head: []string{"mode", "rate/s", "path", "p50", "p99", "TTFB p50", "TTFB p99"}}
	res := &table{title: "CPU and memory of the product processes",
		head:  []string{"path", "mode", "rate/s", "gateway CPU ms/req", "edge CPU ms/req", "gw+edge ms/req", "upstream ms/req", "loadgen ms/req", "other procs CPU", "CPU pressure", "gateway RSS MiB before→peak", "edge RSS MiB before→peak"},
		notes: []string{"CPU is utime+stime from /proc/PID/stat over the run divided by requests sent; other procs CPU is the CPU used by every other process on the machine during the run, in cores (0.50 = half a CPU); CPU pressure is the share of the run in which some runnable task waited for a CPU (/proc/pressure/cpu)."}}
	calls := &table{title: "System calls and context switches per request",
		head:  []string{"path", "mode", "rate/s", "gateway syscalls", "gateway switches", "edge syscalls", "edge switches"},
		notes: []string{"syscalls are the read- and write-like system calls (/proc/PID/io syscr + syscw: sockets and files, not futex or epoll), switches the context switches of all the process's threads (/proc/PID/task/*/status), each over the run divided by requests sent; unlike CPU time they do not depend on what else the machine does."}}
	errs := &table{title: "Errors", head: []string{"run", "kind", "count", "first message"}}
	for _, r := range append(append([]*result{}, b.results...), b.integ) {
		if r == nil {
			continue
		}
		name := fmt.Sprintf("%s %s %d/s", r.spec.target.name, modeName(r.spec.stream), r.spec.rate)
		if r == b.integ {
			name = "integrity (" + name + ")"
		}
		for k := outCap; k < numOutcomes; k++ {
			if r.counts[k] > 0 {
				errs.add(name, outcomeNames[k], fmt.Sprint(r.counts[k]), r.samples[k])
			}
		}
		s := r.spec
		p := r.res.procs
		other, psi := fmt.Sprintf("%.2f", r.res.otherCores()), "-"
		if r.res.pressure >= 0 {
			psi = fmt.Sprintf("%.0f%%", 100*r.res.pressure)
		}
		path := s.target.name
		if r == b.integ {
			path = "integrity: " + path
		}
		res.add(path, modeName(s.stream), fmt.Sprint(s.rate),
			fmt.Sprintf("%.3f", perReq(p["gateway"].cpu, r)), fmt.Sprintf("%.3f", perReq(p["edge"].cpu, r)),
			fmt.Sprintf("%.3f", perReq(p["gateway"].cpu+p["edge"].cpu, r)), fmt.Sprintf("%.3f", perReq(p["upstream"].cpu, r)),
			fmt.Sprintf("%.3f", perReq(p["loadgen"].cpu, r)), other, psi,
			mib(p["gateway"].rssBefore)+"→"+mib(p["gateway"].peak), mib(p["edge"].rssBefore)+"→"+mib(p["edge"].peak))
		if s.target.name != "direct" {
			calls.add(path, modeName(s.stream), fmt.Sprint(s.rate), countPerReq(p["gateway"].io, r, false), countPerReq(p["gateway"].io, r, true),
				countPerReq(p["edge"].io, r, false), countPerReq(p["edge"].io, r, true))
		}
		if r == b.integ {
			continue
		}
		tt50, tt99 := "-", "-"
		if s.stream {
			tt50, tt99 = ms(pct(r.ttfb, 50)), ms(pct(r.ttfb, 99))
		}
		lat.add(s.target.name, modeName(s.stream), fmt.Sprint(s.rate), fmt.Sprint(r.sent()), fmt.Sprint(r.errors()), achieved(r),
			ms(pct(r.lat, 50)), ms(pct(r.lat, 99)), tt50, tt99, ms(pct(r.lag, 99)))
		if d := b.find("direct", s.stream, s.rate); d != nil && s.target.name != "direct" {
			a50, a99 := "-", "-"
			if s.stream {
				a50, a99 = msSigned(pct(r.ttfb, 50)-pct(d.ttfb, 50)), msSigned(pct(r.ttfb, 99)-pct(d.ttfb, 99))
			}
			add.add(modeName(s.stream), fmt.Sprint(s.rate), s.target.name,
				msSigned(pct(r.lat, 50)-pct(d.lat, 50)), msSigned(pct(r.lat, 99)-pct(d.lat, 99)), a50, a99)
		}
	}
	res.notes = append(res.notes, fmt.Sprintf("Idle RSS (VmRSS) before any load: gateway %s MiB, edge %s MiB.", mib(b.idle["gateway"]), mib(b.idle["edge"])))
	for _, name := range []string{"gateway", "edge"} {
		if m := b.after[name]; m != nil {
			res.notes = append(res.notes, fmt.Sprintf("%s RSS 1.5 s after the last run: %s MiB (anonymous %s, file-backed %s, shared %s).",
				name, mib(m["VmRSS"]), mib(m["RssAnon"]), mib(m["RssFile"]), mib(m["RssShmem"])))
		}
	}
	out := []*table{lat, add, res, calls}
	if r := b.integ; r != nil {
		in := &table{title: "Stream integrity (edge → gateway → upstream)",
			head: []string{"streams", "ok", "cut: no [DONE]", "cut: content differs", "other errors", "p50", "p99", "TTFB p99", "usage rows", "usage rows with error"}}
		usageRows, usageErr := fmt.Sprint(b.usage.rows), fmt.Sprint(b.usage.errorRows)
		if b.usage.err != "" {
			usageRows, usageErr = "error: "+b.usage.err, "-"
		}
		in.add(fmt.Sprint(r.spec.count), fmt.Sprint(r.counts[outOK]), fmt.Sprint(r.counts[outNoDone]), fmt.Sprint(r.counts[outContent]),
			fmt.Sprint(r.errors()-r.cut()), ms(pct(r.lat, 50)), ms(pct(r.lat, 99)), ms(pct(r.ttfb, 99)), usageRows, usageErr)
		in.notes = append(in.notes, fmt.Sprintf("%d streams at %d/s. Each stream is compared byte for byte with what the upstream sent; the usage log should hold one row per stream (rows with a status other than 200: %d, with wrong completion tokens: %d).",
			r.spec.count, r.spec.rate, b.usage.non200, b.usage.badTokens))
		if r.spec.count > usageLimit {
			in.notes = append(in.notes, fmt.Sprintf("/v1/usage returns at most %d rows, so only the newest %d were checked.", usageLimit, usageLimit))
		}
		out = append(out, in)
	}
	out = append(out, b.targetTable())
	if len(errs.rows) > 0 {
		out = append(out, errs)
	}
	if len(b.problems) > 0 {
		out = append(out, &table{title: "Problems seen", notes: b.problems})
	}
	return out
}

// targetTable compares the results with the product's targets. It only
// reports; nothing fails.
func (b *bench) targetTable() *table {
	t := &table{title: "Targets", head: []string{"target", "measured", "verdict"}}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	// disturbed flags a comparison made with a run other processes disturbed.
	disturbed := func(rs ...*result) string {
		for _, r := range rs {
			if r.res.otherCores() > busyOthers {
				return fmt.Sprintf(" (other processes used %.2f CPU during the %s run)", r.res.otherCores(), r.spec.target.name)
			}
		}
		return ""
	}
	for _, path := range []string{"gateway", "edge"} {
		r, d := b.find(path, false, 1000), b.find("direct", false, 1000)
		if r != nil && d != nil {
			a50, a99 := pct(r.lat, 50)-pct(d.lat, 50), pct(r.lat, 99)-pct(d.lat, 99)
			t.add(path+": added p50 at 1000/s ≤ 0.8 ms", ms(a50)+" ms"+disturbed(r, d), verdict(a50 <= 800*time.Microsecond))
			t.add(path+": added p99 at 1000/s ≤ 2.5 ms", ms(a99)+" ms"+disturbed(r, d), verdict(a99 <= 2500*time.Microsecond))
		}
		r, d = b.find(path, true, 1000), b.find("direct", true, 1000)
		if r != nil && d != nil {
			a := pct(r.ttfb, 99) - pct(d.ttfb, 99)
			t.add(path+": stream added TTFB p99 at 1000/s ≤ 1.5 ms", ms(a)+" ms"+disturbed(r, d), verdict(a <= 1500*time.Microsecond))
		}
		for _, stream := range []bool{false, true} {
			if r := b.find(path, stream, 2000); r != nil {
				t.add(fmt.Sprintf("%s: 2000/s %s with no errors", path, modeName(stream)),
					fmt.Sprintf("%d errors, %s/s achieved", r.errors(), achieved(r))+disturbed(r), verdict(r.errors() == 0))
			}
		}
	}
	if r := b.integ; r != nil {
		t.add(fmt.Sprintf("zero cut streams in %d", r.spec.count), fmt.Sprintf("%d cut, %d other errors", r.cut(), r.errors()-r.cut()), verdict(r.errors() == 0))
	}
	limits := map[string][2]int64{"edge": {25, 40}, "gateway": {50, 120}}
	for _, name := range []string{"edge", "gateway"} {
		lim := limits[name]
		t.add(fmt.Sprintf("%s idle RSS ≤ %d MiB", name, lim[0]), mib(b.idle[name])+" MiB", verdict(b.idle[name] <= lim[0]<<10))
		peak := b.maxPeak[name]
		t.add(fmt.Sprintf("%s loaded RSS ≤ %d MiB", name, lim[1]), mib(peak)+" MiB (highest peak of any run)", verdict(peak <= lim[1]<<10))
	}
	var worst float64
	var at string
	for _, r := range b.results {
		if r.spec.target.name == "edge" {
			if v := perReq(r.res.procs["gateway"].cpu+r.res.procs["edge"].cpu, r); v > worst {
				worst, at = v, fmt.Sprintf("%s %d/s", modeName(r.spec.stream), r.spec.rate)
			}
		}
	}
	if at != "" {
		t.add("edge+gateway CPU ≤ 1 ms per request (edge path)", fmt.Sprintf("%.3f ms (worst run: %s)", worst, at), verdict(worst <= 1))
	}
	return t
}

// writeText prints the header and the tables with aligned columns.
func writeText(w io.Writer, header []string, ts []*table) {
	for _, h := range header {
		fmt.Fprintln(w, h)
	}
	for _, t := range ts {
		fmt.Fprintf(w, "\n== %s ==\n", t.title)
		if len(t.head) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, strings.Join(t.head, "\t")+"\t")
			for _, r := range t.rows {
				fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
			}
			tw.Flush()
		}
		for _, n := range t.notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
}

// writeMarkdown writes the header as a list and the tables as Markdown.
func writeMarkdown(w io.Writer, header []string, ts []*table) {
	for _, h := range header {
		fmt.Fprintf(w, "- %s\n", h)
	}
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	for _, t := range ts {
		fmt.Fprintf(w, "\n### %s\n\n", t.title)
		if len(t.head) > 0 {
			fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(t.head, " | "), strings.Repeat(" --- |", len(t.head)))
			for _, r := range t.rows {
				cs := make([]string, len(r))
				for i, c := range r {
					cs[i] = cell(c)
				}
				fmt.Fprintf(w, "| %s |\n", strings.Join(cs, " | "))
			}
			if len(t.notes) > 0 {
				fmt.Fprintln(w)
			}
		}
		for _, n := range t.notes {
			if len(t.head) == 0 {
				fmt.Fprintf(w, "- %s\n", cell(n))
			} else {
				fmt.Fprintf(w, "%s\n\n", cell(n))
			}
		}
	}
}
