// Package recall holds the pure parts of hybrid memory retrieval: merging
// ranked lists by reciprocal rank fusion, cutting the merged list, vector
// similarity over float32 and int8-quantised vectors, nearest neighbours.
// It does no I/O; the stores produce the lists and the gateway wires them
// together. (Query expansion from WordNet was measured here and not
// shipped: see wordnet_test.go and docs/performance.md.)
package recall

import (
	"cmp"
	"slices"
)

// DefaultK is the reciprocal rank fusion constant used when none is
// configured: the value of Cormack, Clarke and Büttcher's paper, which
// keeps one list's first places from drowning the other's.
const DefaultK = 60

// Hit is one result of a ranked list. In a list given to Fuse, Score is
// the source's own (BM25, cosine…) and only the order matters; in Fuse's
// output it is the fused score described at Fuse.
type Hit struct {
	ID    string
	Score float64
	// Ranks holds the 1-based rank of the memory in each list given to
	// Fuse, in argument order; 0 where a list did not return it. Set by
	// Fuse only.
	Ranks []int
}

// Fuse merges a lexical and a vector result list by reciprocal rank
// fusion; see FuseLists.
func Fuse(lexical, vector []Hit, k int) []Hit { return FuseLists(k, lexical, vector) }

// FuseLists merges ranked lists (best first) by reciprocal rank fusion:
// a memory at 1-based rank r of a list earns 1/(k+r) from it, and its
// fused score is the sum over the lists divided by n/(k+1), where n is
// the number of non-empty lists. So:
//
//   - the score lies in (0, 1] and depends on ranks only, never on the
//     lists' own scores (BM25 and cosine scales do not mix);
//   - 1 means first in every non-empty list; first in one of two lists
//     and absent from the other is 0.5, as is rank k+2 in both;
//   - with a single non-empty list (the vector search failed or was late:
//     lexical only) rank r scores (k+1)/(k+r), the same as a memory
//     ranked r in both lists of a hybrid search.
//
// A threshold on fused scores is therefore a cut on rank agreement, not
// a relevance floor: it cannot tell that a list's first result is a poor
// match. Relevance floors belong to the lists before fusion (a minimum
// cosine for the vector list; the lexical list holds only memories that
// share a word with the query).
//
// k ≤ 0 means DefaultK. An ID repeated within a list counts at its best
// rank only. Ties are broken by the best single rank, then by the rank in
// the first list (present before absent), then by ID, so the order never
// depends on map iteration or on the order of equal inputs.
func FuseLists(k int, lists ...[]Hit) []Hit {
	if k <= 0 {
		k = DefaultK
	}
	index := map[string]int{}
	var out []Hit
	nonEmpty := 0
	for li, list := range lists {
		if len(list) > 0 {
			nonEmpty++
		}
		for r, h := range list {
			i, ok := index[h.ID]
			if !ok {
				i = len(out)
				index[h.ID] = i
				out = append(out, Hit{ID: h.ID, Ranks: make([]int, len(lists))})
			}
			if out[i].Ranks[li] == 0 {
				out[i].Ranks[li] = r + 1
				out[i].Score += 1 / float64(k+r+1)
			}
		}
	}
	if nonEmpty == 0 {
		return nil
	}
	norm := float64(k+1) / float64(nonEmpty)
	for i := range out {
		out[i].Score *= norm
	}
	slices.SortFunc(out, func(a, b Hit) int {
		return cmp.Or(
			cmp.Compare(b.Score, a.Score),
			cmp.Compare(bestRank(a.Ranks), bestRank(b.Ranks)),
			cmp.Compare(rankOrLast(a.Ranks[0]), rankOrLast(b.Ranks[0])),
			cmp.Compare(a.ID, b.ID),
		)
	})
	return out
}

func bestRank(ranks []int) int {
	best := 0
	for _, r := range ranks {
		if r > 0 && (best == 0 || r < best) {
			best = r
		}
	}
	return best
}

// rankOrLast orders absent (0) after every rank.
func rankOrLast(r int) int {
	if r == 0 {
		return int(^uint(0) >> 1)
	}
	return r
}

// Cut keeps the hits scoring at least threshold (0 keeps all), then the
// first maxResults of them (≤ 0: all). hits must be best first, as Fuse
// returns them.
func Cut(hits []Hit, maxResults int, threshold float64) []Hit {
	out := hits[:0:0]
	for _, h := range hits {
		if maxResults > 0 && len(out) == maxResults {
			break
		}
		if h.Score >= threshold {
			out = append(out, h)
		}
	}
	return out
}
