package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// memStore is a KeyStore in a map; err, when set, fails every call.
type memStore struct {
	mu      sync.Mutex
	keys    map[KeyHash]KeyRecord
	lookups int
	touches []time.Time
	err     error
}

func newMemStore() *memStore { return &memStore{keys: map[KeyHash]KeyRecord{}} }

func (m *memStore) CreateKey(_ context.Context, rec KeyRecord, h KeyHash) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[h]; ok {
		return ErrKeyExists
	}
	m.keys[h] = rec
	return nil
}

func (m *memStore) KeyByHash(_ context.Context, h KeyHash) (KeyRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	if m.err != nil {
		return KeyRecord{}, m.err
	}
	rec, ok := m.keys[h]
	if !ok || rec.Revoked() {
		return KeyRecord{}, ErrKeyNotFound
	}
	return rec, nil
}

func (m *memStore) ListKeys(context.Context, KeyFilter) ([]KeyRecord, error) { return nil, nil }

func (m *memStore) RevokeKey(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, rec := range m.keys {
		if rec.ID == id {
			rec.RevokedAt = at
			m.keys[h] = rec
			return nil
		}
	}
	return ErrKeyNotFound
}

func (m *memStore) TouchKey(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.touches = append(m.touches, at)
	for h, rec := range m.keys {
		if rec.ID == id && at.After(rec.LastUsedAt) {
			rec.LastUsedAt = at
			m.keys[h] = rec
		}
	}
	return nil
}

func (m *memStore) count() (lookups, touches int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookups, len(m.touches)
}

// clock is an injected time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// setup returns a Keys over a fresh store, with the clock injected and the
// touch interval long enough that no test but TestTouch sees a write.
func setup(t *testing.T, o CacheOptions) (*Keys, *memStore, *clock) {
	t.Helper()
	st, c := newMemStore(), &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	o.Now = c.now
	if o.TouchInterval == 0 {
		o.TouchInterval = 1000 * time.Hour
	}
	k := NewKeys("sk-master")
	if !k.Attach(st, o) {
		t.Fatal("Attach reported no effect")
	}
	if k.Attach(newMemStore(), o) {
		t.Fatal("second Attach took effect")
	}
	return k, st, c
}

func mint(t *testing.T, st KeyStore, spec KeyRecord) (string, KeyRecord) {
	t.Helper()
	key, rec, err := Mint(t.Context(), st, Principal{Admin: true}, spec, time.Now())
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return key, rec
}

func wantLookups(t *testing.T, st *memStore, want int) {
	t.Helper()
	if got, _ := st.count(); got != want {
		t.Fatalf("store lookups = %d, want %d", got, want)
	}
}

func TestStoredKeyCacheHit(t *testing.T) {
	k, st, c := setup(t, CacheOptions{})
	key, rec := mint(t, st, KeyRecord{User: "alice", Project: "shop", Models: []string{"gpt-test"}})
	want := Principal{User: "alice", KeyID: rec.ID, Project: "shop", Models: []string{"gpt-test"}}
	for i := range 3 {
		p, err := k.Check(t.Context(), key)
		if err != nil || !slices.Equal(p.Models, want.Models) || p.User != want.User || p.KeyID != want.KeyID || p.Project != want.Project || p.Admin {
			t.Fatalf("check %d: %+v, %v; want %+v", i, p, err, want)
		}
		p.Models[0] = "tampered" // the cache hands out copies
		c.advance(DefaultPositiveTTL / 4)
	}
	wantLookups(t, st, 1)
	c.advance(DefaultPositiveTTL) // expired: asked again
	if _, err := k.Check(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	wantLookups(t, st, 2)
	if p, err := k.Check(t.Context(), "sk-master"); err != nil || !p.Admin {
		t.Fatalf("master: %+v, %v", p, err)
	}
	wantLookups(t, st, 2) // the master key never reaches the store
}

func TestStoredKeyNegativeCache(t *testing.T) {
	k, st, c := setup(t, CacheOptions{})
	unknown := NewKey(KeyPrefix)
	for range 3 {
		if _, err := k.Check(t.Context(), unknown); !errors.Is(err, ErrBadKey) {
			t.Fatalf("unknown key: %v, want ErrBadKey", err)
		}
	}
	wantLookups(t, st, 1)
	c.advance(DefaultNegativeTTL)
	// Minted meanwhile (elsewhere): accepted once the negative entry expires.
	if err := st.CreateKey(t.Context(), KeyRecord{ID: "key_late", User: "bob"}, HashKey(unknown)); err != nil {
		t.Fatal(err)
	}
	if p, err := k.Check(t.Context(), unknown); err != nil || p.User != "bob" {
		t.Fatalf("after the negative TTL: %+v, %v", p, err)
	}
	wantLookups(t, st, 2)
	// Keys that cannot be ours never reach the store.
	for _, bad := range []string{"sk-other", KeyPrefix + "short", "sk-mp-" + string(make([]byte, 43)), "' OR 1=1 --"} {
		if _, err := k.Check(t.Context(), bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("Check(%q) = %v, want ErrBadKey", bad, err)
		}
	}
	wantLookups(t, st, 2)
}

func TestStoredKeyRevocation(t *testing.T) {
	k, st, c := setup(t, CacheOptions{})
	elsewhere, recA := mint(t, st, KeyRecord{User: "alice"})
	here, recB := mint(t, st, KeyRecord{User: "bob"})
	for _, key := range []string{elsewhere, here} {
		if _, err := k.Check(t.Context(), key); err != nil {
			t.Fatal(err)
		}
	}
	// Revoked in the store by another process: works until the TTL ends.
	if err := st.RevokeKey(t.Context(), recA.ID, c.now()); err != nil {
		t.Fatal(err)
	}
	c.advance(DefaultPositiveTTL - time.Second)
	if _, err := k.Check(t.Context(), elsewhere); err != nil {
		t.Fatalf("within the TTL: %v", err)
	}
	c.advance(time.Second)
	if _, err := k.Check(t.Context(), elsewhere); !errors.Is(err, ErrBadKey) {
		t.Fatalf("after the TTL: %v, want ErrBadKey", err)
	}
	// Revoked through this process: refused at once.
	c.advance(DefaultPositiveTTL) // fresh entry for here
	if _, err := k.Check(t.Context(), here); err != nil {
		t.Fatal(err)
	}
	if err := k.Revoke(t.Context(), recB.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Check(t.Context(), here); !errors.Is(err, ErrBadKey) {
		t.Fatalf("after Revoke: %v, want ErrBadKey", err)
	}
	if err := k.Revoke(t.Context(), "key_nosuchkey000"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Revoke(unknown) = %v, want ErrKeyNotFound", err)
	}
}

func TestStoredKeyStoreDown(t *testing.T) {
	k, st, c := setup(t, CacheOptions{})
	cached, _ := mint(t, st, KeyRecord{User: "alice"})
	other, _ := mint(t, st, KeyRecord{User: "bob"})
	if _, err := k.Check(t.Context(), cached); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.err = errors.New("connection refused")
	st.mu.Unlock()
	if p, err := k.Check(t.Context(), cached); err != nil || p.User != "alice" {
		t.Errorf("cached key during the outage: %+v, %v", p, err)
	}
	for range 2 { // not cached: each check asks again, and fails closed
		if p, err := k.Check(t.Context(), other); !errors.Is(err, ErrUnavailable) || p.User != "" {
			t.Errorf("uncached key during the outage: %+v, %v; want ErrUnavailable", p, err)
		}
	}
	wantLookups(t, st, 3)
	st.mu.Lock()
	st.err = nil
	st.mu.Unlock()
	c.advance(time.Millisecond)
	if p, err := k.Check(t.Context(), other); err != nil || p.User != "bob" {
		t.Errorf("after the outage: %+v, %v", p, err)
	}
}

func TestStoredKeyCacheBounded(t *testing.T) {
	k, st, _ := setup(t, CacheOptions{MaxEntries: 8})
	for i := range 100 {
		key, _ := mint(t, st, KeyRecord{User: fmt.Sprint("u", i)})
		if _, err := k.Check(t.Context(), key); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Check(t.Context(), NewKey(KeyPrefix)); !errors.Is(err, ErrBadKey) {
			t.Fatal(err)
		}
	}
	sk := k.stored.Load()
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if len(sk.pos) > 8 || len(sk.neg) > 8 || len(sk.ids) != len(sk.pos) {
		t.Errorf("cache holds %d valid, %d unknown, %d ids; want at most 8 each, ids = valid", len(sk.pos), len(sk.neg), len(sk.ids))
	}
}

// TestTouch: last use is written off the request path, at most once per
// interval per key.
func TestTouch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		k := NewKeys("")
		k.Attach(st, CacheOptions{}) // real (bubble) clock, default interval
		key, rec := mint(t, st, KeyRecord{User: "alice"})
		check := func() {
			t.Helper()
			if _, err := k.Check(context.Background(), key); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		check() // first use: written
		for range 5 {
			time.Sleep(10 * time.Second)
			check()
		}
		if _, n := st.count(); n != 1 {
			t.Fatalf("%d touches within a minute, want 1", n)
		}
		time.Sleep(11 * time.Second) // a minute after the first use
		check()
		if _, n := st.count(); n != 2 {
			t.Fatalf("%d touches after a minute, want 2", n)
		}
		got, _ := st.KeyByHash(context.Background(), HashKey(key))
		if !got.LastUsedAt.Equal(time.Now()) || got.ID != rec.ID {
			t.Errorf("LastUsedAt = %v, want now (%v)", got.LastUsedAt, time.Now())
		}
	})
}
