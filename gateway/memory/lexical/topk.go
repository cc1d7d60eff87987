package lexical

import (
	"container/heap"
	"slices"
)

// topK keeps the best limit documents offered: a min-heap whose root is
// the worst kept, so each offer costs O(log limit).
type topK struct {
	limit int
	ix    *Index
	docs  []uint32
	score []float32
}

// worse orders documents: lower score, then older, then smaller id (the
// SQL stores' tie order, newest first).
func (h *topK) worse(a uint32, sa float32, b uint32, sb float32) bool {
	if sa != sb {
		return sa < sb
	}
	if oa, ob := h.ix.orders[a], h.ix.orders[b]; oa != ob {
		return oa < ob
	}
	return h.ix.ids[a] < h.ix.ids[b]
}

func (h *topK) offer(d uint32, s float32) {
	if len(h.docs) < h.limit {
		heap.Push(h, item{d, s})
		return
	}
	if h.worse(d, s, h.docs[0], h.score[0]) {
		return
	}
	h.docs[0], h.score[0] = d, s
	heap.Fix(h, 0)
}

// hits returns the kept documents, best first.
func (h *topK) hits() []Hit {
	if len(h.docs) == 0 {
		return nil
	}
	order := make([]int, len(h.docs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		switch {
		case h.worse(h.docs[j], h.score[j], h.docs[i], h.score[i]):
			return -1
		case h.worse(h.docs[i], h.score[i], h.docs[j], h.score[j]):
			return 1
		}
		return 0
	})
	out := make([]Hit, len(order))
	for k, i := range order {
		out[k] = Hit{ID: h.ix.ids[h.docs[i]], Score: float64(h.score[i])}
	}
	return out
}

type item struct {
	d uint32
	s float32
}

// heap.Interface over the parallel slices.
func (h *topK) Len() int           { return len(h.docs) }
func (h *topK) Less(i, j int) bool { return h.worse(h.docs[i], h.score[i], h.docs[j], h.score[j]) }
func (h *topK) Swap(i, j int) {
	h.docs[i], h.docs[j] = h.docs[j], h.docs[i]
	h.score[i], h.score[j] = h.score[j], h.score[i]
}
func (h *topK) Push(x any) {
	it := x.(item)
	h.docs, h.score = append(h.docs, it.d), append(h.score, it.s)
}
func (h *topK) Pop() any {
	n := len(h.docs) - 1
	it := item{h.docs[n], h.score[n]}
	h.docs, h.score = h.docs[:n], h.score[:n]
	return it
}
