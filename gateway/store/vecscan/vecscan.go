// Package vecscan is the stores' in-process copy of a scope's memory
// vectors, for searching them in Go (SQLite always; PostgreSQL without
// pgvector): reading ten thousand blobs from the database per query costs
// far more than comparing them, so a scope's vectors are decoded once,
// kept as float32 unit vectors, and reloaded when the scope's vector
// version (kept by triggers in the database, so writes by another process
// count too) moves. The copy is bounded in bytes; the least recently used
// scope goes first.
package vecscan

import (
	"slices"
	"sync"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/recall"
)

// Key names one cached set: a scope's vectors of one model and size.
type Key struct {
	Scope string
	Model string
	Dims  int
}

// Set is a scope's active vectors of one model and size.
type Set struct {
	// Version is the scope's vector version the set was read at.
	Version int64
	IDs     []string
	// flat holds the unit vectors end to end, dims values each, in the
	// order of IDs: one allocation, scanned front to back.
	flat []float32
	dims int
}

// Add appends a stored (int8) vector; blobs of another size than the
// set's first are skipped.
func (s *Set) Add(id string, blob []byte, dims int) {
	if len(blob) != dims || (s.dims != 0 && dims != s.dims) {
		return
	}
	s.dims = dims
	s.IDs = append(s.IDs, id)
	s.flat = append(s.flat, recall.QuantizedFromBytes(blob).Unit()...)
}

// Nearest returns the ids of the best limit vectors with cosine similarity
// at least minScore to q, best first (ties by ID).
func (s *Set) Nearest(q []float32, limit int, minScore float64) []recall.Hit {
	if len(q) != s.dims || limit <= 0 {
		return nil
	}
	return nearest(recall.Unit(q), s.flat[:len(s.IDs)*s.dims], s.IDs, limit, float32(minScore))
}

func (s *Set) bytes() int64 {
	var n int64
	for _, id := range s.IDs {
		n += int64(4*s.dims + len(id) + 40)
	}
	return n
}

// Cache holds sets up to a byte budget. Safe for concurrent use.
type Cache struct {
	// MaxBytes bounds the cache (0: DefaultMaxBytes).
	MaxBytes int64

	mu    sync.Mutex
	sets  map[Key]*entry
	used  int64
	clock int64
}

// DefaultMaxBytes is the default budget: 10k vectors of 1536 values take
// about 62 MB.
const DefaultMaxBytes = 256 << 20

type entry struct {
	set   *Set
	size  int64
	touch int64
}

// Get returns the set of k read at version, if cached.
func (c *Cache) Get(k Key, version int64) (*Set, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.sets[k]
	if !ok || e.set.Version != version {
		return nil, false
	}
	c.clock++
	e.touch = c.clock
	return e.set, true
}

// Put caches s under k (replacing an older one), evicting the least
// recently used sets beyond the budget. A set larger than the whole
// budget is not kept.
func (c *Cache) Put(k Key, s *Set) {
	c.mu.Lock()
	defer c.mu.Unlock()
	max := c.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	if c.sets == nil {
		c.sets = map[Key]*entry{}
	}
	if old, ok := c.sets[k]; ok {
		c.used -= old.size
		delete(c.sets, k)
	}
	size := s.bytes()
	if size > max {
		return
	}
	for c.used+size > max {
		var oldest Key
		first := true
		for key, e := range c.sets {
			if first || e.touch < c.sets[oldest].touch {
				oldest, first = key, false
			}
		}
		c.used -= c.sets[oldest].size
		delete(c.sets, oldest)
	}
	c.clock++
	c.sets[k] = &entry{set: s, size: size, touch: c.clock}
	c.used += size
}

// InHitOrder returns the memories of ms named by hits, in hits' order,
// each with its hit's Score; a hit with no memory in ms (deleted or
// superseded since) is left out.
func InHitOrder(ms []memory.Memory, hits []recall.Hit) []memory.Memory {
	byID := make(map[string]memory.Memory, len(ms))
	for _, m := range ms {
		byID[m.ID] = m
	}
	out := make([]memory.Memory, 0, len(hits))
	for _, h := range hits {
		if m, ok := byID[h.ID]; ok {
			m.Score = h.Score
			out = append(out, m)
		}
	}
	return out
}

// Put1 records that one vector (id, stored as blob) was written to k's
// scope, moving its version from old to new: a set cached at old gets the
// vector (replaced or appended) and becomes the set at new, so that a
// write does not cost the next search a reload of the scope. A set
// cached at another version is left to be reloaded.
func (c *Cache) Put1(k Key, old, new int64, id string, blob []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.sets[k]
	if !ok || e.set.Version != old || len(blob) != k.Dims {
		return
	}
	v := recall.QuantizedFromBytes(blob).Unit()
	// Searches may be reading e.set: it is never changed, only replaced.
	// Appending writes past the length they read, so it shares the arrays.
	next := &Set{Version: new, IDs: e.set.IDs, flat: e.set.flat, dims: k.Dims}
	if i := slices.Index(next.IDs, id); i >= 0 {
		next.flat = slices.Clone(next.flat[:len(next.IDs)*k.Dims])
		copy(next.flat[i*k.Dims:], v)
	} else {
		next.IDs, next.flat = append(next.IDs, id), append(next.flat[:len(next.IDs)*k.Dims], v...)
		e.size += int64(4*len(v) + len(id) + 40)
		c.used += int64(4*len(v) + len(id) + 40)
	}
	e.set = next
}
