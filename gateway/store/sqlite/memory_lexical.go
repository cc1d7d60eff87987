package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/lexical"
)

// Search ranks with the scope's in-process index (gateway/memory/lexical:
// BM25 over the scope's own statistics, kept in s.lexical), which is
// caught up with the memories table (refreshLexical), or rebuilt from it
// (loadLexical), when the scope's text_version (migration 0010, kept by
// triggers) moves for a write this process did not make. FTS5 stays for
// the scopes whose index does not fit the cache's budget or is still
// being built (searchFTS), and is kept up to date for them.

// searchIndexed returns the scope's best memories for terms from its
// index; fallback is set when the scope has no index (too large, or not
// built within the search's patience), so that FTS5 must answer.
func (s *DB) searchIndexed(ctx context.Context, sc memory.Scope, terms []string, limit int) (ms []memory.Memory, fallback bool, err error) {
	quick, err := boundedCtx(ctx)
	if err != nil {
		return nil, false, err
	}
	var scopeID, version int64
	err = s.db.QueryRowContext(quick, `SELECT id, text_version FROM memory_scopes WHERE scope = ?`, string(sc)).Scan(&scopeID, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil // the scope never held a memory
	}
	if err != nil {
		return nil, false, fmt.Errorf("searching memories: %w", err)
	}
	rh, fallback, err := s.lexical.Find(ctx, string(sc), version,
		func(ctx context.Context, bd *lexical.Builder) (int64, error) {
			return s.loadLexical(ctx, sc, scopeID, bd)
		},
		func(ctx context.Context, has func(string) bool) (lexical.Snapshot, error) {
			return s.refreshLexical(ctx, sc, scopeID, has)
		}, terms, limit)
	if err != nil || fallback || len(rh) == 0 {
		return nil, fallback, err
	}
	ms, err = s.activeByIDs(ctx, sc, rh)
	return ms, false, err
}

// loadLexical reads the scope's active memories into bd in one read
// transaction, and returns the text_version they are at. It runs
// detached from any search (see lexical.Cache.Index) and without
// cancellation: go-sqlite3 would watch a cancellable context with a
// goroutine for each of the scope's rows, which tripled the cost.
func (s *DB) loadLexical(ctx context.Context, sc memory.Scope, scopeID int64, bd *lexical.Builder) (int64, error) {
	ctx = context.WithoutCancel(ctx)
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("indexing memories: %w", err)
	}
	defer tx.Rollback()
	var version int64
	if err := tx.QueryRowContext(ctx, `SELECT text_version FROM memory_scopes WHERE id = ?`, scopeID).Scan(&version); err != nil {
		return 0, fmt.Errorf("indexing memories: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, id, content, keys FROM memories
		WHERE seq BETWEEN ? AND ? AND scope = ? AND superseded_by IS NULL ORDER BY seq`,
		scopeID<<32, scopeID<<32|0xFFFFFFFF, string(sc))
	if err != nil {
		return 0, fmt.Errorf("indexing memories: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var id, content, keys string
		if err := rows.Scan(&seq, &id, &content, &keys); err != nil {
			return 0, fmt.Errorf("indexing memories: %w", err)
		}
		if err := bd.Add(id, seq, lexical.Text(content, keys)); err != nil {
			return version, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("indexing memories: %w", err)
	}
	return version, nil
}

// boundedCtx returns ctx without its cancellation, for a statement that
// reads at most MaxLimit rows through a unique index: go-sqlite3 watches a
// cancellable context with a goroutine for every row step, which cost a
// search of ten rows about 40 µs of CPU (a quarter of it), more than the
// statement itself. Such a statement ends well within a millisecond, so
// ctx is only checked before it.
func boundedCtx(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// refreshLexical reads, in one read transaction, the scope's text
// version, the ids of its active memories, and those of them has does
// not know (see lexical.Refresher); without cancellation, as
// loadLexical.
func (s *DB) refreshLexical(ctx context.Context, sc memory.Scope, scopeID int64, has func(string) bool) (lexical.Snapshot, error) {
	ctx = context.WithoutCancel(ctx)
	snap := lexical.Snapshot{Live: map[string]bool{}}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return snap, fmt.Errorf("refreshing the memory index: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT text_version FROM memory_scopes WHERE id = ?`, scopeID).Scan(&snap.Version); err != nil {
		return snap, fmt.Errorf("refreshing the memory index: %w", err)
	}
	lo, hi := scopeID<<32, scopeID<<32|0xFFFFFFFF
	// By the covering index memories_active_ids (migration 0010): the
	// rows themselves (and their text) are not read.
	rows, err := tx.QueryContext(ctx, `SELECT id FROM memories INDEXED BY memories_active_ids
		WHERE scope = ? AND superseded_by IS NULL`, string(sc))
	if err != nil {
		return snap, fmt.Errorf("refreshing the memory index: %w", err)
	}
	var missing []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return snap, fmt.Errorf("refreshing the memory index: %w", err)
		}
		snap.Live[id] = true
		if !has(id) {
			missing = append(missing, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("refreshing the memory index: %w", err)
	}
	if lexical.TooStale(len(missing), len(snap.Live)) {
		return snap, lexical.ErrTooStale
	}
	for len(missing) > 0 {
		part := missing[:min(len(missing), 500)]
		missing = missing[len(part):]
		rows, err := tx.QueryContext(ctx, `SELECT seq, id, content, keys FROM memories
			WHERE seq BETWEEN ? AND ? AND scope = ? AND id IN (?`+strings.Repeat(", ?", len(part)-1)+`)`,
			append([]any{lo, hi, string(sc)}, part...)...)
		if err != nil {
			return snap, fmt.Errorf("refreshing the memory index: %w", err)
		}
		for rows.Next() {
			var d lexical.Doc
			var content, keys string
			if err := rows.Scan(&d.Order, &d.ID, &content, &keys); err != nil {
				rows.Close()
				return snap, fmt.Errorf("refreshing the memory index: %w", err)
			}
			d.Text = lexical.Text(content, keys)
			snap.Missing = append(snap.Missing, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return snap, fmt.Errorf("refreshing the memory index: %w", err)
		}
	}
	return snap, nil
}

// textVersion reads sc's text_version inside tx; -1 when the scope is
// not registered yet (its first memory registers it at 0).
func textVersion(ctx context.Context, tx *sql.Tx, sc memory.Scope) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `SELECT text_version FROM memory_scopes WHERE scope = ?`, string(sc)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return -1, nil
	}
	return v, err
}
