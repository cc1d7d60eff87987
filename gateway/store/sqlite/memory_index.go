package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/memproxy/memproxy/gateway/memory/lexical"
)

// ErrNoFTS5 is returned (wrapped) by the memory methods when the SQLite
// library was built without FTS5: go-sqlite3 needs the sqlite_fts5 build
// tag, which the Makefile sets. The rest of the store works without it.
var ErrNoFTS5 = errors.New("SQLite lacks FTS5 (build with -tags sqlite_fts5)")

// maxQueryTerms bounds the words of a search query that are looked up.
const maxQueryTerms = 32

// MemorySupported reports whether this build's SQLite can hold the memory
// index: nil, or an error wrapping ErrNoFTS5. It probes by creating an FTS5
// table in the connection's temporary schema.
func (s *DB) MemorySupported(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE VIRTUAL TABLE IF NOT EXISTS temp.memproxy_fts5_probe USING fts5(x)`); err != nil {
		return fmt.Errorf("%w: %v", ErrNoFTS5, err)
	}
	_, err = conn.ExecContext(ctx, `DROP TABLE temp.memproxy_fts5_probe`)
	return err
}

// createSearchIndex is the full-text index of active memories: content
// and keys (see memory.AddOptions.Keys), rowid = memories.seq. It is
// contentless (the text is in memories; BM25 needs only the index and the
// per-row sizes) with contentless_delete, so rows can be removed when a
// memory is superseded or deleted.
const createSearchIndex = `CREATE VIRTUAL TABLE memories_search USING fts5(content, keys,
	content = '', contentless_delete = 1, tokenize = 'porter unicode61')`

// memoryIndex makes sure memories_search exists: it is created on first use
// rather than by a migration (see migrations/0003_memory.sql), filled from
// the active memories in the same transaction. The index of earlier
// versions (memories_fts: content only, global row numbers) is dropped.
func (s *DB) memoryIndex(ctx context.Context) error {
	if s.memIndexReady.Load() {
		return nil
	}
	const exists = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'memories_search'`
	var n int
	if err := s.db.QueryRowContext(ctx, exists).Scan(&n); err != nil {
		return fmt.Errorf("memory index: %w", err)
	}
	if n > 0 {
		s.memIndexReady.Store(true)
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one creator at a time
	if err != nil {
		return fmt.Errorf("memory index: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, exists).Scan(&n); err != nil || n > 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, createSearchIndex); err != nil {
		if perr := s.MemorySupported(ctx); perr != nil {
			return perr
		}
		return fmt.Errorf("creating the memory index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO memories_search (rowid, content, keys)
		SELECT seq, content, keys FROM memories WHERE superseded_by IS NULL`); err != nil {
		return fmt.Errorf("filling the memory index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS memories_fts`); err != nil {
		return fmt.Errorf("dropping the old memory index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.memIndexReady.Store(true)
	return nil
}

// searchMemories ranks a scope's active memories by BM25 over content and
// keys (FTS5's rank, lower is better; Score is its negation), ties newest
// first. ?1 is the FTS5 query, ?2 the scope, ?3 the limit.
//
// The rowid range is the scope's (migration 0007): FTS5 seeks to it, so
// only the scope's matches are ranked. Ranking every scope's matches and
// then dropping the other scopes' rows (as the first version did) cost
// 3–5 ms per query at 3×10k memories; see docs/performance.md. The scope is
// checked again on the joined row.
const searchMemories = `SELECT ` + memoryColumns + `, -r.rank
	FROM (SELECT rowid AS seq, rank FROM memories_search
		WHERE memories_search MATCH ?1
		AND rowid BETWEEN (SELECT id << 32 FROM memory_scopes WHERE scope = ?2)
			AND (SELECT (id << 32) | 4294967295 FROM memory_scopes WHERE scope = ?2)
		ORDER BY rank, rowid DESC LIMIT ?3) AS r
	JOIN memories AS m ON m.seq = r.seq
	WHERE m.scope = ?2 AND m.superseded_by IS NULL
	ORDER BY r.rank, r.seq DESC`

// ftsQuery turns plain text into an FTS5 query that matches any of its
// words, or "" when it has none. Words are runs of letters, digits and
// marks; everything else (quotes, '*', '^', ':', '-', '+', parentheses,
// braces) separates them and so never reaches FTS5 as syntax. English stop
// words are dropped, as PostgreSQL's english configuration does, so that
// "how do I …" does not match every memory holding "do". Each word is a
// quoted string, so AND, OR, NOT and NEAR are words too (NOT is also a
// stop word), and the words are joined with OR. The tokenizer then treats
// a quoted word like the indexed text (case folding, diacritics, Porter
// stemming).
func ftsQuery(text string) string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r)
	})
	seen := make(map[string]bool, len(words))
	var terms []string
	for _, w := range words {
		k := strings.ToLower(w)
		if seen[k] || lexical.IsStopWord(k) || !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) {
			continue
		}
		seen[k] = true
		// A word holds no '"'; doubling them keeps this safe if the word
		// rule ever changes.
		terms = append(terms, `"`+strings.ReplaceAll(w, `"`, `""`)+`"`)
		if len(terms) == maxQueryTerms {
			break
		}
	}
	return strings.Join(terms, " OR ")
}
