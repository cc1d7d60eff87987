package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/lexical"
)

// Supersede implements memory.Lifecycle in one transaction that first
// locks the old row (FOR UPDATE), so two Supersedes of one memory take
// turns and the second finds it superseded.
func (s *DB) Supersede(ctx context.Context, sc memory.Scope, oldID, content string, o memory.AddOptions) (memory.Memory, error) {
	if err := memory.ValidateAddWith(sc, content, o); err != nil {
		return memory.Memory{}, err
	}
	if !storable(oldID) {
		return memory.Memory{}, memory.ErrNotFound
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return memory.Memory{}, fmt.Errorf("superseding memory: %w", err)
	}
	defer tx.Rollback(ctx) // a no-op once committed
	m, inserted, err := supersede(ctx, tx, sc, oldID, content, o)
	if err != nil {
		return memory.Memory{}, err
	}
	if m.ID == oldID { // the old memory itself: nothing written
		return m, tx.Commit(ctx)
	}
	new, err := textVersion(ctx, tx, sc)
	if err != nil {
		return memory.Memory{}, fmt.Errorf("superseding memory: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return memory.Memory{}, fmt.Errorf("superseding memory: %w", err)
	}
	bumps := int64(1) // the old memory marked superseded
	if inserted {
		bumps++
	}
	text := lexical.Text(content, o.Keys)
	s.lexical.Update(string(sc), new-bumps, new, func(ix *lexical.Index) {
		ix.Remove(oldID)
		ix.Add(m.ID, m.CreatedAt.UnixNano(), text) // nothing when m was already live
	})
	return m, nil
}

// supersede is Supersede's work inside tx; inserted is set when it added
// the new content as a memory (rather than finding it active already).
func supersede(ctx context.Context, tx pgx.Tx, sc memory.Scope, oldID, content string, o memory.AddOptions) (m memory.Memory, inserted bool, err error) {
	var oldHash string
	var by *string
	err = tx.QueryRow(ctx, `SELECT hash, superseded_by FROM memories WHERE scope = $1 AND id = $2 FOR UPDATE`,
		string(sc), oldID).Scan(&oldHash, &by)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return memory.Memory{}, false, memory.ErrNotFound
	case err != nil:
		return memory.Memory{}, false, fmt.Errorf("superseding memory: %w", err)
	case by != nil:
		return memory.Memory{}, false, fmt.Errorf("%w: %s was superseded by %s", memory.ErrSuperseded, oldID, *by)
	}
	hash := memory.ContentHash(content)
	target, err := activeByHash(ctx, tx, sc, hash)
	if err != nil {
		return memory.Memory{}, false, fmt.Errorf("superseding memory: %w", err)
	}
	if hash == oldHash && target != nil {
		return *target, false, nil // the old memory itself: nothing changes
	}
	if target == nil {
		nm, err := insertMemory(ctx, tx, sc, content, o)
		if errors.Is(err, pgx.ErrNoRows) {
			// A concurrent Add committed the content meanwhile: that memory
			// is the new version (read committed: this statement sees it).
			target, err = activeByHash(ctx, tx, sc, hash)
			if err == nil && target == nil {
				err = errors.New("the new content's row vanished")
			}
		} else if err == nil {
			target, inserted = &nm, true
		}
		if err != nil {
			return memory.Memory{}, false, fmt.Errorf("superseding memory: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE memories SET superseded_by = $3, valid_to = clock_timestamp() WHERE scope = $1 AND id = $2`,
		string(sc), oldID, target.ID); err != nil {
		return memory.Memory{}, false, fmt.Errorf("superseding memory: %w", err)
	}
	return *target, inserted, nil
}

// Update implements memory.Lifecycle as a Supersede (see its doc).
func (s *DB) Update(ctx context.Context, sc memory.Scope, id, content string) (memory.Memory, error) {
	old, err := s.Get(ctx, sc, id)
	if err != nil {
		return memory.Memory{}, err
	}
	return s.Supersede(ctx, sc, id, content, memory.EditOptions(old))
}

// historyMemories: $1 scope, $2 id, $3 limit. fwd follows superseded_by
// from the memory to the newest version; back walks from every memory of
// fwd to all it replaced. UNION (not UNION ALL) stops at rows already seen,
// so even a cycle (which Supersede cannot make) ends. Every step stays in
// the scope.
const historyMemories = `WITH RECURSIVE
	fwd(id) AS (SELECT $2::text COLLATE "C"
		UNION SELECT m.superseded_by FROM memories AS m JOIN fwd ON m.id = fwd.id
		WHERE m.scope = $1 AND m.superseded_by IS NOT NULL),
	back(id) AS (SELECT id FROM fwd
		UNION SELECT m.id FROM memories AS m JOIN back ON m.superseded_by = back.id WHERE m.scope = $1)
	SELECT ` + memoryColumns + ` FROM memories AS m
	WHERE m.scope = $1 AND m.id IN (SELECT id FROM back)
	ORDER BY m.created_at, m.id LIMIT $3`

// History implements memory.Lifecycle.
func (s *DB) History(ctx context.Context, sc memory.Scope, id string) ([]memory.Memory, error) {
	if _, err := s.Get(ctx, sc, id); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, historyMemories, string(sc), id, memory.MaxHistory)
	if err != nil {
		return nil, fmt.Errorf("memory history: %w", err)
	}
	ms, err := collectMemories(rows, false)
	if err != nil {
		return nil, fmt.Errorf("memory history: %w", err)
	}
	return ms, nil
}
