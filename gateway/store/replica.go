package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/memproxy/memproxy/gateway/store/sqlite"
)

// Heartbeat timing on the embedded database: a replica writes its row
// every BeatInterval; a row younger than BeatFresh is a live replica.
const (
	BeatInterval = 2 * time.Second
	BeatFresh    = 5 * BeatInterval
)

// ErrShared is returned by Claim when another live gateway uses the same
// embedded database file.
var ErrShared = errors.New("another gateway is using this SQLite database")

// Claim is a gateway's heartbeat in the database. On PostgreSQL, which
// any number of replicas share, it does nothing.
type Claim struct {
	db *sqlite.DB
	me sqlite.Replica
}

// ClaimFile writes this process's heartbeat (id, host, pid) into an
// embedded database and refuses (ErrShared) when another gateway's is
// fresh: SQLite serves one process's writers well, not several replicas
// (each would keep its own memory index and journal, and lock the file
// against the others). A fresh heartbeat of a process on this host that
// no longer exists (killed without a clean stop) is not in the way.
//
// Any other error (the file is locked, say) comes with a usable Claim:
// the caller may go on, and the next Beat tries again.
func ClaimFile(ctx context.Context, db DB, id string) (*Claim, error) {
	sq, ok := db.(*sqlite.DB)
	if !ok {
		return &Claim{}, nil
	}
	host, _ := os.Hostname()
	c := &Claim{db: sq, me: sqlite.Replica{ID: id, Host: host, PID: os.Getpid()}}
	if err := c.Beat(ctx); err != nil {
		return c, fmt.Errorf("checking for another gateway on %s: %w", sq.Describe(), err)
	}
	others, err := sq.Replicas(ctx, id, time.Now().Add(-BeatFresh))
	if err != nil {
		return c, fmt.Errorf("checking for another gateway on %s: %w", sq.Describe(), err)
	}
	for _, o := range others {
		if o.Host == host && !processAlive(o.PID) {
			continue
		}
		_ = sq.Leave(ctx, id)
		return nil, fmt.Errorf("%w (%s): a gateway on host %s (pid %d) wrote its heartbeat %s ago; "+
			"several replicas need PostgreSQL (general_settings.database_url: postgres://…), "+
			"or give each gateway its own --data-dir",
			ErrShared, sq.Describe(), o.Host, o.PID, time.Since(o.Seen).Round(time.Second))
	}
	return c, nil
}

// Beat renews the heartbeat; call it every BeatInterval.
func (c *Claim) Beat(ctx context.Context) error {
	if c == nil || c.db == nil {
		return nil
	}
	c.me.Seen = time.Now()
	return c.db.Beat(ctx, c.me)
}

// Leave removes the heartbeat; call it at a clean stop.
func (c *Claim) Leave(ctx context.Context) error {
	if c == nil || c.db == nil {
		return nil
	}
	return c.db.Leave(ctx, c.me.ID)
}
