package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
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
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("storing memory vector: %w", err)
	}
	defer tx.Rollback(ctx)
	insert, args := `INSERT INTO memory_vectors (id, scope, model, dims, vec)
		SELECT id, scope, $3, $4, $5 FROM memories WHERE scope = $1 AND id = $2
		ON CONFLICT (id) DO UPDATE SET model = excluded.model, dims = excluded.dims, vec = excluded.vec`,
		[]any{string(sc), id, model, len(v), blob}
	if s.pgv != nil { // the pgvector copy too (memory_pgvector.go)
		if err := s.ensureHNSW(context.WithoutCancel(ctx), len(v)); err != nil {
			return fmt.Errorf("storing memory vector: %w", err)
		}
		insert = `INSERT INTO memory_vectors (id, scope, model, dims, vec, emb)
		SELECT id, scope, $3, $4, $5, $6::` + s.pgv.schema + `.vector FROM memories WHERE scope = $1 AND id = $2
		ON CONFLICT (id) DO UPDATE SET model = excluded.model, dims = excluded.dims, vec = excluded.vec, emb = excluded.emb`
		args = append(args, vectorText(v))
	}
	tag, err := tx.Exec(ctx, insert, args...)
	if err != nil {
		return fmt.Errorf("storing memory vector: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return memory.ErrNotFound
	}
	// The row's trigger (migration 0009) bumped the scope's version once
	// and holds its row lock until commit, so no other change falls
	// between new-1 and new. (Locking the version row before the insert
	// would take the locks in the opposite order to Delete's.)
	var new int64
	if err := tx.QueryRow(ctx, `SELECT version FROM memory_vector_scopes WHERE scope = $1`, string(sc)).Scan(&new); err != nil {
		return fmt.Errorf("storing memory vector: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("storing memory vector: %w", err)
	}
	s.vectors.Put1(vecscan.Key{Scope: string(sc), Model: model, Dims: len(v)}, new-1, new, id, blob)
	return nil
}

// SearchVectors implements memory.Vectors: a scan in Go over the scope's
// vectors, kept decoded in s.vectors until the scope's version moves, or
// with pgvector installed an HNSW search in PostgreSQL (searchPgvector).
func (s *DB) SearchVectors(ctx context.Context, sc memory.Scope, model string, q []float32, limit int, minScore float64) ([]memory.Memory, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if len(q) == 0 || model == "" {
		return nil, nil
	}
	if s.pgv != nil {
		return s.searchPgvector(ctx, sc, model, q, limit, minScore)
	}
	set, err := s.vectorSet(ctx, vecscan.Key{Scope: string(sc), Model: model, Dims: len(q)})
	if err != nil || set == nil {
		return nil, err
	}
	hits := set.Nearest(q, memory.ClampLimit(limit), minScore)
	if len(hits) == 0 {
		return nil, nil
	}
	return s.activeByHits(ctx, sc, hits)
}

// activeByHits reads the active memories of sc among hits, in hits'
// order, with Score the hit's.
func (s *DB) activeByHits(ctx context.Context, sc memory.Scope, hits []recall.Hit) ([]memory.Memory, error) {
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	rows, err := s.pool.Query(ctx, `SELECT `+memoryColumns+` FROM memories AS m
		WHERE m.scope = $1 AND m.id = ANY($2) AND m.superseded_by IS NULL`, string(sc), ids)
	if err != nil {
		return nil, fmt.Errorf("reading the memories found: %w", err)
	}
	ms, err := collectMemories(rows, false)
	if err != nil {
		return nil, fmt.Errorf("reading the memories found: %w", err)
	}
	return vecscan.InHitOrder(ms, hits), nil
}

// vectorSet returns the scope's vectors of k's model and size, from the
// cache when the scope's version has not moved; nil when it has none.
func (s *DB) vectorSet(ctx context.Context, k vecscan.Key) (*vecscan.Set, error) {
	var version int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM memory_vector_scopes WHERE scope = $1`, k.Scope).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("searching memory vectors: %w", err)
	}
	if set, ok := s.vectors.Get(k, version); ok {
		return set, nil
	}
	// REPEATABLE READ: the version and the rows are read in one snapshot.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("searching memory vectors: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := tx.QueryRow(ctx, `SELECT version FROM memory_vector_scopes WHERE scope = $1`, k.Scope).Scan(&version); err != nil {
		return nil, fmt.Errorf("searching memory vectors: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT v.id, v.vec FROM memory_vectors AS v JOIN memories AS m ON m.id = v.id
		WHERE v.scope = $1 AND v.model = $2 AND v.dims = $3 AND m.scope = $1 AND m.superseded_by IS NULL`,
		k.Scope, k.Model, k.Dims)
	if err != nil {
		return nil, fmt.Errorf("searching memory vectors: %w", err)
	}
	set := &vecscan.Set{Version: version}
	var id string
	var blob []byte
	if _, err := pgx.ForEachRow(rows, []any{&id, &blob}, func() error { set.Add(id, blob, k.Dims); return nil }); err != nil {
		return nil, fmt.Errorf("searching memory vectors: %w", err)
	}
	s.vectors.Put(k, set)
	return set, nil
}

// MissingVectors implements memory.Vectors, by scope, then age. NOT IN
// (ids are never NULL) is planned as one hashed pass over the model's
// vectors whatever the statistics say; NOT EXISTS, right after a bulk
// load, was planned as a scan of memory_vectors per memory.
func (s *DB) MissingVectors(ctx context.Context, model string, dims, limit int) ([]memory.Unembedded, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+memoryColumns+`, m.scope FROM memories AS m
		WHERE m.superseded_by IS NULL AND m.id NOT IN (
			SELECT v.id FROM memory_vectors AS v WHERE v.model = $1 AND v.dims = $2)
		ORDER BY m.scope, m.created_at, m.id LIMIT $3`, model, dims, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("listing memories without vectors: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (memory.Unembedded, error) {
		var u memory.Unembedded
		var scope string
		err := scanMemory(row, &u.Memory, &scope)
		u.Scope = memory.Scope(scope)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing memories without vectors: %w", err)
	}
	return out, nil
}

// CountMissingVectors counts what MissingVectors would list without a
// limit (for reindex's progress).
func (s *DB) CountMissingVectors(ctx context.Context, model string, dims int) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM memories AS m WHERE m.superseded_by IS NULL AND m.id NOT IN (
			SELECT v.id FROM memory_vectors AS v WHERE v.model = $1 AND v.dims = $2)`, model, dims).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting memories without vectors: %w", err)
	}
	return n, nil
}
