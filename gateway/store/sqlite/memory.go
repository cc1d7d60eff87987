package sqlite

// The memory backend on the gateway's SQLite file ("local" memory): rows in
// memories (migrations 0003 and 0007), ranked by BM25 in the scope's
// in-process index (memory_lexical.go) or, for a scope too large for it,
// by an FTS5 index (memory_index.go), with the lifecycle of
// memory.Lifecycle (memory_lifecycle.go).
//
// Scope isolation is in the SQL and in the index's key: every statement
// that reads or changes a memory carries "scope = ?" in its WHERE clause,
// the scope a placeholder argument like every other value, and each
// scope's index holds that scope's memories only (its statistics too).
// Only the FTS5 fallback lets a score (never a row, a text or a count)
// depend on other scopes: its BM25 inverse document frequencies are
// computed over the whole index.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/lexical"
)

var (
	_ memory.Backend   = (*DB)(nil)
	_ memory.Lifecycle = (*DB)(nil)
)

const memoryColumns = `m.id, m.content, m.metadata, m.created_ns, m.superseded_by, m.valid_to_ns,
	m.source_client, m.source_request, m.source_session, m.source_turn`

// Search implements memory.Backend: active memories only, ranked by the
// scope's in-process index (memory_lexical.go), or by FTS5 for a scope too
// large for it.
func (s *DB) Search(ctx context.Context, sc memory.Scope, query string, limit int) ([]memory.Memory, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	terms := lexical.QueryTerms(query)
	if len(terms) == 0 {
		return nil, nil
	}
	if err := s.memoryIndex(ctx); err != nil {
		return nil, err
	}
	ms, fallback, err := s.searchIndexed(ctx, sc, terms, memory.ClampLimit(limit))
	if !fallback {
		return ms, err
	}
	return s.searchFTS(ctx, sc, query, limit)
}

// searchFTS is Search by FTS5 (BM25 with the whole index's statistics).
func (s *DB) searchFTS(ctx context.Context, sc memory.Scope, query string, limit int) ([]memory.Memory, error) {
	q := ftsQuery(query)
	if q == "" {
		return nil, nil
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

// Add implements memory.Backend.
func (s *DB) Add(ctx context.Context, sc memory.Scope, content string, meta map[string]string) (memory.Memory, bool, error) {
	return s.AddWith(ctx, sc, content, memory.AddOptions{Metadata: meta})
}

// AddWith implements memory.Lifecycle. The transaction is BEGIN IMMEDIATE
// (the DSN's _txlock), so two Adds of one content cannot both miss the
// other.
func (s *DB) AddWith(ctx context.Context, sc memory.Scope, content string, o memory.AddOptions) (memory.Memory, bool, error) {
	if err := memory.ValidateAddWith(sc, content, o); err != nil {
		return memory.Memory{}, false, err
	}
	if err := s.memoryIndex(ctx); err != nil {
		return memory.Memory{}, false, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	defer tx.Rollback()
	existing, err := activeByHash(ctx, tx, sc, memory.ContentHash(content))
	if err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	if existing != nil {
		return *existing, false, nil
	}
	old, err := textVersion(ctx, tx, sc)
	if err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	m, seq, err := insertMemory(ctx, tx, sc, content, o)
	if err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	new, err := textVersion(ctx, tx, sc)
	if err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	text := lexical.Text(content, o.Keys)
	s.lexical.Update(string(sc), old, new, func(ix *lexical.Index) { ix.Add(m.ID, seq, text) })
	return m, true, nil
}

// activeByHash is the active memory of sc with the content hash, or nil.
func activeByHash(ctx context.Context, tx *sql.Tx, sc memory.Scope, hash string) (*memory.Memory, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+memoryColumns+` FROM memories AS m
		WHERE m.scope = ? AND m.hash = ? AND m.superseded_by IS NULL`, string(sc), hash)
	if err != nil {
		return nil, err
	}
	ms, err := scanMemories(rows, false)
	if err != nil || len(ms) == 0 {
		return nil, err
	}
	return &ms[0], nil
}

// insertMemory adds a new active memory to sc and to the search index, and
// returns it with its seq. The caller has checked for duplicates.
func insertMemory(ctx context.Context, tx *sql.Tx, sc memory.Scope, content string, o memory.AddOptions) (memory.Memory, int64, error) {
	metaJSON, err := encodeMeta(o.Metadata)
	if err != nil {
		return memory.Memory{}, 0, err
	}
	seq, err := nextSeq(ctx, tx, sc)
	if err != nil {
		return memory.Memory{}, 0, err
	}
	m := memory.Memory{ID: memory.NewID(), Content: content, Metadata: cloneMeta(o.Metadata), CreatedAt: time.Now().UTC(),
		Status: memory.StatusActive, Source: o.Source}
	if _, err := tx.ExecContext(ctx, `INSERT INTO memories (seq, id, scope, hash, content, keys, metadata, created_ns,
		source_client, source_request, source_session, source_turn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		seq, m.ID, string(sc), memory.ContentHash(content), content, o.Keys, metaJSON, m.CreatedAt.UnixNano(),
		o.Source.Client, o.Source.RequestID, o.Source.Session, o.Source.Turn); err != nil {
		return memory.Memory{}, 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO memories_search (rowid, content, keys) VALUES (?, ?, ?)`, seq, content, o.Keys); err != nil {
		return memory.Memory{}, 0, fmt.Errorf("indexing: %w", err)
	}
	return m, seq, nil
}

// nextSeq numbers a new memory of sc: the scope's id << 32 | its next
// number (migration 0007), registering the scope on its first memory.
func nextSeq(ctx context.Context, tx *sql.Tx, sc memory.Scope) (int64, error) {
	var id, n int64
	err := tx.QueryRowContext(ctx, `UPDATE memory_scopes SET last_seq = last_seq + 1 WHERE scope = ? RETURNING id, last_seq`,
		string(sc)).Scan(&id, &n)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `INSERT INTO memory_scopes (scope, last_seq) VALUES (?, 1) RETURNING id, last_seq`,
			string(sc)).Scan(&id, &n)
	}
	if err != nil {
		return 0, err
	}
	if id <= 0 || id >= 1<<31 || n <= 0 || n >= 1<<32 {
		return 0, fmt.Errorf("memory numbering exhausted (scope %d, number %d)", id, n)
	}
	return id<<32 | n, nil
}

// Get implements memory.Backend: active or superseded.
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

// List implements memory.Backend: active memories only.
func (s *DB) List(ctx context.Context, sc memory.Scope, cursor string, limit int) ([]memory.Memory, string, error) {
	return s.ListWith(ctx, sc, memory.ListOptions{Cursor: cursor, Limit: limit})
}

// ListWith implements memory.Lifecycle: keyset paging on (created_ns, id)
// descending, so a page never repeats or skips a row because others were
// added or deleted meanwhile.
func (s *DB) ListWith(ctx context.Context, sc memory.Scope, o memory.ListOptions) ([]memory.Memory, string, error) {
	if err := sc.Validate(); err != nil {
		return nil, "", err
	}
	limit := memory.ClampLimit(o.Limit)
	q := `SELECT ` + memoryColumns + ` FROM memories AS m WHERE m.scope = ?`
	args := []any{string(sc)}
	if !o.IncludeSuperseded {
		q += ` AND m.superseded_by IS NULL`
	}
	if o.Cursor != "" {
		t, id, err := memory.DecodeCursor(o.Cursor)
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

// Delete implements memory.Backend. Memories it superseded stay
// superseded (their SupersededBy names an id that is gone).
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
	if _, err := tx.ExecContext(ctx, `DELETE FROM memories_search WHERE rowid = ?`, seq); err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	old, err := textVersion(ctx, tx, sc)
	if err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM memories WHERE seq = ? AND scope = ?`, seq, string(sc)); err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	new, err := textVersion(ctx, tx, sc)
	if err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	s.lexical.Update(string(sc), old, new, func(ix *lexical.Index) { ix.Remove(id) })
	return nil
}

// DeleteAll implements memory.Backend: active and superseded memories.
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
	if _, err := tx.ExecContext(ctx, `DELETE FROM memories_search WHERE rowid IN (SELECT seq FROM memories WHERE scope = ?)`, string(sc)); err != nil {
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
	s.lexical.Drop(string(sc))
	return int(n), nil
}

// scanMemories reads rows of memoryColumns, followed by the score when
// scored, and closes rows.
func scanMemories(rows *sql.Rows, scored bool) ([]memory.Memory, error) {
	defer rows.Close()
	var out []memory.Memory
	for rows.Next() {
		var m memory.Memory
		var extra []any
		if scored {
			extra = append(extra, &m.Score)
		}
		if err := scanMemory(rows, &m, extra...); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// scanMemory reads one row of memoryColumns followed by extra columns.
func scanMemory(rows *sql.Rows, m *memory.Memory, extra ...any) error {
	var meta string
	var ns int64
	var by sql.NullString
	var validTo sql.NullInt64
	dest := append([]any{&m.ID, &m.Content, &meta, &ns, &by, &validTo,
		&m.Source.Client, &m.Source.RequestID, &m.Source.Session, &m.Source.Turn}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(meta), &m.Metadata); err != nil {
		return fmt.Errorf("memory %s: metadata: %w", m.ID, err)
	}
	if len(m.Metadata) == 0 {
		m.Metadata = nil
	}
	m.CreatedAt = time.Unix(0, ns).UTC()
	m.SupersededBy, m.Status = by.String, memory.StatusOf(by.String)
	if validTo.Valid {
		m.ValidTo = time.Unix(0, validTo.Int64).UTC()
	}
	return nil
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
