package recall

import (
	"math"
	"slices"
	"testing"
)

func hits(ids ...string) []Hit {
	out := make([]Hit, len(ids))
	for i, id := range ids {
		out[i] = Hit{ID: id, Score: float64(100 - i)}
	}
	return out
}

func ids(hs []Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

func TestFuseScores(t *testing.T) {
	const k = 60
	got := Fuse(hits("a", "b", "c"), hits("c", "d", "a"), k)
	// a: 1/61 + 1/63; c: 1/63 + 1/61 (tie with a); b: 1/62; d: 1/62.
	want := map[string]float64{
		"a": (1.0/61 + 1.0/63) * 61 / 2, "c": (1.0/63 + 1.0/61) * 61 / 2,
		"b": 1.0 / 62 * 61 / 2, "d": 1.0 / 62 * 61 / 2,
	}
	if len(got) != 4 {
		t.Fatalf("got %v", got)
	}
	for _, h := range got {
		if math.Abs(h.Score-want[h.ID]) > 1e-12 {
			t.Errorf("%s scores %v; want %v", h.ID, h.Score, want[h.ID])
		}
	}
	// a and c tie on score and best rank (1); a is first lexically. b and
	// d tie on score and best rank (2); b is second lexically, d absent.
	if order := ids(got); !slices.Equal(order, []string{"a", "c", "b", "d"}) {
		t.Errorf("order %v; want [a c b d]", order)
	}
	if r := got[0].Ranks; !slices.Equal(r, []int{1, 3}) {
		t.Errorf("a's ranks %v; want [1 3]", r)
	}
}

func TestFuseAgreementWins(t *testing.T) {
	// x is second in both lists; y first in the lexical list only; z
	// first in the vector list only. Agreement beats one first place.
	got := Fuse(hits("y", "x"), hits("z", "x"), 0)
	if order := ids(got); !slices.Equal(order, []string{"x", "y", "z"}) {
		t.Fatalf("order %v; want [x y z]", order)
	}
	if got[1].Score != 0.5 || got[2].Score != 0.5 {
		t.Errorf("first in one list of two scores %v, %v; want 0.5", got[1].Score, got[2].Score)
	}
}

func TestFuseNormalisation(t *testing.T) {
	both := Fuse(hits("a"), hits("a"), 10)
	if both[0].Score != 1 {
		t.Errorf("first in both lists scores %v; want 1", both[0].Score)
	}
	lexOnly := Fuse(hits("a", "b", "c"), nil, 10)
	if lexOnly[0].Score != 1 || math.Abs(lexOnly[2].Score-11.0/13) > 1e-12 {
		t.Errorf("lexical only scores %v; want 1 … 11/13", lexOnly)
	}
	// Rank r in both lists of a hybrid search scores as rank r alone.
	hybrid := Fuse(hits("a", "b", "c"), hits("a", "b", "c"), 10)
	if math.Abs(hybrid[2].Score-lexOnly[2].Score) > 1e-12 {
		t.Errorf("rank 3 in both: %v; alone: %v", hybrid[2].Score, lexOnly[2].Score)
	}
	if Fuse(nil, nil, 0) != nil || Fuse([]Hit{}, nil, 5) != nil {
		t.Error("no hits must fuse to nil")
	}
}

func TestFuseDefaultKAndDuplicates(t *testing.T) {
	// k ≤ 0 is DefaultK: rank 2 alone is (k+1)/(k+2).
	got := Fuse(hits("a", "b", "a"), nil, -1)
	if len(got) != 2 {
		t.Fatalf("duplicate kept: %v", got)
	}
	if want := float64(DefaultK+1) / float64(DefaultK+2); math.Abs(got[1].Score-want) > 1e-12 {
		t.Errorf("rank 2 scores %v; want %v", got[1].Score, want)
	}
	if !slices.Equal(got[0].Ranks, []int{1, 0}) {
		t.Errorf("a counted at ranks %v; want its best, 1", got[0].Ranks)
	}
}

func TestFuseDeterministic(t *testing.T) {
	// Equal inputs in another order give the same output.
	a := Fuse(hits("p", "q"), hits("q", "p"), 0)
	b := Fuse(hits("q", "p"), hits("p", "q"), 0)
	if !slices.Equal(ids(a), []string{"p", "q"}) || !slices.Equal(ids(b), []string{"q", "p"}) {
		// p and q tie on score and best rank; the first list decides.
		t.Errorf("orders %v and %v; want the first list to break the tie", ids(a), ids(b))
	}
	c := FuseLists(0, hits("m"), hits("n"), hits("o"))
	if !slices.Equal(ids(c), []string{"m", "n", "o"}) {
		t.Errorf("three single-hit lists order %v; want [m n o] (m is first-list, then ID)", ids(c))
	}
}

func TestCut(t *testing.T) {
	fused := Fuse(hits("a", "b", "c", "d"), hits("a"), 60)
	if got := ids(Cut(fused, 2, 0)); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("max 2: %v", got)
	}
	// Only a (first in both) reaches 0.6; b..d are below 0.5.
	if got := ids(Cut(fused, 0, 0.6)); !slices.Equal(got, []string{"a"}) {
		t.Errorf("threshold 0.6: %v", got)
	}
	if got := Cut(fused, 0, 0); len(got) != 4 {
		t.Errorf("no cut: %v", got)
	}
	if got := Cut(nil, 5, 0.1); len(got) != 0 {
		t.Errorf("nil: %v", got)
	}
}
