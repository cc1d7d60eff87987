package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/lexical"
)

// Supersede implements memory.Lifecycle in one BEGIN IMMEDIATE
// transaction: the old memory leaves the search index as it is marked.
func (s *DB) Supersede(ctx context.Context, sc memory.Scope, oldID, content string, o memory.AddOptions) (memory.Memory, error) {
	if err := memory.ValidateAddWith(sc, content, o); err != nil {
		return memory.Memory{}, err
	}
	if err := s.memoryIndex(ctx); err != nil {
		return memory.Memory{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return memory.Memory{}, fmt.Errorf("superseding memory: %w", err)
	}
	defer tx.Rollback()
	old, err := textVersion(ctx, tx, sc)
	if err != nil {
		return memory.Memory{}, fmt.Errorf("superseding memory: %w", err)
	}
	m, changed, err := supersede(ctx, tx, sc, oldID, content, o)
	if err != nil || !changed {
		return m, err
	}
	new, err := textVersion(ctx, tx, sc)
	if err != nil {
		return memory.Memory{}, fmt.Errorf("superseding memory: %w", err)
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT seq FROM memories WHERE scope = ? AND id = ?`, string(sc), m.ID).Scan(&seq); err != nil {
		return memory.Memory{}, fmt.Errorf("superseding memory: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return memory.Memory{}, fmt.Errorf("superseding memory: %w", err)
	}
	text := lexical.Text(content, o.Keys)
	s.lexical.Update(string(sc), old, new, func(ix *lexical.Index) {
		ix.Remove(oldID)
		ix.Add(m.ID, seq, text) // nothing when the target was already live
	})
	return m, nil
}

// supersede is Supersede's work inside tx; changed is false when nothing
// was written (content identical to the old memory's).
func supersede(ctx context.Context, tx *sql.Tx, sc memory.Scope, oldID, content string, o memory.AddOptions) (m memory.Memory, changed bool, err error) {
	var oldSeq int64
	var oldHash string
	var by sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT seq, hash, superseded_by FROM memories WHERE scope = ? AND id = ?`,
		string(sc), oldID).Scan(&oldSeq, &oldHash, &by)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return memory.Memory{}, false, memory.ErrNotFound
	case err != nil:
		return memory.Memory{}, false, fmt.Errorf("superseding memory: %w", err)
	case by.Valid:
		return memory.Memory{}, false, fmt.Errorf("%w: %s was superseded by %s", memory.ErrSuperseded, oldID, by.String)
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
		nm, _, err := insertMemory(ctx, tx, sc, content, o)
		if err != nil {
			return memory.Memory{}, false, fmt.Errorf("superseding memory: %w", err)
		}
		target = &nm
	}
	if _, err := tx.ExecContext(ctx, `UPDATE memories SET superseded_by = ?, valid_to_ns = ? WHERE seq = ? AND scope = ?`,
		target.ID, time.Now().UnixNano(), oldSeq, string(sc)); err != nil {
		return memory.Memory{}, false, fmt.Errorf("superseding memory: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM memories_search WHERE rowid = ?`, oldSeq); err != nil {
		return memory.Memory{}, false, fmt.Errorf("superseding memory: %w", err)
	}
	return *target, true, nil
}

// Update implements memory.Lifecycle as a Supersede (see its doc).
func (s *DB) Update(ctx context.Context, sc memory.Scope, id, content string) (memory.Memory, error) {
	old, err := s.Get(ctx, sc, id)
	if err != nil {
		return memory.Memory{}, err
	}
	return s.Supersede(ctx, sc, id, content, memory.EditOptions(old))
}

// historyMemories: ?1 scope, ?2 id, ?3 limit. fwd follows superseded_by
// from the memory to the newest version; back walks from every memory of
// fwd to all it replaced. UNION (not UNION ALL) stops at rows already seen,
// so even a cycle (which Supersede cannot make) ends. Every step stays in
// the scope.
const historyMemories = `WITH RECURSIVE
	fwd(id) AS (SELECT ?2
		UNION SELECT m.superseded_by FROM memories AS m JOIN fwd ON m.id = fwd.id
		WHERE m.scope = ?1 AND m.superseded_by IS NOT NULL),
	back(id) AS (SELECT id FROM fwd
		UNION SELECT m.id FROM memories AS m JOIN back ON m.superseded_by = back.id WHERE m.scope = ?1)
	SELECT ` + memoryColumns + ` FROM memories AS m
	WHERE m.scope = ?1 AND m.id IN (SELECT id FROM back)
	ORDER BY m.created_ns, m.id LIMIT ?3`

// History implements memory.Lifecycle.
func (s *DB) History(ctx context.Context, sc memory.Scope, id string) ([]memory.Memory, error) {
	if _, err := s.Get(ctx, sc, id); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, historyMemories, string(sc), id, memory.MaxHistory)
	if err != nil {
		return nil, fmt.Errorf("memory history: %w", err)
	}
	ms, err := scanMemories(rows, false)
	if err != nil {
		return nil, fmt.Errorf("memory history: %w", err)
	}
	return ms, nil
}
