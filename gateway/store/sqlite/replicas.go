package sqlite

import (
	"context"
	"fmt"
	"time"
)

// Replica is one gateway process using the database file, as its
// heartbeat row says.
type Replica struct {
	ID   string
	Host string
	PID  int
	Seen time.Time
}

// The heartbeat table is created on first use rather than by a migration:
// it holds nothing worth keeping across versions.
const replicasTable = `CREATE TABLE IF NOT EXISTS gateway_replicas (
	id      TEXT PRIMARY KEY,
	host    TEXT NOT NULL,
	pid     INTEGER NOT NULL,
	seen_ns INTEGER NOT NULL
)`

// Beat records that r is alive at r.Seen.
func (s *DB) Beat(ctx context.Context, r Replica) error {
	if _, err := s.db.ExecContext(ctx, replicasTable); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO gateway_replicas (id, host, pid, seen_ns) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET seen_ns = excluded.seen_ns`, r.ID, r.Host, r.PID, r.Seen.UnixNano()); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// Replicas lists the processes other than id whose heartbeat is at or
// after since, and forgets those older than it.
func (s *DB) Replicas(ctx context.Context, id string, since time.Time) ([]Replica, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM gateway_replicas WHERE seen_ns < ?`, since.UnixNano()); err != nil {
		return nil, fmt.Errorf("listing replicas: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, host, pid, seen_ns FROM gateway_replicas WHERE id <> ? ORDER BY seen_ns DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("listing replicas: %w", err)
	}
	defer rows.Close()
	var out []Replica
	for rows.Next() {
		var r Replica
		var ns int64
		if err := rows.Scan(&r.ID, &r.Host, &r.PID, &ns); err != nil {
			return nil, fmt.Errorf("listing replicas: %w", err)
		}
		r.Seen = time.Unix(0, ns).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Leave removes id's heartbeat (a clean shutdown), so that a process
// started at once after it is not taken for a second replica.
func (s *DB) Leave(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM gateway_replicas WHERE id = ?`, id); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}
