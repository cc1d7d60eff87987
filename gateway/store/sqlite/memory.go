package sqlite

// The memory backend on the gateway's SQLite file ("local" memory): rows in
// memories (migration 0003), ranked by an FTS5 index with BM25.
//
// Scope isolation is in the SQL: every statement that reads or changes a
// memory carries "scope = ?" in its WHERE clause, the scope a placeholder
// argument like every other value. One thing crosses scopes by design of
// FTS5: BM25's inverse document frequencies are computed over the whole
// index, so a score (never a row, a text or a count) depends slightly on
// how common a word is in other scopes. Callers should not show raw
// scores to users.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
	"unicode"

	"github.com/memproxy/memproxy/gateway/memory"
)

var _ memory.Backend = (*DB)(nil)

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

// memoryIndex makes sure memories_fts exists: it is created on first use
// rather than by a migration (see migrations/0003_memory.sql), filled from
// memories in the same transaction.
func (s *DB) memoryIndex(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'memories_fts'`).Scan(&n); err != nil {
		return fmt.Errorf("memory index: %w", err)
	}
	if n > 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one creator at a time
	if err != nil {
		return fmt.Errorf("memory index: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'memories_fts'`).Scan(&n); err != nil || n > 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE VIRTUAL TABLE memories_fts USING fts5(content, tokenize = 'porter unicode61')`); err != nil {
		if perr := s.MemorySupported(ctx); perr != nil {
			return perr
		}
		return fmt.Errorf("creating the memory index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO memories_fts (rowid, content) SELECT seq, content FROM memories`); err != nil {
		return fmt.Errorf("filling the memory index: %w", err)
	}
	return tx.Commit()
}

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
		if seen[k] || stopwords[k] || !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) {
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

const memoryColumns = `m.id, m.content, m.metadata, m.created_ns`

// searchMemories ranks by BM25 (FTS5's bm25() is lower-is-better; Score is
// its negation), ties newest first.
const searchMemories = `SELECT ` + memoryColumns + `, -bm25(memories_fts)
	FROM memories_fts JOIN memories AS m ON m.seq = memories_fts.rowid
	WHERE memories_fts MATCH ? AND m.scope = ?
	ORDER BY bm25(memories_fts), m.created_ns DESC, m.id DESC
	LIMIT ?`

// Search implements memory.Backend.
func (s *DB) Search(ctx context.Context, sc memory.Scope, query string, limit int) ([]memory.Memory, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	q := ftsQuery(query)
	if q == "" {
		return nil, nil
	}
	if err := s.memoryIndex(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, searchMemories, q, string(sc), memory.ClampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("searching memories: %w", err)
	}
	ms, err := scanMemories(rows, true)
	if err != nil {
		return nil, fmt.Errorf("searching memories: %w", err)
	}
	return ms, nil
}

// Add implements memory.Backend. The transaction is BEGIN IMMEDIATE (the
// DSN's _txlock), so two Adds of one content cannot both miss the other.
func (s *DB) Add(ctx context.Context, sc memory.Scope, content string, meta map[string]string) (memory.Memory, bool, error) {
	if err := memory.ValidateAdd(sc, content, meta); err != nil {
		return memory.Memory{}, false, err
	}
	if err := s.memoryIndex(ctx); err != nil {
		return memory.Memory{}, false, err
	}
	metaJSON, err := encodeMeta(meta)
	if err != nil {
		return memory.Memory{}, false, err
	}
	hash := memory.ContentHash(content)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+memoryColumns+` FROM memories AS m WHERE m.scope = ? AND m.hash = ?`, string(sc), hash)
	if err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	existing, err := scanMemories(rows, false)
	if err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	if len(existing) > 0 {
		return existing[0], false, nil
	}
	m := memory.Memory{ID: memory.NewID(), Content: content, Metadata: cloneMeta(meta), CreatedAt: time.Now().UTC()}
	res, err := tx.ExecContext(ctx, `INSERT INTO memories (id, scope, hash, content, metadata, created_ns) VALUES (?, ?, ?, ?, ?, ?)`,
		m.ID, string(sc), hash, content, metaJSON, m.CreatedAt.UnixNano())
	if err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO memories_fts (rowid, content) VALUES (?, ?)`, seq, content); err != nil {
		return memory.Memory{}, false, fmt.Errorf("indexing memory: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	return m, true, nil
}

// Get implements memory.Backend.
func (s *DB) Get(ctx context.Context, sc memory.Scope, id string) (memory.Memory, error) {
	if err := sc.Validate(); err != nil {
		return memory.Memory{}, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+memoryColumns+` FROM memories AS m WHERE m.scope = ? AND m.id = ?`, string(sc), id)
	if err != nil {
		return memory.Memory{}, fmt.Errorf("getting memory: %w", err)
	}
	ms, err := scanMemories(rows, false)
	if err != nil {
		return memory.Memory{}, fmt.Errorf("getting memory: %w", err)
	}
	if len(ms) == 0 {
		return memory.Memory{}, memory.ErrNotFound
	}
	return ms[0], nil
}

// List implements memory.Backend: keyset paging on (created_ns, id)
// descending, so a page never repeats or skips a row because others were
// added or deleted meanwhile.
func (s *DB) List(ctx context.Context, sc memory.Scope, cursor string, limit int) ([]memory.Memory, string, error) {
	if err := sc.Validate(); err != nil {
		return nil, "", err
	}
	limit = memory.ClampLimit(limit)
	q := `SELECT ` + memoryColumns + ` FROM memories AS m WHERE m.scope = ?`
	args := []any{string(sc)}
	if cursor != "" {
		t, id, err := memory.DecodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND (m.created_ns, m.id) < (?, ?)`
		args = append(args, t.UnixNano(), id)
	}
	q += ` ORDER BY m.created_ns DESC, m.id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("listing memories: %w", err)
	}
	ms, err := scanMemories(rows, false)
	if err != nil {
		return nil, "", fmt.Errorf("listing memories: %w", err)
	}
	if len(ms) <= limit {
		return ms, "", nil
	}
	last := ms[limit-1]
	return ms[:limit], memory.EncodeCursor(last.CreatedAt, last.ID), nil
}

// Delete implements memory.Backend.
func (s *DB) Delete(ctx context.Context, sc memory.Scope, id string) error {
	if err := sc.Validate(); err != nil {
		return err
	}
	if err := s.memoryIndex(ctx); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	defer tx.Rollback()
	var seq int64
	err = tx.QueryRowContext(ctx, `SELECT seq FROM memories WHERE scope = ? AND id = ?`, string(sc), id).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return memory.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM memories_fts WHERE rowid = ?`, seq); err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM memories WHERE seq = ? AND scope = ?`, seq, string(sc)); err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	return nil
}

// DeleteAll implements memory.Backend.
func (s *DB) DeleteAll(ctx context.Context, sc memory.Scope) (int, error) {
	if err := sc.Validate(); err != nil {
		return 0, err
	}
	if err := s.memoryIndex(ctx); err != nil {
		return 0, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("deleting memories: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM memories_fts WHERE rowid IN (SELECT seq FROM memories WHERE scope = ?)`, string(sc)); err != nil {
		return 0, fmt.Errorf("deleting memories: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM memories WHERE scope = ?`, string(sc))
	if err != nil {
		return 0, fmt.Errorf("deleting memories: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("deleting memories: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("deleting memories: %w", err)
	}
	return int(n), nil
}

// scanMemories reads rows of memoryColumns, followed by the score when
// scored, and closes rows.
func scanMemories(rows *sql.Rows, scored bool) ([]memory.Memory, error) {
	defer rows.Close()
	var out []memory.Memory
	for rows.Next() {
		var m memory.Memory
		var meta string
		var ns int64
		dest := []any{&m.ID, &m.Content, &meta, &ns}
		if scored {
			dest = append(dest, &m.Score)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(meta), &m.Metadata); err != nil {
			return nil, fmt.Errorf("memory %s: metadata: %w", m.ID, err)
		}
		if len(m.Metadata) == 0 {
			m.Metadata = nil
		}
		m.CreatedAt = time.Unix(0, ns).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

func encodeMeta(meta map[string]string) (string, error) {
	if len(meta) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(meta)
	return string(b), err
}

func cloneMeta(meta map[string]string) map[string]string {
	if len(meta) == 0 {
		return nil
	}
	return maps.Clone(meta)
}

// stopwords is PostgreSQL's english.stop (the Snowball list), so both SQL
// stores ignore the same words.
var stopwords = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`i me my myself we our ours ourselves you your yours yourself yourselves
		he him his himself she her hers herself it its itself they them their theirs themselves what which who
		whom this that these those am is are was were be been being have has had having do does did doing a an
		the and but if or because as until while of at by for with about against between into through during
		before after above below to from up down in out on off over under again further then once here there
		when where why how all any both each few more most other some such no nor not only own same so than too
		very s t can will just don should now`) {
		m[w] = true
	}
	return m
}()
