package recall

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestCosine(t *testing.T) {
	for _, tt := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{1, 0}, []float32{0, 1}, 0},
		{[]float32{1, 2, 3}, []float32{2, 4, 6}, 1},
		{[]float32{1, 2}, []float32{-1, -2}, -1},
		{[]float32{3, 4}, []float32{4, 3}, 24.0 / 25},
		{[]float32{0, 0}, []float32{1, 1}, 0},
	} {
		got, err := Cosine(tt.a, tt.b)
		if err != nil || math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("Cosine(%v, %v) = %v, %v; want %v", tt.a, tt.b, got, err, tt.want)
		}
		q := NewQuery(tt.a)
		if got, err := q.Cosine(tt.b); err != nil || math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("Query.Cosine(%v, %v) = %v, %v; want %v", tt.a, tt.b, got, err, tt.want)
		}
		if got, err := q.CosineQuantized(Quantize(tt.b)); err != nil || math.Abs(got-tt.want) > 0.01 {
			t.Errorf("CosineQuantized(%v, %v) = %v, %v; want ≈ %v", tt.a, tt.b, got, err, tt.want)
		}
	}
	if _, err := Cosine([]float32{1}, []float32{1, 2}); !errors.Is(err, ErrDimension) {
		t.Errorf("sizes 1 and 2: %v; want ErrDimension", err)
	}
	if _, err := NewQuery([]float32{1}).CosineQuantized(Quantize([]float32{1, 2})); !errors.Is(err, ErrDimension) {
		t.Errorf("quantised sizes 1 and 2: %v; want ErrDimension", err)
	}
}

func TestQuantize(t *testing.T) {
	v := []float32{0.5, -1, 0.25, 0, 1e-4}
	q := Quantize(v)
	if want := []int8{64, -127, 32, 0, 0}; !slices.Equal(q.Values(), want) {
		t.Errorf("Quantize = %v; want %v", q.Values(), want)
	}
	if back := QuantizedFromBytes(q.Bytes()); !slices.Equal(back.Values(), q.Values()) || back.inv != q.inv {
		t.Errorf("blob round trip: %v", back)
	}
	z := Quantize(make([]float32, 3))
	if !slices.Equal(z.Values(), []int8{0, 0, 0}) {
		t.Errorf("zeros: %v", z)
	}
	if c, err := NewQuery([]float32{1, 2, 3}).CosineQuantized(z); c != 0 || err != nil {
		t.Errorf("cosine with zeros: %v, %v", c, err)
	}
	if u := Quantize([]float32{3, 4}).Unit(); math.Abs(float64(u[0])-0.6) > 0.01 || math.Abs(float64(u[1])-0.8) > 0.01 {
		t.Errorf("Quantized.Unit = %v; want ≈ (0.6, 0.8)", u)
	}
	u := Unit([]float32{3, 4})
	if u[0] != 0.6 || u[1] != 0.8 {
		t.Errorf("Unit(3,4) = %v", u)
	}
	if d, _ := NewQuery([]float32{4, 3}).Dot(u); math.Abs(d-0.96) > 1e-6 {
		t.Errorf("Dot = %v; want 0.96", d)
	}
}

func TestNearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	docs := clustered(rng, 500, 32, 10)
	q := NewQuery(docs[7])
	hits, skipped := Nearest(len(docs)+1, 10, 0.2, func(i int) (string, float64, error) {
		if i == len(docs) { // another model's vector
			return "other", 0, ErrDimension
		}
		s, err := q.Cosine(docs[i])
		return fmt.Sprint(i), s, err
	})
	if skipped != 1 {
		t.Errorf("skipped %d; want 1", skipped)
	}
	var all []Hit
	for i, d := range docs {
		s, _ := q.Cosine(d)
		if s >= 0.2 {
			all = append(all, Hit{ID: fmt.Sprint(i), Score: s})
		}
	}
	slices.SortFunc(all, order)
	if len(all) > 10 {
		all = all[:10]
	}
	if !slices.Equal(ids(hits), ids(all)) || hits[0].ID != "7" {
		t.Errorf("Nearest %v; want %v (7 first)", ids(hits), ids(all))
	}
	if h, _ := Nearest(len(docs), 5, 1.1, func(i int) (string, float64, error) { s, _ := q.Cosine(docs[i]); return "x", s, nil }); len(h) != 0 {
		t.Errorf("minScore above every score kept %v", h)
	}
}

// clustered returns n unit-free vectors of dim values around c random
// centres: like embeddings, memories on one topic lie close together.
func clustered(rng *rand.Rand, n, dim, c int) [][]float32 {
	centres := make([][]float32, c)
	for i := range centres {
		centres[i] = gauss(rng, dim, 1)
	}
	out := make([][]float32, n)
	for i := range out {
		noise := gauss(rng, dim, 0.6)
		for j, x := range centres[rng.IntN(c)] {
			noise[j] += x
		}
		out[i] = noise
	}
	return out
}

func gauss(rng *rand.Rand, dim int, sd float64) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * sd)
	}
	return v
}

// TestQuantizedRecall measures what int8 storage costs in ranking: the
// share of the float32 top 10 that the int8 top 10 keeps, over 10k
// clustered vectors of 256 values and 50 queries. Synthetic vectors, not a
// real model's (none is reachable here): the figure is about quantisation
// error, not about retrieval quality.
func TestQuantizedRecall(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	docs := clustered(rng, 10000, 256, 50)
	quant := make([]Quantized, len(docs))
	for i, d := range docs {
		quant[i] = Quantize(d)
	}
	kept, total := 0, 0
	for range 50 {
		q := NewQuery(perturb(rng, docs[rng.IntN(len(docs))])) // near a memory, like a real query
		exact, _ := Nearest(len(docs), 10, -1, func(i int) (string, float64, error) { s, err := q.Cosine(docs[i]); return fmt.Sprint(i), s, err })
		approx, _ := Nearest(len(docs), 10, -1, func(i int) (string, float64, error) {
			s, err := q.CosineQuantized(quant[i])
			return fmt.Sprint(i), s, err
		})
		for _, h := range approx {
			if slices.ContainsFunc(exact, func(e Hit) bool { return e.ID == h.ID }) {
				kept++
			}
		}
		total += len(exact)
	}
	recall := float64(kept) / float64(total)
	t.Logf("int8 keeps %.3f of the float32 top 10 (10k vectors × 256)", recall)
	if recall < 0.9 {
		t.Errorf("int8 recall@10 %.3f against float32; want ≥ 0.9", recall)
	}
}

// BenchmarkNearest scans one scope's vectors for the ten nearest, as the
// SQLite store does in Go: 10k memories, float32 against int8, at the
// sizes of common models.
func BenchmarkNearest(b *testing.B) {
	for _, dim := range []int{256, 768, 1536} {
		rng := rand.New(rand.NewPCG(5, 6))
		docs := clustered(rng, 10000, dim, 50)
		quant := make([]Quantized, len(docs))
		names := make([]string, len(docs))
		for i, d := range docs {
			quant[i] = Quantize(d)
			names[i] = fmt.Sprint(i)
			docs[i] = Unit(d)
		}
		q := NewQuery(docs[0])
		b.Run(fmt.Sprintf("float32/%d", dim), func(b *testing.B) {
			loopCPU(b, func() {
				Nearest(len(docs), 10, 0, func(i int) (string, float64, error) { s, err := q.Dot(docs[i]); return names[i], s, err })
			})
		})
		deq := make([][]float32, len(docs))
		for i, d := range quant {
			deq[i] = d.Unit()
		}
		b.Run(fmt.Sprintf("int8-as-float32/%d", dim), func(b *testing.B) {
			loopCPU(b, func() {
				Nearest(len(docs), 10, 0, func(i int) (string, float64, error) { s, err := q.Dot(deq[i]); return names[i], s, err })
			})
		})
		b.Run(fmt.Sprintf("int8/%d", dim), func(b *testing.B) {
			loopCPU(b, func() {
				Nearest(len(docs), 10, 0, func(i int) (string, float64, error) { s, err := q.CosineQuantized(quant[i]); return names[i], s, err })
			})
		})
	}
}

// perturb returns v plus noise: a query close to, not equal to, a memory.
func perturb(rng *rand.Rand, v []float32) []float32 {
	out := gauss(rng, len(v), 0.4)
	for i, x := range v {
		out[i] += x
	}
	return out
}

// loopCPU runs op in b.Loop and reports, besides wall time, the CPU time
// the process spent per op (cpu-ms/op): on a shared machine wall time
// includes waiting for a CPU, CPU time much less so.
func loopCPU(b *testing.B, op func()) {
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	n := 0
	for b.Loop() {
		op()
		n++
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
}
