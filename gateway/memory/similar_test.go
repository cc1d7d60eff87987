package memory

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestSimilarity(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want float64
	}{
		{"Use pnpm here.", "use PNPM, here!", 1},
		{"", "", 1},
		{"...", "alpha", 0},
		{"alpha beta", "gamma delta", 0},
	} {
		if got := Similarity(c.a, c.b); got != c.want {
			t.Errorf("Similarity(%q, %q) = %v; want %v", c.a, c.b, got, c.want)
		}
	}
	a, b := "the staging db is on port 6543", "the staging db is on port 7000"
	if s := Similarity(a, b); s <= 0 || s >= 1 || s != Similarity(b, a) {
		t.Errorf("Similarity(%q, %q) = %v; want strictly between 0 and 1 and symmetric", a, b, s)
	}
}

// sweep counts the labelled pairs NearDuplicate gets right and wrong with
// threshold th (guard: with the substitution rule; else Similarity alone).
func sweep(th float64, guard bool) (tp, fp, fn int) {
	for _, p := range similarityPairs {
		got := Similarity(p.a, p.b) >= th
		if guard && got {
			wa, wb := contentWords(p.a), contentWords(p.b)
			got = !(hasExtra(wa, wb) && hasExtra(wb, wa))
		}
		switch {
		case got && p.near:
			tp++
		case got && !p.near:
			fp++
		case !got && p.near:
			fn++
		}
	}
	return
}

// TestNearDuplicateThreshold measures NearDuplicateThreshold on the
// labelled pairs: it must merge no distinct pair (a false merge loses a
// fact) and catch at least 80 % of the restatements. go test -v prints the
// sweep quoted in docs/performance.md.
func TestNearDuplicateThreshold(t *testing.T) {
	near := 0
	for _, p := range similarityPairs {
		if p.near {
			near++
		}
	}
	var b strings.Builder
	for th := 0.30; th < 0.81; th += 0.05 {
		tp, fp, _ := sweep(th, false)
		gtp, gfp, _ := sweep(th, true)
		fmt.Fprintf(&b, "threshold %.2f: Similarity alone %d/%d restatements, %d/%d distinct merged; NearDuplicate %d/%d, %d/%d\n",
			th, tp, near, fp, len(similarityPairs)-near, gtp, near, gfp, len(similarityPairs)-near)
	}
	t.Logf("%d pairs (%d near-duplicates)\n%s", len(similarityPairs), near, b.String())
	tp, fp, fn := sweep(NearDuplicateThreshold, true)
	if fp != 0 {
		t.Errorf("at %.2f, %d distinct pairs are taken for near-duplicates; want none", NearDuplicateThreshold, fp)
		for _, p := range similarityPairs {
			if !p.near && NearDuplicate(p.a, p.b) {
				t.Logf("  merged: %.2f %q ~ %q", Similarity(p.a, p.b), p.a, p.b)
			}
		}
	}
	for _, p := range similarityPairs {
		if p.near && !NearDuplicate(p.a, p.b) {
			t.Logf("  missed: %.2f %q ~ %q", Similarity(p.a, p.b), p.a, p.b)
		}
	}
	if recall := float64(tp) / float64(tp+fn); recall < 0.8 {
		t.Errorf("at %.2f, %.0f%% of restatements caught; want at least 80%%", NearDuplicateThreshold, 100*recall)
	}
}

// searchOnly is a Backend whose Search answers with fixed results.
type searchOnly struct {
	Backend
	results []Memory
}

func (b searchOnly) Search(context.Context, Scope, string, int) ([]Memory, error) {
	return b.results, nil
}

func TestNearestDuplicate(t *testing.T) {
	b := searchOnly{results: []Memory{
		{ID: "port", Content: "Our staging database listens on port 7000."},
		{ID: "old", Content: "Remember: our staging database listens on port 6543.", Status: StatusSuperseded},
		{ID: "near", Content: "For the record, our staging database listens on port 6543."},
		{ID: "nearer", Content: "our staging database listens on port 6543"},
	}}
	m, ok, err := NearestDuplicate(t.Context(), b, "u:a/p:b", "Our staging database listens on port 6543.")
	if err != nil || !ok || m.ID != "nearer" {
		t.Errorf("NearestDuplicate = %s, %v, %v; want the most similar active restatement", m.ID, ok, err)
	}
	if _, ok, _ := NearestDuplicate(t.Context(), b, "u:a/p:b", "Deploys need two approvals."); ok {
		t.Error("NearestDuplicate found a restatement of an unrelated text")
	}
}
