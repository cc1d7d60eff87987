package gateway

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/memproxy/memproxy/gateway/store"
)

// What one replica shares with the others, and what it does not, is listed
// in docs/deployment.md ("Running several replicas"). This file holds the
// replica's own upkeep: its heartbeat in an embedded database (so that a
// second gateway on the same SQLite file refuses to start), the poll that
// drops keys revoked elsewhere from the key cache, and the one that takes
// the router cooldowns other replicas announced (Redis).

// revocationMargin is how far back each poll looks for revocations: it
// covers the revoker's clock running behind this replica's.
const revocationMargin = time.Minute

// newReplicaID names this process in heartbeats (New claims the database
// with it: store.ClaimFile).
func newReplicaID() string { return rand.Text()[:12] }

// replicaUpkeep beats and polls every store.BeatInterval until ctx ends,
// then removes the heartbeat.
func (s *Server) replicaUpkeep(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(store.BeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			leave, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := s.claim.Leave(leave); err != nil {
				s.log.Warn("removing the replica heartbeat failed", "err", err)
			}
			return
		case <-t.C:
		}
		s.replicaTick(ctx)
	}
}

// replicaTick is one round of replicaUpkeep.
func (s *Server) replicaTick(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, store.BeatInterval)
	defer cancel()
	if err := s.claim.Beat(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("writing the replica heartbeat failed", "err", err)
	}
	if err := s.router.Sync(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("reading other replicas' cooldowns failed", "err", err)
	}
	if n, err := s.keys.DropRevoked(ctx, time.Now().Add(-revocationMargin)); err != nil && ctx.Err() == nil {
		s.log.Warn("listing revoked keys failed", "err", err)
	} else if n > 0 {
		s.log.Info("dropped keys revoked elsewhere from the key cache", "keys", n)
	}
}
