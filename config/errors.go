package config

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem found in a config file. Parse, LoadEdge and friends
// return every Error they find, joined with errors.Join and sorted by line;
// use errors.AsType[*Error] to inspect the first one.
type Error struct {
	File string // the path given to the loader
	Line int    // 1-based line; 0 when the YAML parser gave none
	Key  string // dotted key with list indexes, e.g. model_list[1].litellm_params.model; "" for the whole file
	Msg  string
}

// Error formats the problem as "file:line: key: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (d *decoder) add(line int, key, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// fail reports a problem found after decoding, at the line recorded for key
// (or for its closest recorded parent). Validation runs even when decoding
// failed, so that all problems are reported at once; fail drops a problem
// whose key, or a key above or below it, already has one (a missing
// environment variable then reads as such, not as "required"), and problems
// under a key an "unknown key" error suggested (a misspelled model_list
// does not also report "no models").
func (d *decoder) fail(key, format string, args ...any) {
	for _, e := range d.errs {
		if related(e.Key, key) {
			return
		}
	}
	for _, c := range d.covered {
		if related(c, key) {
			return
		}
	}
	d.add(d.lineOf(key), key, format, args...)
}

// related reports whether keys a and b are equal or one contains the other.
func related(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if !strings.HasPrefix(b, a) {
		return false
	}
	return len(a) == len(b) || b[len(a)] == '.' || b[len(a)] == '['
}

func (d *decoder) lineOf(key string) int {
	for key != "" {
		if l, ok := d.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 1
}

// err returns all problems sorted by line (stable), joined; nil if none.
func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(d.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	errs := make([]error, len(d.errs))
	for i, e := range d.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

func (d *decoder) ignoredPaths() []string {
	if len(d.ignored) == 0 {
		return nil
	}
	out := make([]string, 0, len(d.ignored))
	for p := range d.ignored {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) syntax(err error) {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.add(line, "", "invalid YAML: %s", m[2])
		return
	}
	d.add(0, "", "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
}

// suggest returns the candidate closest to s within a small edit distance.
func suggest(s string, candidates []string) string {
	best, bestDist := "", 3
	slices.Sort(candidates)
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
