package lexical

import (
	"context"
	"errors"
	"time"

	"github.com/memproxy/memproxy/gateway/recall"
)

// Loader reads a scope's active memories into a Builder (bounded by the
// cache's budget) in one snapshot, and returns the scope's text version
// at that snapshot.
type Loader func(ctx context.Context, bd *Builder) (version int64, err error)

// Refresher brings a stale index up to date without rebuilding it: in one
// snapshot it reads the scope's text version and the ids of its active
// memories, and the memories among them that has reports missing from
// the index. It returns ErrTooStale when so many are missing that a build
// is cheaper.
type Refresher func(ctx context.Context, has func(id string) bool) (Snapshot, error)

// Snapshot is what a Refresher read.
type Snapshot struct {
	Version int64
	// Live holds the ids of the scope's active memories.
	Live map[string]bool
	// Missing are the active memories the index lacks.
	Missing []Doc
}

// Doc is one memory to index: its id, the store's recency key, and its
// content and keys as one text.
type Doc struct {
	ID    string
	Order int64
	Text  string
}

// Text is what the index holds of a memory: its content and keys (both
// stores index the same text, so they rank alike).
func Text(content, keys string) string {
	if keys == "" {
		return content
	}
	return content + "\n" + keys
}

// ErrTooStale is returned by a Refresher when a build is cheaper than
// catching up.
var ErrTooStale = errors.New("lexical index too stale to refresh")

// TooStale reports whether an index missing missing of live memories is
// better rebuilt than caught up (more than a quarter of them, past a few).
func TooStale(missing, live int) bool { return missing > 64 && missing*4 > live }

// BuildTimeout bounds one build or refresh. Builds run detached from the
// search that started them, so a search whose budget runs out does not
// waste the work: the next search finds the index ready.
const BuildTimeout = time.Minute

// ErrNotReady is returned by Cache.Index when the scope's index is being
// built or refreshed and the search cannot wait for it: search the
// database instead.
var ErrNotReady = errors.New("lexical index not ready")

// Index returns scope's index at version. An index cached at another
// version (another process wrote to the scope) is refreshed (refresh);
// without one, or when that fails, the index is built (load). One build
// or refresh at a time per scope, detached from ctx; a search waits for
// it while ctx allows and at most half of ctx's remaining time, then gets
// ErrNotReady, as it gets tooLarge when the scope's memories do not fit
// the budget: either way it should search the database instead.
func (c *Cache) Index(ctx context.Context, scope string, version int64, load Loader, refresh Refresher) (ix *Index, tooLarge bool, err error) {
	if ix, tooLarge := c.Get(scope, version); ix != nil || tooLarge {
		return ix, tooLarge, nil
	}
	type result struct {
		ix       *Index
		tooLarge bool
	}
	ch := c.loads.DoChan(scope, func() (any, error) {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), BuildTimeout)
		defer cancel()
		if stale, at := c.stale(scope); stale != nil && refresh != nil {
			if ix, err := c.refresh(bctx, scope, stale, at, refresh); err == nil {
				return result{ix: ix}, nil
			}
		}
		c.builds.Add(1)
		bd := NewBuilder(c.Budget())
		at, err := load(bctx, bd)
		switch {
		case errors.Is(err, ErrTooLarge):
			c.PutTooLarge(scope, at)
			return result{tooLarge: true}, nil
		case err != nil:
			return nil, err
		}
		c.Put(scope, at, bd.Index())
		return result{ix: bd.Index()}, nil
	})
	var patience <-chan time.Time
	if dl, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(dl) / 2)
		defer t.Stop()
		patience = t.C
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, false, r.Err
		}
		v := r.Val.(result)
		return v.ix, v.tooLarge, nil
	case <-patience:
	case <-ctx.Done():
	}
	return nil, false, ErrNotReady
}

// stale returns scope's cached index and its version, whatever that is.
func (c *Cache) stale(scope string) (*Index, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[scope]; ok && e.ix != nil {
		return e.ix, e.version
	}
	return nil, 0
}

// refresh catches the index ix, cached at version at, up with a
// snapshot: memories no longer active leave it, missing ones join. When
// the entry changed meanwhile (this process wrote to the scope), the
// snapshot is dropped and the caller builds.
func (c *Cache) refresh(ctx context.Context, scope string, ix *Index, at int64, refresh Refresher) (*Index, error) {
	snap, err := refresh(ctx, ix.Has)
	if err != nil {
		return nil, err
	}
	c.refreshes.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[scope]
	if !ok || e.ix != ix || e.version != at {
		return nil, errors.New("index changed during its refresh")
	}
	ix.apply(snap)
	if ix.Sparse() {
		c.drop(scope)
		return nil, errors.New("index sparse after its refresh")
	}
	e.version = snap.Version
	size := ix.Bytes()
	c.used += size - e.size
	e.size = size
	c.clock++
	e.touch = c.clock
	if c.used > c.Budget() {
		c.evict(0)
	}
	return ix, nil
}

// Refreshes counts the indexes caught up with a snapshot instead of
// being rebuilt.
func (c *Cache) Refreshes() int64 { return c.refreshes.Load() }

// Find is Index then Search, for a store: the scope's best memories for
// terms as recall hits (none when nothing matches). fallback reports that
// the store's own full-text search must answer instead: the scope's index
// does not fit the cache's budget, or is not ready within ctx's patience.
func (c *Cache) Find(ctx context.Context, scope string, version int64, load Loader, refresh Refresher,
	terms []string, limit int) (hits []recall.Hit, fallback bool, err error) {
	ix, tooLarge, err := c.Index(ctx, scope, version, load, refresh)
	if errors.Is(err, ErrNotReady) {
		return nil, true, nil
	}
	if err != nil || tooLarge {
		return nil, tooLarge, err
	}
	found := ix.Search(terms, limit)
	if len(found) == 0 {
		return nil, false, nil
	}
	hits = make([]recall.Hit, len(found))
	for i, h := range found {
		hits[i] = recall.Hit{ID: h.ID, Score: h.Score}
	}
	return hits, false, nil
}
