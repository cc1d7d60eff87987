package auth

import (
	"context"
	"time"
)

// RevocationLister is a KeyStore that lists recent revocations, so that a
// process can drop from its cache the keys another process (a replica, the
// CLI) revoked, instead of trusting them until the positive TTL ends.
type RevocationLister interface {
	// RevokedSince returns the ids of the keys revoked at or after since
	// (by the revoker's clock).
	RevokedSince(ctx context.Context, since time.Time) ([]string, error)
}

// DropRevoked asks the attached store for the keys revoked since since and
// drops them from the cache: the next request with one of them asks the
// store, which refuses it. Called every few seconds by every replica, it
// bounds how long a revoked key keeps working anywhere to that interval
// (plus the revoker's clock skew beyond since's margin). It returns how
// many of them were cached; without a store, or with one that cannot list
// revocations, it does nothing.
func (k *Keys) DropRevoked(ctx context.Context, since time.Time) (int, error) {
	sk := k.stored.Load()
	if sk == nil {
		return 0, nil
	}
	rl, ok := sk.ks.(RevocationLister)
	if !ok {
		return 0, nil
	}
	ids, err := rl.RevokedSince(ctx, since)
	if err != nil {
		return 0, err
	}
	return sk.forget(ids), nil
}

// forget drops the cached keys among ids, the revocations of the last
// poll's window. A revocation not seen before also turns gen, so that a
// lookup that read the key before it was revoked does not cache it.
func (s *storeKeys) forget(ids []string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]struct{}, len(ids))
	dropped := 0
	for _, id := range ids {
		seen[id] = struct{}{}
		if _, old := s.revoked[id]; !old {
			s.gen++
		}
		if h, ok := s.ids[id]; ok {
			s.dropPos(h)
			dropped++
		}
	}
	s.revoked = seen
	return dropped
}
