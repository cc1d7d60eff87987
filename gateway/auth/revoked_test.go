package auth

import (
	"context"
	"errors"
	"testing"
	"time"
)

// RevokedSince makes memStore a RevocationLister.
func (m *memStore) RevokedSince(_ context.Context, since time.Time) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for _, rec := range m.keys {
		if rec.Revoked() && !rec.RevokedAt.Before(since) {
			ids = append(ids, rec.ID)
		}
	}
	return ids, nil
}

// TestDropRevokedAcrossReplicas: two Keys ("replicas") over one store; a
// key revoked through one is refused by the other after its next poll,
// not at the end of the positive TTL.
func TestDropRevokedAcrossReplicas(t *testing.T) {
	a, st, c := setup(t, CacheOptions{})
	b := NewKeys("sk-master")
	b.Attach(st, CacheOptions{Now: c.now, TouchInterval: time.Hour})
	key, rec := mint(t, st, KeyRecord{User: "alice"})
	for _, k := range []*Keys{a, b} {
		if _, err := k.Check(t.Context(), key); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Revoke(t.Context(), rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Check(t.Context(), key); !errors.Is(err, ErrBadKey) {
		t.Fatalf("the revoking replica: %v", err)
	}
	if _, err := b.Check(t.Context(), key); err != nil {
		t.Fatalf("before its poll the other replica serves from its cache (that is the bound being tested): %v", err)
	}
	n, err := b.DropRevoked(t.Context(), c.now().Add(-time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("DropRevoked = %d, %v", n, err)
	}
	if _, err := b.Check(t.Context(), key); !errors.Is(err, ErrBadKey) {
		t.Errorf("the other replica after its poll: %v, want ErrBadKey", err)
	}
	if n, _ := b.DropRevoked(t.Context(), c.now().Add(-time.Minute)); n != 0 {
		t.Errorf("a second poll dropped %d", n)
	}
}
