package vecscan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/memproxy/memproxy/gateway/recall"
)

// TestDot: the kernel in use agrees with float64 arithmetic at every
// length (the SIMD kernel's 32-, 8- and 1-value steps and their tails).
func TestDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 100 {
		a, b := make([]float32, n), make([]float32, n+3) // b may be longer
		var want float64
		for i := range a {
			a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			want += float64(a[i]) * float64(b[i])
		}
		for name, f := range map[string]func(a, b []float32) float32{"dot": dot, "dotGo": dotGo} {
			if got := f(a, b); math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
				t.Errorf("%s of %d values = %v; want %v", name, n, got, want)
			}
		}
	}
}

// TestNearestMatchesReference: the flat scan returns what recall.Nearest
// over the same unit vectors does (order, ties by id, the floor).
func TestNearestMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, dims = 2000, 40
	set := &Set{}
	var units [][]float32
	for i := range n {
		v := make([]float32, dims)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		if i%50 == 7 && i > 0 { // duplicates: ties broken by id
			copy(v, units[i-1])
		}
		b := recall.Quantize(v).Bytes()
		set.Add(fmt.Sprintf("m%04d", (i*7919)%n), b, dims)
		units = append(units, recall.QuantizedFromBytes(b).Unit())
	}
	for qi := range 20 {
		q := units[qi*97]
		for _, tc := range []struct {
			limit int
			min   float64
		}{{10, 0}, {1, 0}, {100, 0.1}, {5, -1}} {
			got := set.Nearest(q, tc.limit, tc.min)
			query := recall.NewQuery(q)
			want, _ := recall.Nearest(n, tc.limit, tc.min, func(i int) (string, float64, error) {
				d, err := query.Dot(units[i])
				return set.IDs[i], d, err
			})
			if !slices.EqualFunc(got, want, func(a, b recall.Hit) bool { return a.ID == b.ID && math.Abs(a.Score-b.Score) < 1e-5 }) {
				t.Fatalf("query %d limit %d min %v:\n got %v\nwant %v", qi, tc.limit, tc.min, got, want)
			}
		}
	}
	if h := set.Nearest(make([]float32, dims+1), 10, 0); h != nil {
		t.Errorf("a query of another size found %v", h)
	}
}

// BenchmarkNearest: the ten nearest of 10k vectors of 256 values, as a
// hybrid search of a 10k-memory scope scans them.
func BenchmarkNearest(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, dims = 10_000, 256
	set := &Set{}
	v := make([]float32, dims)
	for i := range n {
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		set.Add(fmt.Sprint("m", i), recall.Quantize(v).Bytes(), dims)
	}
	q := slices.Clone(v)
	b.Run(fmt.Sprintf("avx2=%v", useAVX2), func(b *testing.B) {
		for b.Loop() {
			set.Nearest(q, 20, 0)
		}
	})
	if useAVX2 {
		b.Run("portable", func(b *testing.B) {
			useAVX2 = false
			defer func() { useAVX2 = true }()
			for b.Loop() {
				set.Nearest(q, 20, 0)
			}
		})
	}
}
