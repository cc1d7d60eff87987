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

// Quantized is a vector stored as int8: each value is round(x/s) for one
// scale s per vector (the largest magnitude maps to ±127). Cosine
// similarity ignores scale, so the scale is not kept: a Quantized is only
// good for cosine, which is all retrieval needs. It takes a quarter of a
// float32 vector's bytes.
type Quantized []int8

// Quantize returns v as int8 values.
func Quantize(v []float32) Quantized {
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	q := make(Quantized, len(v))
	if m == 0 {
		return q
	}
	s := 127 / float64(m)
	for i, x := range v {
		q[i] = int8(math.Round(float64(x) * s))
	}
	return q
}

// Bytes returns q as a blob (one byte per value, two's complement).
func (q Quantized) Bytes() []byte {
	b := make([]byte, len(q))
	for i, x := range q {
		b[i] = byte(x)
	}
	return b
}

// QuantizedFromBytes reads a blob written by Bytes.
func QuantizedFromBytes(b []byte) Quantized {
	q := make(Quantized, len(b))
	for i, x := range b {
		q[i] = int8(x)
	}
	return q
}

// Query is a query vector prepared for many comparisons: normalised once.
type Query struct {
	v []float32
}

// NewQuery prepares q (not modified) for comparisons.
func NewQuery(q []float32) Query {
	var n float64
	for _, x := range q {
		n += float64(x) * float64(x)
	}
	v := make([]float32, len(q))
	if n > 0 {
		inv := 1 / math.Sqrt(n)
		for i, x := range q {
			v[i] = float32(float64(x) * inv)
		}
	}
	return Query{v: v}
}

// Cosine returns the query's cosine similarity with the float vector d.
func (q Query) Cosine(d []float32) (float64, error) {
	if len(d) != len(q.v) {
		return 0, ErrDimension
	}
	var dot, nd float32
	for i, x := range q.v {
		dot += x * d[i]
		nd += d[i] * d[i]
	}
	if nd == 0 {
		return 0, nil
	}
	return float64(dot) / math.Sqrt(float64(nd)), nil
}

// CosineQuantized returns the query's cosine similarity with the
// quantised vector d.
func (q Query) CosineQuantized(d Quantized) (float64, error) {
	if len(d) != len(q.v) {
		return 0, ErrDimension
	}
	var dot float32
	var nd int32
	for i, x := range q.v {
		y := int32(d[i])
		dot += x * float32(y)
		nd += y * y
	}
	if nd == 0 {
		return 0, nil
	}
	return float64(dot) / math.Sqrt(float64(nd)), nil
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
