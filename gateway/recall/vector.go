package recall

import (
	"cmp"
	"errors"
	"math"
	"slices"
)

// ErrDimension is returned when two vectors that must be compared have
// different sizes (they come from different models or settings).
var ErrDimension = errors.New("recall: vectors of different dimensions")

// Cosine returns the cosine similarity of a and b in [-1, 1], 0 when
// either is all zeros. It accumulates in float64.
func Cosine(a, b []float32) (float64, error) {
	if len(a) != len(b) {
		return 0, ErrDimension
	}
	var dot, na, nb float64
	for i, x := range a {
		y := float64(b[i])
		dot += float64(x) * y
		na += float64(x) * float64(x)
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0, nil
	}
	return dot / math.Sqrt(na*nb), nil
}

// Unit returns v scaled to length 1 (all zeros stays zeros). Stored
// vectors are kept as unit vectors, so that a comparison is a dot product.
func Unit(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if n > 0 {
		inv := 1 / math.Sqrt(n)
		for i, x := range v {
			out[i] = float32(float64(x) * inv)
		}
	}
	return out
}

// Quantized is a vector stored as int8: each value is round(x/s) for one
// scale s per vector (the largest magnitude maps to ±127). Cosine
// similarity ignores scale, so the scale is not kept: a Quantized is only
// good for cosine, which is all retrieval needs. It takes a quarter of a
// float32 vector's bytes.
type Quantized struct {
	values []int8
	inv    float64 // 1/|values|, 0 for all zeros
}

// Quantize returns v as int8 values.
func Quantize(v []float32) Quantized {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	q := make([]int8, len(v))
	if m > 0 {
		s := 127 / m
		for i, x := range v {
			q[i] = int8(math.Round(float64(x) * s))
		}
	}
	return quantized(q)
}

func quantized(q []int8) Quantized {
	var n int64
	for _, x := range q {
		n += int64(x) * int64(x)
	}
	out := Quantized{values: q}
	if n > 0 {
		out.inv = 1 / math.Sqrt(float64(n))
	}
	return out
}

// Values returns the int8 values (not a copy).
func (q Quantized) Values() []int8 { return q.values }

// Bytes returns q as a blob (one byte per value, two's complement).
func (q Quantized) Bytes() []byte {
	b := make([]byte, len(q.values))
	for i, x := range q.values {
		b[i] = byte(x)
	}
	return b
}

// QuantizedFromBytes reads a blob written by Bytes.
func QuantizedFromBytes(b []byte) Quantized {
	q := make([]int8, len(b))
	for i, x := range b {
		q[i] = int8(x)
	}
	return quantized(q)
}

// Unit returns q as a float32 unit vector, for Query.Dot: a scan over
// vectors kept as int8 on disk and as float32 in memory is the fastest in
// Go (its integer multiply-adds are slower than float ones), at the
// quantisation's recall cost.
func (q Quantized) Unit() []float32 {
	out := make([]float32, len(q.values))
	for i, x := range q.values {
		out[i] = float32(float64(x) * q.inv)
	}
	return out
}

// Query is a query vector prepared for many comparisons: made a unit
// vector once.
type Query struct {
	v []float32
}

// NewQuery prepares q (not modified) for comparisons.
func NewQuery(q []float32) Query { return Query{v: Unit(q)} }

// Cosine returns the query's cosine similarity with the float vector d,
// which may have any length.
func (q Query) Cosine(d []float32) (float64, error) {
	if len(d) != len(q.v) {
		return 0, ErrDimension
	}
	var nd float64
	for _, x := range d {
		nd += float64(x) * float64(x)
	}
	if nd == 0 {
		return 0, nil
	}
	dot, _ := q.Dot(d)
	return dot / math.Sqrt(nd), nil
}

// Dot returns the query's cosine similarity with the unit vector d (see
// Unit): their dot product, the fast path for stored vectors.
func (q Query) Dot(d []float32) (float64, error) {
	v := q.v
	if len(d) != len(v) {
		return 0, ErrDimension
	}
	d = d[:len(v)]
	var s0, s1, s2, s3 float32 // four chains: the loop is bound by add latency
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += v[i] * d[i]
		s1 += v[i+1] * d[i+1]
		s2 += v[i+2] * d[i+2]
		s3 += v[i+3] * d[i+3]
	}
	for ; i < len(v); i++ {
		s0 += v[i] * d[i]
	}
	return float64(s0 + s1 + s2 + s3), nil
}

// CosineQuantized returns the query's cosine similarity with the
// quantised vector d.
func (q Query) CosineQuantized(d Quantized) (float64, error) {
	v, w := q.v, d.values
	if len(w) != len(v) {
		return 0, ErrDimension
	}
	w = w[:len(v)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += v[i] * float32(w[i])
		s1 += v[i+1] * float32(w[i+1])
		s2 += v[i+2] * float32(w[i+2])
		s3 += v[i+3] * float32(w[i+3])
	}
	for ; i < len(v); i++ {
		s0 += v[i] * float32(w[i])
	}
	return float64(s0+s1+s2+s3) * d.inv, nil
}

// Nearest returns the best limit hits of the scored ids whose similarity
// is at least minScore, best first (ties by ID). score is called once per
// candidate index in [0, n) and returns its ID and similarity; a
// candidate that errs (another dimension: another model) is skipped and
// counted in skipped, never compared.
func Nearest(n, limit int, minScore float64, score func(i int) (id string, sim float64, err error)) (hits []Hit, skipped int) {
	if limit <= 0 {
		return nil, 0
	}
	for i := range n {
		id, s, err := score(i)
		if err != nil {
			skipped++
			continue
		}
		if s < minScore || (len(hits) == limit && !better(Hit{ID: id, Score: s}, hits[limit-1])) {
			continue
		}
		h := Hit{ID: id, Score: s}
		at, _ := slices.BinarySearchFunc(hits, h, func(a, b Hit) int { return order(a, b) })
		hits = slices.Insert(hits, at, h)
		if len(hits) > limit {
			hits = hits[:limit]
		}
	}
	return hits, skipped
}

func order(a, b Hit) int { return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.ID, b.ID)) }

func better(a, b Hit) bool { return order(a, b) < 0 }
