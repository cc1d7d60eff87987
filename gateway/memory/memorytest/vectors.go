package memorytest

import (
	"crypto/rand"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/hybrid"
)

// VectorBackend is a backend with a lifecycle and embeddings, as the
// gateway's stores are.
type VectorBackend interface {
	memory.Lifecycle
	memory.Vectors
}

// RunVectors is the suite of memory.Vectors (and of
// hybrid.MissingCounter when the backend has it): nearest-first search with a
// floor, no mixing of models or sizes, superseded and deleted memories
// gone from vector search, resumable listing of memories without a
// vector, and the scope boundary on every method. Stores keep vectors at
// reduced precision, so scores are compared with a tolerance of 0.02.
func RunVectors(t *testing.T, newBackend func(t *testing.T) VectorBackend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b VectorBackend)
	}{
		{"VectorSearch", testVectorSearch},
		{"VectorModels", testVectorModels},
		{"VectorLifecycle", testVectorLifecycle},
		{"VectorScopes", testVectorScopes},
		{"VectorMissing", testVectorMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend(t))
		})
	}
}

// model is a model name unique to the test, so that tests sharing a
// database never see each other's vectors.
func model(name string) string { return name + "-" + rand.Text()[:8] }

// axis is the unit vector along dimension i of n, tilted by tilt toward
// dimension (i+1)%n.
func axis(n, i int, tilt float32) []float32 {
	v := make([]float32, n)
	v[i] = 1
	v[(i+1)%n] = tilt
	return v
}

func put(t *testing.T, b VectorBackend, s memory.Scope, id, model string, v []float32) {
	t.Helper()
	if err := b.PutVector(t.Context(), s, id, model, v); err != nil {
		t.Fatalf("PutVector(%q, %s, %s): %v", s, id, model, err)
	}
}

func vsearch(t *testing.T, b VectorBackend, s memory.Scope, model string, q []float32, limit int, min float64) []memory.Memory {
	t.Helper()
	ms, err := b.SearchVectors(t.Context(), s, model, q, limit, min)
	if err != nil {
		t.Fatalf("SearchVectors(%q, %s): %v", s, model, err)
	}
	for _, m := range ms {
		if m.Status != memory.StatusActive {
			t.Errorf("SearchVectors returned %s with status %q", m.ID, m.Status)
		}
	}
	return ms
}

func wantIDs(t *testing.T, what string, ms []memory.Memory, want ...string) {
	t.Helper()
	got := ids(ms)
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("%s = %v; want %v", what, got, want)
	}
}

func testVectorSearch(t *testing.T, b VectorBackend) {
	s, mdl := scope(t, "vectors"), model("m")
	a := add(t, b, s, "the release goes out by blue-green deploy", nil)
	c := add(t, b, s, "postgres runs on port 5433 in staging", nil)
	d := add(t, b, s, "lint with golangci before every push", nil)
	put(t, b, s, a.ID, mdl, axis(8, 0, 0))
	put(t, b, s, c.ID, mdl, axis(8, 0, 0.5)) // cosine with axis 0: 0.894
	put(t, b, s, d.ID, mdl, axis(8, 3, 0))   // orthogonal
	ms := vsearch(t, b, s, mdl, axis(8, 0, 0), 10, -1)
	wantIDs(t, "nearest first", ms, a.ID, c.ID, d.ID)
	if len(ms) == 3 {
		for i, want := range []float64{1, 2 / math.Sqrt(5), 0} {
			if math.Abs(ms[i].Score-want) > 0.02 {
				t.Errorf("score of %s = %v; want cosine %v", ms[i].ID, ms[i].Score, want)
			}
		}
		if ms[0].Content != a.Content {
			t.Errorf("content %q; want the memory's", ms[0].Content)
		}
	}
	wantIDs(t, "min score 0.5", vsearch(t, b, s, mdl, axis(8, 0, 0), 10, 0.5), a.ID, c.ID)
	wantIDs(t, "limit 1", vsearch(t, b, s, mdl, axis(8, 0, 0), 1, -1), a.ID)
	// A vector stored after a search is found by the next one (no stale
	// copy), and a replaced vector moves its memory.
	e := add(t, b, s, "the staging database is backed up nightly", nil)
	put(t, b, s, e.ID, mdl, axis(8, 3, 0.1))
	wantIDs(t, "new vector", vsearch(t, b, s, mdl, axis(8, 3, 0.1), 1, 0.5), e.ID)
	put(t, b, s, d.ID, mdl, axis(8, 5, 0))
	wantIDs(t, "replaced vector", vsearch(t, b, s, mdl, axis(8, 3, 0), 10, 0.5), e.ID)
	wantIDs(t, "no vectors of this model", vsearch(t, b, s, model("other"), axis(8, 0, 0), 10, -1))
}

func testVectorModels(t *testing.T, b VectorBackend) {
	s, m1, m2 := scope(t, "models"), model("one"), model("two")
	a := add(t, b, s, "first memory", nil)
	c := add(t, b, s, "second memory", nil)
	put(t, b, s, a.ID, m1, axis(4, 0, 0))
	put(t, b, s, c.ID, m2, axis(4, 0, 0))
	wantIDs(t, "model one", vsearch(t, b, s, m1, axis(4, 0, 0), 10, -1), a.ID)
	wantIDs(t, "model two", vsearch(t, b, s, m2, axis(4, 0, 0), 10, -1), c.ID)
	// Same model name, another size: never compared.
	wantIDs(t, "model one, 5 values", vsearch(t, b, s, m1, append(axis(4, 0, 0), 0), 10, -1))
	// Re-embedding with model two replaces model one's vector.
	put(t, b, s, a.ID, m2, axis(4, 1, 0))
	wantIDs(t, "model one after re-embedding", vsearch(t, b, s, m1, axis(4, 0, 0), 10, -1))
	wantIDs(t, "model two after re-embedding", vsearch(t, b, s, m2, axis(4, 1, 0), 10, -1), a.ID, c.ID)
}

func testVectorLifecycle(t *testing.T, b VectorBackend) {
	s, mdl := scope(t, "vlife"), model("m")
	a := add(t, b, s, "deploys happen on fridays", nil)
	c := add(t, b, s, "deploys happen on tuesdays", nil)
	d := add(t, b, s, "tests run in CI", nil)
	for _, m := range []memory.Memory{a, c, d} {
		put(t, b, s, m.ID, mdl, axis(4, 0, 0))
	}
	wantIDs(t, "before", vsearch(t, b, s, mdl, axis(4, 0, 0), 10, -1), sorted(a.ID, c.ID, d.ID)...)
	n, err := b.Supersede(t.Context(), s, a.ID, "deploys happen on mondays", memory.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "after supersede (new memory not embedded yet)", vsearch(t, b, s, mdl, axis(4, 0, 0), 10, -1), sorted(c.ID, d.ID)...)
	put(t, b, s, n.ID, mdl, axis(4, 0, 0))
	if err := b.Delete(t.Context(), s, c.ID); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "after delete", vsearch(t, b, s, mdl, axis(4, 0, 0), 10, -1), sorted(n.ID, d.ID)...)
	if err := b.PutVector(t.Context(), s, c.ID, mdl, axis(4, 0, 0)); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("PutVector of a deleted memory: %v; want ErrNotFound", err)
	}
	if _, err := b.DeleteAll(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "after DeleteAll", vsearch(t, b, s, mdl, axis(4, 0, 0), 10, -1))
}

func testVectorScopes(t *testing.T, b VectorBackend) {
	s1, s2, mdl := scope(t, "vs1"), scope(t, "vs2"), model("m")
	a := add(t, b, s1, "a memory of scope one", nil)
	c := add(t, b, s2, "a memory of scope two", nil)
	put(t, b, s1, a.ID, mdl, axis(4, 0, 0))
	if err := b.PutVector(t.Context(), s2, a.ID, mdl, axis(4, 0, 0)); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("PutVector with another scope's id: %v; want ErrNotFound", err)
	}
	wantIDs(t, "scope two", vsearch(t, b, s2, mdl, axis(4, 0, 0), 10, -1))
	put(t, b, s2, c.ID, mdl, axis(4, 0, 0))
	wantIDs(t, "scope one", vsearch(t, b, s1, mdl, axis(4, 0, 0), 10, -1), a.ID)
	wantIDs(t, "scope two", vsearch(t, b, s2, mdl, axis(4, 0, 0), 10, -1), c.ID)
	for _, v := range [][]float32{nil, make([]float32, memory.MaxVectorDims+1)} {
		if err := b.PutVector(t.Context(), s1, a.ID, mdl, v); !errors.Is(err, memory.ErrInvalidVector) {
			t.Errorf("PutVector of %d values: %v; want ErrInvalidVector", len(v), err)
		}
	}
	if err := b.PutVector(t.Context(), s1, a.ID, "", axis(4, 0, 0)); !errors.Is(err, memory.ErrInvalidVector) {
		t.Errorf("PutVector without a model: %v; want ErrInvalidVector", err)
	}
	if _, err := b.SearchVectors(t.Context(), "", mdl, axis(4, 0, 0), 10, -1); !errors.Is(err, memory.ErrInvalidScope) {
		t.Errorf("SearchVectors with no scope: %v; want ErrInvalidScope", err)
	}
}

func testVectorMissing(t *testing.T, b VectorBackend) {
	s, mdl := scope(t, "missing"), model("m")
	var all []string
	for _, c := range []string{"one", "two", "three", "four"} {
		all = append(all, add(t, b, s, "memory number "+c, nil).ID)
	}
	put(t, b, s, all[1], mdl, axis(4, 0, 0))
	put(t, b, s, all[2], model("other"), axis(4, 0, 0))
	put(t, b, s, all[3], mdl, axis(5, 0, 0)) // another size: still missing at 4
	if _, err := b.Supersede(t.Context(), s, all[0], "memory number one, corrected", memory.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	got := missing(t, b, s, mdl, 4)
	if len(got) != 3 || slices.Contains(got, all[0]) || slices.Contains(got, all[1]) ||
		!slices.Contains(got, all[2]) || !slices.Contains(got, all[3]) {
		t.Errorf("missing = %v of %v; want the correction, %s and %s (not the superseded or embedded)", got, all, all[2], all[3])
	}
	for _, id := range got {
		put(t, b, s, id, mdl, axis(4, 1, 0))
	}
	if got := missing(t, b, s, mdl, 4); len(got) != 0 {
		t.Errorf("missing after embedding = %v; want none", got)
	}
}

// missing lists s's memories without a vector of model and size, walking
// every scope's as a reindex does (other tests share the database).
func missing(t *testing.T, b VectorBackend, s memory.Scope, model string, dims int) []string {
	t.Helper()
	us, err := b.MissingVectors(t.Context(), model, dims, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range us {
		if u.Scope == s {
			if u.Memory.Status != memory.StatusActive || u.Memory.Content == "" {
				t.Errorf("missing %+v; want an active memory with its content", u.Memory)
			}
			out = append(out, u.Memory.ID)
		}
	}
	if c, ok := b.(hybrid.MissingCounter); ok {
		// Tests running beside this one add, embed, supersede and delete
		// memories of their own scopes meanwhile, so the count over every
		// scope can only be held to this scope's: at least what was
		// listed of s, which only this test changes.
		if n, err := c.CountMissingVectors(t.Context(), model, dims); err != nil || n < len(out) {
			t.Errorf("CountMissingVectors = %d, %v; want at least the %d listed in this test's scope", n, err, len(out))
		}
	}
	return out
}

func sorted(ids ...string) []string { slices.Sort(ids); return ids }
