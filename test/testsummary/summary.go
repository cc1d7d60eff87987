package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json's TestEvent, plus
// the build events of Go 1.24+).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output, build-fail
}

// skipped is one skipped test and the reason it printed.
type skipped struct {
	pkg, test, reason string
}

// summary turns the event stream into go test's plain output and collects
// the skips.
type summary struct {
	w     io.Writer
	buf   map[string][]string // output of running tests, by package + test
	skips []skipped
}

func newSummary(w io.Writer) *summary {
	return &summary{w: w, buf: map[string][]string{}}
}

// read consumes the stream. Lines that are not JSON (go test writes some
// build errors as plain text) are printed as they are.
func (s *summary) read(r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var ev event
			if json.Unmarshal(line, &ev) != nil || ev.Action == "" {
				s.w.Write(line)
			} else {
				s.handle(ev)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (s *summary) handle(ev event) {
	key := ev.Package + "\x00" + ev.Test
	switch {
	case ev.Action == "build-output":
		io.WriteString(s.w, ev.Output)
	case ev.Action == "output" && ev.Test == "":
		if ev.Output != "PASS\n" { // plain go test prints only the ok line
			io.WriteString(s.w, ev.Output)
		}
	case ev.Action == "output":
		s.buf[key] = append(s.buf[key], ev.Output)
	case ev.Action == "fail" && ev.Test != "":
		s.printTest(key)
	case ev.Action == "fail": // the package: print what its unfinished tests said (a panic, a timeout)
		for k := range s.buf {
			if strings.HasPrefix(k, ev.Package+"\x00") {
				s.printTest(k)
			}
		}
	case ev.Action == "skip" && ev.Test != "":
		s.skips = append(s.skips, skipped{pkg: ev.Package, test: ev.Test, reason: reason(s.buf[key])})
		delete(s.buf, key)
	case ev.Action == "pass":
		delete(s.buf, key)
	}
}

// printTest prints a failed test's output as plain go test does: without
// the === RUN/PAUSE/CONT/NAME framing lines that only -v shows.
func (s *summary) printTest(key string) {
	for _, l := range s.buf[key] {
		if !strings.HasPrefix(l, "=== ") {
			io.WriteString(s.w, l)
		}
	}
	delete(s.buf, key)
}

// sourcePrefix is the "file_test.go:12: " that t.Log lines start with.
var sourcePrefix = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// reason is the message a skipped test gave: the last line that carries
// a source position (t.Skip's own line), without it; else the first line
// the test printed. Framing lines and other output (a library's log
// lines) are left out.
func reason(lines []string) string {
	first, last := "", ""
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		if first == "" {
			first = t
		}
		if sourcePrefix.MatchString(l) {
			last = strings.TrimSpace(sourcePrefix.ReplaceAllString(l, ""))
		}
	}
	return cmp.Or(last, first, "(no reason given)")
}

// testNames lists the skipped tests of one package and reason, subtests
// folded into their top-level test: "TestA (3 subtests), TestB".
func testNames(tests []string) string {
	subs := map[string]int{}
	var order []string
	for _, t := range tests {
		top, _, isSub := strings.Cut(t, "/")
		if _, seen := subs[top]; !seen {
			order = append(order, top)
			subs[top] = 0
		}
		if isSub {
			subs[top]++
		}
	}
	slices.Sort(order)
	out := make([]string, len(order))
	for i, t := range order {
		out[i] = t
		switch n := subs[t]; {
		case n == 1:
			out[i] = t + " (1 subtest)"
		case n > 1:
			out[i] = fmt.Sprintf("%s (%d subtests)", t, n)
		}
	}
	return strings.Join(out, ", ")
}

// printSkips ends the output with every skipped test, grouped by reason,
// the largest group first.
func (s *summary) printSkips() {
	if len(s.skips) == 0 {
		fmt.Fprintln(s.w, "\nskipped: none")
		return
	}
	groups := map[string][]skipped{}
	for _, sk := range s.skips {
		groups[sk.reason] = append(groups[sk.reason], sk)
	}
	reasons := make([]string, 0, len(groups))
	for r := range groups {
		reasons = append(reasons, r)
	}
	slices.SortFunc(reasons, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(groups[b]), len(groups[a])), cmp.Compare(a, b))
	})
	fmt.Fprintf(s.w, "\nskipped: %d tests (subtests counted) did not run; the suite is not complete on this machine:\n", len(s.skips))
	for _, r := range reasons {
		g := groups[r]
		fmt.Fprintf(s.w, "  %d × %s\n", len(g), r)
		byPkg := map[string][]string{}
		var pkgs []string
		for _, sk := range g {
			if byPkg[sk.pkg] == nil {
				pkgs = append(pkgs, sk.pkg)
			}
			byPkg[sk.pkg] = append(byPkg[sk.pkg], sk.test)
		}
		slices.Sort(pkgs)
		for _, p := range pkgs {
			fmt.Fprintf(s.w, "      %s: %s\n", p, testNames(byPkg[p]))
		}
	}
}
