package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/recall"
	"github.com/memproxy/memproxy/gateway/store/vecscan"
)

var _ memory.Vectors = (*DB)(nil)

// PutVector implements memory.Vectors: the vector is kept int8-quantised
// in memory_vectors (migration 0009), and added to the scope's cached
// copy when that is current.
func (s *DB) PutVector(ctx context.Context, sc memory.Scope, id, model string, v []float32) error {
	if err := memory.ValidateVector(sc, model, v); err != nil {
		return err
	}
	blob := recall.Quantize(v).Bytes()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storing memory vector: %w", err)
	}
	defer tx.Rollback()
	var old, new int64
	version := `SELECT vec_version FROM memory_scopes WHERE scope = ?`
	if err := tx.QueryRowContext(ctx, version, string(sc)).Scan(&old); errors.Is(err, sql.ErrNoRows) {
		return memory.ErrNotFound // no memory of the scope at all
	} else if err != nil {
		return fmt.Errorf("storing memory vector: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO memory_vectors (seq, model, dims, vec)
		SELECT seq, ?, ?, ? FROM memories WHERE scope = ? AND id = ?
		ON CONFLICT (seq) DO UPDATE SET model = excluded.model, dims = excluded.dims, vec = excluded.vec`,
		model, len(v), blob, string(sc), id)
	if err != nil {
		return fmt.Errorf("storing memory vector: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("storing memory vector: %w", err)
	} else if n == 0 {
		return memory.ErrNotFound
	}
	if err := tx.QueryRowContext(ctx, version, string(sc)).Scan(&new); err != nil {
		return fmt.Errorf("storing memory vector: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storing memory vector: %w", err)
	}
	s.vectors.Put1(vecscan.Key{Scope: string(sc), Model: model, Dims: len(v)}, old, new, id, blob)
	return nil
}

// SearchVectors implements memory.Vectors: a scan in Go over the scope's
// vectors, kept decoded in s.vectors between writes.
func (s *DB) SearchVectors(ctx context.Context, sc memory.Scope, model string, q []float32, limit int, minScore float64) ([]memory.Memory, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if len(q) == 0 || model == "" {
		return nil, nil
	}
	set, err := s.vectorSet(ctx, vecscan.Key{Scope: string(sc), Model: model, Dims: len(q)})
	if err != nil || set == nil {
		return nil, err
	}
	hits := set.Nearest(q, memory.ClampLimit(limit), minScore)
	if len(hits) == 0 {
		return nil, nil
	}
	return s.activeByIDs(ctx, sc, hits)
}

// vectorSet returns the scope's vectors of k's model and size, from the
// cache when the scope's vec_version has not moved; nil when the scope has
// no memories.
func (s *DB) vectorSet(ctx context.Context, k vecscan.Key) (*vecscan.Set, error) {
	quick, err := boundedCtx(ctx)
	if err != nil {
		return nil, err
	}
	var scopeID, version int64
	err = s.db.QueryRowContext(quick, `SELECT id, vec_version FROM memory_scopes WHERE scope = ?`, k.Scope).Scan(&scopeID, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("searching memory vectors: %w", err)
	}
	if set, ok := s.vectors.Get(k, version); ok {
		return set, nil
	}
	// One transaction: the version and the rows are read at one point.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("searching memory vectors: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT vec_version FROM memory_scopes WHERE id = ?`, scopeID).Scan(&version); err != nil {
		return nil, fmt.Errorf("searching memory vectors: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT m.id, v.vec FROM memory_vectors AS v JOIN memories AS m ON m.seq = v.seq
		WHERE v.seq BETWEEN ? AND ? AND v.model = ? AND v.dims = ? AND m.superseded_by IS NULL`,
		scopeID<<32, scopeID<<32|0xFFFFFFFF, k.Model, k.Dims)
	if err != nil {
		return nil, fmt.Errorf("searching memory vectors: %w", err)
	}
	defer rows.Close()
	set := &vecscan.Set{Version: version}
	for rows.Next() {
		var id string
		var blob []byte
		if err := rows.Scan(&id, &blob); err != nil {
			return nil, fmt.Errorf("searching memory vectors: %w", err)
		}
		set.Add(id, blob, k.Dims)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("searching memory vectors: %w", err)
	}
	s.vectors.Put(k, set)
	return set, nil
}

// activeByIDs reads the active memories of sc among hits, in hits' order,
// with Score the hit's (uncancelled once begun: see boundedCtx). The
// unary + keeps SQLite from reading the ids through the scope's index
// (every memory of the scope) rather than the unique id index (a row
// each); the scope is still checked on each row.
func (s *DB) activeByIDs(ctx context.Context, sc memory.Scope, hits []recall.Hit) ([]memory.Memory, error) {
	quick, err := boundedCtx(ctx)
	if err != nil {
		return nil, err
	}
	args := []any{string(sc)}
	for _, h := range hits {
		args = append(args, h.ID)
	}
	rows, err := s.db.QueryContext(quick, `SELECT `+memoryColumns+` FROM memories AS m
		WHERE +m.scope = ? AND m.superseded_by IS NULL AND m.id IN (?`+strings.Repeat(", ?", len(hits)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading the memories found: %w", err)
	}
	ms, err := scanMemories(rows, false)
	if err != nil {
		return nil, fmt.Errorf("reading the memories found: %w", err)
	}
	return vecscan.InHitOrder(ms, hits), nil
}

// MissingVectors implements memory.Vectors, in seq order (by scope, then
// age).
func (s *DB) MissingVectors(ctx context.Context, model string, dims, limit int) ([]memory.Unembedded, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+memoryColumns+`, m.scope FROM memories AS m
		LEFT JOIN memory_vectors AS v ON v.seq = m.seq AND v.model = ? AND v.dims = ?
		WHERE v.seq IS NULL AND m.superseded_by IS NULL ORDER BY m.seq LIMIT ?`, model, dims, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("listing memories without vectors: %w", err)
	}
	defer rows.Close()
	var out []memory.Unembedded
	for rows.Next() {
		var u memory.Unembedded
		var scope string
		if err := scanMemory(rows, &u.Memory, &scope); err != nil {
			return nil, fmt.Errorf("listing memories without vectors: %w", err)
		}
		u.Scope = memory.Scope(scope)
		out = append(out, u)
	}
	return out, rows.Err()
}

// CountMissingVectors counts what MissingVectors would list without a
// limit (for reindex's progress).
func (s *DB) CountMissingVectors(ctx context.Context, model string, dims int) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM memories AS m
		LEFT JOIN memory_vectors AS v ON v.seq = m.seq AND v.model = ? AND v.dims = ?
		WHERE v.seq IS NULL AND m.superseded_by IS NULL`, model, dims).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting memories without vectors: %w", err)
	}
	return n, nil
}
