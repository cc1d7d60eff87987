package cache

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// DefaultMaxBytes is the size of a memory cache made with maxBytes <= 0.
const DefaultMaxBytes = 64 << 20

// entryOverhead is what an entry costs beyond its bytes (key, list element,
// header, bookkeeping), counted against maxBytes.
const entryOverhead = 256

// NewMemory returns a Cache in this process's memory, for a single replica.
// It holds at most maxBytes (default DefaultMaxBytes): each entry counts its
// Body, Stream and Content-Type plus a small fixed overhead, and storing an
// entry first evicts the least recently used (Get or Set) entries until it
// fits. An entry larger than maxBytes is not stored. Expired entries are
// dropped when a Get finds them, or by eviction. Time is time.Now.
func NewMemory(maxBytes int64) Cache {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &memory{max: maxBytes, lru: list.New(), items: map[Key]*list.Element{}}
}

type memory struct {
	mu    sync.Mutex
	max   int64
	used  int64
	lru   *list.List // of *item, most recently used first
	items map[Key]*list.Element
}

var _ Cache = (*memory)(nil)

type item struct {
	key     Key
	entry   Entry
	expires time.Time
	cost    int64
}

// Get implements Cache.
func (m *memory) Get(_ context.Context, k Key) (Entry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el := m.items[k]
	if el == nil {
		return Entry{}, false, nil
	}
	it := el.Value.(*item)
	if !time.Now().Before(it.expires) {
		m.remove(el)
		return Entry{}, false, nil
	}
	m.lru.MoveToFront(el)
	return it.entry.clone(), true, nil
}

// Set implements Cache.
func (m *memory) Set(_ context.Context, k Key, e Entry, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrTTL
	}
	if e.size() > MaxEntryBytes {
		return nil
	}
	e = e.clone()
	cost := e.size() + int64(len(e.Header.Get("Content-Type"))) + entryOverhead
	if cost > m.max {
		return nil
	}
	it := &item{key: k, entry: e, expires: time.Now().Add(ttl), cost: cost}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el := m.items[k]; el != nil {
		m.remove(el)
	}
	for m.used+cost > m.max {
		m.remove(m.lru.Back())
	}
	m.items[k] = m.lru.PushFront(it)
	m.used += cost
	return nil
}

func (m *memory) remove(el *list.Element) {
	it := m.lru.Remove(el).(*item)
	delete(m.items, it.key)
	m.used -= it.cost
}
