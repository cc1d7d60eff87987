package vecscan

import (
	"slices"
	"testing"

	"github.com/memproxy/memproxy/gateway/recall"
)

func blob(v ...float32) []byte { return recall.Quantize(v).Bytes() }

func TestPut1(t *testing.T) {
	var c Cache
	k := Key{Scope: "s", Model: "m", Dims: 2}
	set := &Set{Version: 3}
	set.Add("a", blob(1, 0), 2)
	set.Add("x", blob(1, 0, 0), 2) // another size: skipped
	c.Put(k, set)
	c.Put1(k, 2, 3, "b", blob(0, 1)) // not the cached version: ignored
	if got, ok := c.Get(k, 3); !ok || !slices.Equal(got.IDs, []string{"a"}) {
		t.Fatalf("after a write at another version: %v %v", got, ok)
	}
	c.Put1(k, 3, 4, "b", blob(0, 1))
	got, ok := c.Get(k, 4)
	if !ok || !slices.Equal(got.IDs, []string{"a", "b"}) {
		t.Fatalf("after an append: %v %v", got, ok)
	}
	if _, ok := c.Get(k, 3); ok {
		t.Error("the set is still served at the old version")
	}
	c.Put1(k, 4, 5, "a", blob(0, 1))
	now, _ := c.Get(k, 5)
	if h := now.Nearest([]float32{0, 1}, 2, 0.5); len(h) != 2 {
		t.Errorf("after replacing a: %v; want a and b near (0, 1)", h)
	}
	if h := got.Nearest([]float32{1, 0}, 1, 0.5); len(h) != 1 || h[0].ID != "a" {
		t.Errorf("the set a search held changed under it: %v", h)
	}
}

func TestBudget(t *testing.T) {
	c := Cache{MaxBytes: 1000}
	mk := func(n int) *Set {
		s := &Set{}
		for range n {
			s.Add("id", blob(1, 2, 3, 4), 4)
		}
		return s
	}
	c.Put(Key{Scope: "a"}, mk(10)) // 10 × 58 bytes
	c.Put(Key{Scope: "b"}, mk(5))
	c.Get(Key{Scope: "a"}, 0) // a is now the most recently used
	c.Put(Key{Scope: "c"}, mk(5))
	if _, ok := c.Get(Key{Scope: "b"}, 0); ok {
		t.Error("b, least recently used, kept beyond the budget")
	}
	if _, ok := c.Get(Key{Scope: "a"}, 0); !ok {
		t.Error("a evicted")
	}
	c.Put(Key{Scope: "d"}, mk(100))
	if _, ok := c.Get(Key{Scope: "d"}, 0); ok || c.used > 1000 {
		t.Errorf("a set over the whole budget kept (used %d)", c.used)
	}
}
