package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/lexical"
)

// Search ranks with the scope's in-process index (gateway/memory/lexical:
// BM25 over the scope's own statistics, the same analysis as the SQLite
// store's, so both rank alike), kept in s.lexical and caught up with the
// table (refreshLexical), or rebuilt (loadLexical), when the scope's
// version in memory_text_scopes (migration 0010, kept by triggers) moves
// for a write this process did not make: another replica's. The tsvector
// search (searchMemories) stays for scopes whose index does not fit the
// cache's budget or is still being built.

// searchIndexed returns the scope's best memories for terms from its
// index; fallback is set when the scope has no index (too large, or not
// built within the search's patience).
func (s *DB) searchIndexed(ctx context.Context, sc memory.Scope, terms []string, limit int) (ms []memory.Memory, fallback bool, err error) {
	var version int64
	err = s.pool.QueryRow(ctx, `SELECT version FROM memory_text_scopes WHERE scope = $1`, string(sc)).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil // the scope never held a memory
	}
	if err != nil {
		return nil, false, fmt.Errorf("searching memories: %w", err)
	}
	rh, fallback, err := s.lexical.Find(ctx, string(sc), version,
		func(ctx context.Context, bd *lexical.Builder) (int64, error) { return s.loadLexical(ctx, sc, bd) },
		func(ctx context.Context, has func(string) bool) (lexical.Snapshot, error) {
			return s.refreshLexical(ctx, sc, has)
		}, terms, limit)
	if err != nil || fallback || len(rh) == 0 {
		return nil, fallback, err
	}
	ms, err = s.activeByHits(ctx, sc, rh)
	return ms, false, err
}

// loadLexical reads the scope's active memories into bd in one snapshot
// (REPEATABLE READ), and returns the version they are at.
func (s *DB) loadLexical(ctx context.Context, sc memory.Scope, bd *lexical.Builder) (int64, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, fmt.Errorf("indexing memories: %w", err)
	}
	defer tx.Rollback(ctx)
	var version int64
	if err := tx.QueryRow(ctx, `SELECT version FROM memory_text_scopes WHERE scope = $1`, string(sc)).Scan(&version); err != nil {
		return 0, fmt.Errorf("indexing memories: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT id, content, keys, created_at FROM memories
		WHERE scope = $1 AND superseded_by IS NULL ORDER BY created_at, id`, string(sc))
	if err != nil {
		return 0, fmt.Errorf("indexing memories: %w", err)
	}
	var id, content, keys string
	var at time.Time
	var tooLarge error
	_, err = pgx.ForEachRow(rows, []any{&id, &content, &keys, &at}, func() error {
		tooLarge = bd.Add(id, at.UnixNano(), lexical.Text(content, keys))
		return tooLarge
	})
	if tooLarge != nil {
		return version, tooLarge
	}
	if err != nil {
		return 0, fmt.Errorf("indexing memories: %w", err)
	}
	return version, nil
}

// refreshLexical reads, in one snapshot, the scope's version, the ids of
// its active memories, and those of them has does not know (see
// lexical.Refresher).
func (s *DB) refreshLexical(ctx context.Context, sc memory.Scope, has func(string) bool) (lexical.Snapshot, error) {
	snap := lexical.Snapshot{Live: map[string]bool{}}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return snap, fmt.Errorf("refreshing the memory index: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := tx.QueryRow(ctx, `SELECT version FROM memory_text_scopes WHERE scope = $1`, string(sc)).Scan(&snap.Version); err != nil {
		return snap, fmt.Errorf("refreshing the memory index: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT id FROM memories WHERE scope = $1 AND superseded_by IS NULL`, string(sc))
	if err != nil {
		return snap, fmt.Errorf("refreshing the memory index: %w", err)
	}
	var id string
	var missing []string
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error {
		snap.Live[id] = true
		if !has(id) {
			missing = append(missing, id)
		}
		return nil
	}); err != nil {
		return snap, fmt.Errorf("refreshing the memory index: %w", err)
	}
	if lexical.TooStale(len(missing), len(snap.Live)) {
		return snap, lexical.ErrTooStale
	}
	if len(missing) == 0 {
		return snap, nil
	}
	rows, err = tx.Query(ctx, `SELECT id, content, keys, created_at FROM memories
		WHERE scope = $1 AND id = ANY($2)`, string(sc), missing)
	if err != nil {
		return snap, fmt.Errorf("refreshing the memory index: %w", err)
	}
	var content, keys string
	var at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&id, &content, &keys, &at}, func() error {
		snap.Missing = append(snap.Missing, lexical.Doc{ID: id, Order: at.UnixNano(), Text: lexical.Text(content, keys)})
		return nil
	}); err != nil {
		return snap, fmt.Errorf("refreshing the memory index: %w", err)
	}
	return snap, nil
}

// textVersion reads sc's version inside tx, after tx's own writes: the
// first of them locked the row until commit, so the bumps since the
// version before them are all tx's.
func textVersion(ctx context.Context, tx pgx.Tx, sc memory.Scope) (int64, error) {
	var v int64
	err := tx.QueryRow(ctx, `SELECT version FROM memory_text_scopes WHERE scope = $1`, string(sc)).Scan(&v)
	return v, err
}
