package lexical

import (
	"errors"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"
)

// ErrTooLarge is returned by Builder.Add when a scope's index would not
// fit the cache's budget: the store then searches with its database's
// full-text search instead.
var ErrTooLarge = errors.New("lexical index over its memory budget")

// Builder fills a new index from a scope's active memories, as read from
// the database in one snapshot.
type Builder struct {
	ix   *Index
	max  int64
	memo map[string]string
}

// NewBuilder starts an index that may take up to max bytes (≤ 0: no
// bound).
func NewBuilder(max int64) *Builder {
	return &Builder{ix: New(), max: max, memo: map[string]string{}}
}

// Add indexes one memory (see Index.Add); it returns ErrTooLarge once the
// index is over its bound.
func (bd *Builder) Add(id string, order int64, text string) error {
	bd.ix.add(id, order, stemAll(Words(text), bd.memo))
	if bd.max > 0 && bd.ix.bytes > bd.max {
		return ErrTooLarge
	}
	return nil
}

// Index returns the built index.
func (bd *Builder) Index() *Index { return bd.ix }

// Cache holds the indexes of the scopes searched lately, each at the
// scope's text version it reflects, within a byte budget (the least
// recently searched scope goes first). The zero Cache is ready. Safe for
// concurrent use.
type Cache struct {
	// MaxBytes bounds the cache (≤ 0: DefaultMaxBytes).
	MaxBytes int64

	loads     singleflight.Group
	builds    atomic.Int64
	refreshes atomic.Int64
	mu        sync.Mutex
	entries   map[string]*entry
	used      int64
	clock     int64
}

// DefaultMaxBytes is the default budget: about 26 scopes of 10k memories
// of the benchmark's size (≈ 500 bytes a memory, BenchmarkIndex; see
// docs/performance.md).
const DefaultMaxBytes = 128 << 20

// retryTooLarge is how far a scope's version must move before an index
// that did not fit is tried again.
const retryTooLarge = 1024

type entry struct {
	ix      *Index // nil: too large at version
	version int64
	size    int64
	touch   int64
}

// Budget returns the byte bound of one index (the whole budget).
func (c *Cache) Budget() int64 {
	if c.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return c.MaxBytes
}

// Get returns the index of scope at version; nil, false when there is
// none. tooLarge is set when the scope's index did not fit the budget
// recently: search the database instead.
func (c *Cache) Get(scope string, version int64) (ix *Index, tooLarge bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[scope]
	if !ok {
		return nil, false
	}
	if e.ix == nil {
		return nil, version >= e.version && version < e.version+retryTooLarge
	}
	if e.version != version {
		return nil, false
	}
	c.clock++
	e.touch = c.clock
	return e.ix, false
}

// Put caches ix as scope's index at version, evicting the least recently
// used beyond the budget.
func (c *Cache) Put(scope string, version int64, ix *Index) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(scope)
	size := ix.Bytes()
	c.evict(size)
	c.clock++
	c.entries[scope] = &entry{ix: ix, version: version, size: size, touch: c.clock}
	c.used += size
}

// PutTooLarge records that scope's index did not fit at version.
func (c *Cache) PutTooLarge(scope string, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(scope)
	c.entries[scope] = &entry{version: version}
}

// Update applies this process's own write to scope's cached index: when
// the index is at old (the version before the write's transaction), f
// changes it and it becomes the index at new; an index at any other
// version is left to be rebuilt on its next search. A write that leaves
// the index sparse drops it.
func (c *Cache) Update(scope string, old, new int64, f func(*Index)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[scope]
	if !ok || e.ix == nil || e.version != old {
		return
	}
	f(e.ix)
	if e.ix.Sparse() {
		c.drop(scope)
		return
	}
	e.version = new
	size := e.ix.Bytes()
	c.used += size - e.size
	e.size = size
	if c.used > c.Budget() {
		c.evict(0)
	}
}

// Builds counts the indexes built (or tried) from the database.
func (c *Cache) Builds() int64 { return c.builds.Load() }

// Version returns the text version scope's cached index is at.
func (c *Cache) Version(scope string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[scope]
	if !ok || e.ix == nil {
		return 0, false
	}
	return e.version, true
}

// Drop forgets scope's index.
func (c *Cache) Drop(scope string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(scope)
}

func (c *Cache) drop(scope string) {
	if c.entries == nil {
		c.entries = map[string]*entry{}
	}
	if e, ok := c.entries[scope]; ok {
		c.used -= e.size
		delete(c.entries, scope)
	}
}

// evict removes the least recently used indexes until size more bytes
// fit (or none is left).
func (c *Cache) evict(size int64) {
	for c.used+size > c.Budget() {
		var oldest string
		var found *entry
		for s, e := range c.entries {
			if e.ix != nil && (found == nil || e.touch < found.touch) {
				oldest, found = s, e
			}
		}
		if found == nil {
			return
		}
		c.drop(oldest)
	}
}
