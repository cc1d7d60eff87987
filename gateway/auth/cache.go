package auth

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Defaults of CacheOptions.
const (
	DefaultPositiveTTL   = 30 * time.Second
	DefaultNegativeTTL   = 5 * time.Second
	DefaultCacheEntries  = 10000
	DefaultTouchInterval = time.Minute
	touchTimeout         = 5 * time.Second
)

// CacheOptions tune the cache in front of a KeyStore, which keeps the
// database off the hot path. Zero values take the defaults.
type CacheOptions struct {
	// PositiveTTL is how long a valid key is trusted without asking the
	// store (default 30s). It is the longest a key revoked by another
	// process (the CLI, another replica) keeps working here.
	PositiveTTL time.Duration
	// NegativeTTL is how long an unknown key is refused without asking
	// (default 5s). It is the longest a key that was tried before it was
	// minted stays refused.
	NegativeTTL time.Duration
	// MaxEntries bounds the valid keys held, and separately the unknown
	// ones, so a flood of random keys cannot evict the valid (default
	// 10000 each).
	MaxEntries int
	// TouchInterval is how often at most a key's last use is written, per
	// key and process (default 1m).
	TouchInterval time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (o *CacheOptions) defaults() {
	if o.PositiveTTL <= 0 {
		o.PositiveTTL = DefaultPositiveTTL
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultCacheEntries
	}
	if o.TouchInterval <= 0 {
		o.TouchInterval = DefaultTouchInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// storeKeys checks keys against a KeyStore through two bounded maps: valid
// keys (pos) and unknown ones (neg). Errors of the store are not cached.
type storeKeys struct {
	ks KeyStore
	o  CacheOptions

	mu  sync.Mutex
	pos map[KeyHash]*posEntry
	neg map[KeyHash]time.Time // expiry
	ids map[string]KeyHash    // KeyID → hash of the entries in pos
	// gen counts revocations seen (in-process, or listed by DropRevoked):
	// a lookup that began before one does not cache its answer.
	gen uint64
	// revoked are the ids DropRevoked listed last time.
	revoked map[string]struct{}
}

type posEntry struct {
	p       Principal
	expires time.Time
	touched time.Time // last use written (or read from the store)
}

func newStoreKeys(ks KeyStore, o CacheOptions) *storeKeys {
	o.defaults()
	return &storeKeys{ks: ks, o: o, pos: map[KeyHash]*posEntry{}, neg: map[KeyHash]time.Time{}, ids: map[string]KeyHash{}}
}

func (s *storeKeys) check(ctx context.Context, h KeyHash) (Principal, error) {
	now := s.o.Now()
	s.mu.Lock()
	if e, ok := s.pos[h]; ok && now.Before(e.expires) {
		p, touch := e.p, s.dueTouch(e, now)
		s.mu.Unlock()
		if touch {
			go s.touch(p.KeyID, now)
		}
		return clonePrincipal(p), nil
	}
	if exp, ok := s.neg[h]; ok && now.Before(exp) {
		s.mu.Unlock()
		return Principal{}, ErrBadKey
	}
	gen := s.gen
	s.mu.Unlock()

	rec, err := s.ks.KeyByHash(ctx, h)
	if err == nil && rec.Revoked() { // a store must not return it; refuse anyway
		err = ErrKeyNotFound
	}
	if err != nil && !errors.Is(err, ErrKeyNotFound) {
		if ctx.Err() == nil {
			s.o.Logger.Warn("checking an API key: the key store failed", "err", err)
		}
		return Principal{}, ErrUnavailable
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.dropPos(h)
		if gen == s.gen {
			if len(s.neg) >= s.o.MaxEntries {
				shrink(s.neg, s.o.MaxEntries, func(exp time.Time) bool { return !now.Before(exp) }, nil)
			}
			s.neg[h] = now.Add(s.o.NegativeTTL)
		}
		return Principal{}, ErrBadKey
	}
	p := rec.Principal()
	e := &posEntry{p: p, expires: now.Add(s.o.PositiveTTL), touched: rec.LastUsedAt}
	if old, ok := s.pos[h]; ok && old.touched.After(e.touched) {
		e.touched = old.touched // our last touch may not have landed yet
	}
	if gen == s.gen {
		s.dropPos(h)
		if len(s.pos) >= s.o.MaxEntries {
			shrink(s.pos, s.o.MaxEntries, func(e *posEntry) bool { return !now.Before(e.expires) },
				func(e *posEntry) { delete(s.ids, e.p.KeyID) })
		}
		s.pos[h], s.ids[p.KeyID] = e, h
		delete(s.neg, h)
	}
	if s.dueTouch(e, now) {
		go s.touch(p.KeyID, now)
	}
	return clonePrincipal(p), nil
}

// dueTouch reports whether e's last use should be written now, and if so
// marks it written. Called with s.mu held.
func (s *storeKeys) dueTouch(e *posEntry, now time.Time) bool {
	if now.Sub(e.touched) < s.o.TouchInterval {
		return false
	}
	e.touched = now
	return true
}

// touch writes a key's last use off the request path, bounded in time.
func (s *storeKeys) touch(id string, at time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
	defer cancel()
	if err := s.ks.TouchKey(ctx, id, at.UTC()); err != nil {
		s.o.Logger.Warn("recording an API key's last use failed", "key_id", id, "err", err)
	}
}

func (s *storeKeys) revoke(ctx context.Context, id string) error {
	if err := s.ks.RevokeKey(ctx, id, s.o.Now().UTC()); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if h, ok := s.ids[id]; ok {
		s.dropPos(h)
	}
	return nil
}

// dropPos removes h from pos (and ids). Called with s.mu held.
func (s *storeKeys) dropPos(h KeyHash) {
	if e, ok := s.pos[h]; ok {
		delete(s.ids, e.p.KeyID)
		delete(s.pos, h)
	}
}

// shrink makes room in a full map: it drops expired entries, then, if that
// was not enough, arbitrary ones down to 7/8 of max, so that the sweep is
// paid once per max/8 insertions rather than once per insertion.
func shrink[V any](m map[KeyHash]V, max int, expired func(V) bool, dropped func(V)) {
	for h, v := range m {
		if expired(v) {
			if dropped != nil {
				dropped(v)
			}
			delete(m, h)
		}
	}
	for h, v := range m {
		if len(m) < max-max/8 {
			break
		}
		if dropped != nil {
			dropped(v)
		}
		delete(m, h)
	}
}

func clonePrincipal(p Principal) Principal {
	p.Models = slices.Clone(p.Models)
	return p
}
