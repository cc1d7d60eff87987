package vecscan

import (
	"slices"

	"github.com/memproxy/memproxy/gateway/recall"
)

// nearest scans flat (unit vectors of len(q) values, one per id) for the
// best limit dot products with the unit query q at or above min, best
// first, ties by id. It allocates only its result: the scan is one pass
// of dot (SIMD where the CPU has it) and a comparison with the worst hit
// kept.
func nearest(q, flat []float32, ids []string, limit int, min float32) []recall.Hit {
	d := len(q)
	type hit struct {
		i int
		s float32
	}
	kept := make([]hit, 0, limit+1)
	worse := func(a, b hit) bool { // a ranks after b
		if a.s != b.s {
			return a.s < b.s
		}
		return ids[a.i] > ids[b.i]
	}
	for i := range ids {
		sc := dot(q, flat[i*d:(i+1)*d])
		if sc < min {
			continue
		}
		h := hit{i, sc}
		if len(kept) == limit && !worse(kept[limit-1], h) {
			continue
		}
		at, _ := slices.BinarySearchFunc(kept, h, func(a, b hit) int {
			switch {
			case worse(b, a):
				return -1
			case worse(a, b):
				return 1
			}
			return 0
		})
		kept = slices.Insert(kept, at, h)
		if len(kept) > limit {
			kept = kept[:limit]
		}
	}
	out := make([]recall.Hit, len(kept))
	for k, h := range kept {
		out[k] = recall.Hit{ID: ids[h.i], Score: float64(h.s)}
	}
	return out
}

// dotGo is the portable dot product: four independent sums, so the loop
// is bound by multiply-add throughput rather than by one add's latency.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}
