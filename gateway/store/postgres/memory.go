package postgres

// The memory backend on PostgreSQL: rows in memories (migrations 0003 and
// 0007), with the lifecycle of memory.Lifecycle (memory_lifecycle.go),
// ranked by BM25 in the scope's in-process index (memory_lexical.go) or,
// for a scope too large for it, matched with full-text search on the generated tsvector column (content
// weighted A, hidden keys B, plus a lexeme naming the scope) and ranked
// with ts_rank, normalised by the log of the memory's length (so a long
// memory does not outrank a short one by repeating words). ts_rank_cd (the
// first version's choice) ranked no better on the memorytest quality set
// (recall@5 0.950 for both, MRR 0.901 against ts_rank's 0.916) and cost
// about three times as much per matching row; see docs/performance.md.
//
// Scope isolation is in the SQL: every statement that reads or changes a
// memory has "scope = $1" in its WHERE clause, and every value is a
// placeholder argument. ts_rank uses only the memory's own vector, so
// unlike BM25 no statistic of other scopes enters a score.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/lexical"
)

var (
	_ memory.Backend   = (*DB)(nil)
	_ memory.Lifecycle = (*DB)(nil)
)

// Bounds on what of a search query is looked up.
const (
	maxQueryWords    = 32
	maxQueryWordSize = 256
)

const memoryColumns = `m.id, m.content, m.metadata, m.created_at, m.superseded_by, m.valid_to,
	m.source_client, m.source_request, m.source_session, m.source_turn`

// searchMemories: $1 scope, $2 the query's words, $3 limit. Each word goes
// through plainto_tsquery, which parses it as the indexed text was parsed
// (so "v1.2.3" or "go-sqlite3" match as they were indexed) and treats
// every operator character as text; the words' queries are then ORed.
// Round-tripping a tsquery through its text form is lossless (it is how
// pg_dump stores them), so no user text is ever read as tsquery syntax.
// Words that are only stop words or punctuation drop out (numnode 0); with
// none left the query is NULL and matches nothing. The query is computed
// once (MATERIALIZED) so the planner can use it as an index condition.
// The match (q.m) ANDs in the scope's lexeme (migration 0007), so the GIN
// index returns the scope's rows only; the rank uses the words alone (q.q).
// Both are computed in the CTE, once: in a generic plan a per-row filter
// would otherwise recompute the md5 for every row it reads.
const searchMemories = `WITH q AS MATERIALIZED (
		SELECT w.q, ('xs' || md5($1))::tsquery && w.q AS m
		FROM (SELECT ('(' || string_agg(p::text, ') | (') || ')')::tsquery AS q
			FROM unnest($2::text[]) AS w(word), plainto_tsquery('english', w.word) AS p
			WHERE numnode(p) > 0) AS w)
	SELECT ` + memoryColumns + `, ts_rank(m.tsv, q.q, 1)
	FROM q, memories AS m
	WHERE m.scope = $1 AND m.tsv @@ q.m AND m.superseded_by IS NULL
	ORDER BY 11 DESC, m.created_at DESC, m.id DESC
	LIMIT $3`

// queryWords splits a search query into the words searchMemories ORs:
// white-space separated, deduplicated ignoring case, bounded in number and
// size, with what PostgreSQL text cannot hold replaced.
func queryWords(query string) []string {
	seen := make(map[string]bool)
	var words []string
	for _, w := range strings.Fields(clean(query)) {
		if len(w) > maxQueryWordSize {
			w = strings.ToValidUTF8(w[:maxQueryWordSize], "")
		}
		if k := strings.ToLower(w); !seen[k] {
			seen[k] = true
			words = append(words, w)
		}
		if len(words) == maxQueryWords {
			break
		}
	}
	return words
}

// Search implements memory.Backend: ranked by the scope's in-process
// index (memory_lexical.go), or by the tsvector search for a scope too
// large for it.
func (s *DB) Search(ctx context.Context, sc memory.Scope, query string, limit int) ([]memory.Memory, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	terms := lexical.QueryTerms(query)
	if len(terms) == 0 {
		return nil, nil
	}
	ms, fallback, err := s.searchIndexed(ctx, sc, terms, memory.ClampLimit(limit))
	if !fallback {
		return ms, err
	}
	return s.searchTSV(ctx, sc, query, limit)
}

// searchTSV is Search by the tsvector column and ts_rank.
func (s *DB) searchTSV(ctx context.Context, sc memory.Scope, query string, limit int) ([]memory.Memory, error) {
	words := queryWords(query)
	if len(words) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, searchMemories, string(sc), words, memory.ClampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("searching memories: %w", err)
	}
	ms, err := collectMemories(rows, true)
	if err != nil {
		return nil, fmt.Errorf("searching memories: %w", err)
	}
	return ms, nil
}

// Add implements memory.Backend.
func (s *DB) Add(ctx context.Context, sc memory.Scope, content string, meta map[string]string) (memory.Memory, bool, error) {
	return s.AddWith(ctx, sc, content, memory.AddOptions{Metadata: meta})
}

// AddWith implements memory.Lifecycle. ON CONFLICT (on the partial unique
// index of active memories) makes concurrent Adds of one content agree:
// the loser waits for the winner's commit, inserts nothing, and reads the
// winner's row. If that row is deleted or superseded in between, it tries
// again.
func (s *DB) AddWith(ctx context.Context, sc memory.Scope, content string, o memory.AddOptions) (memory.Memory, bool, error) {
	if err := memory.ValidateAddWith(sc, content, o); err != nil {
		return memory.Memory{}, false, err
	}
	for range 3 {
		m, err := s.insertTracked(ctx, sc, content, o)
		if err == nil {
			return m, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
		}
		existing, err := activeByHash(ctx, s.pool, sc, memory.ContentHash(content))
		if err != nil {
			return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
		}
		if existing != nil {
			return *existing, false, nil
		}
	}
	return memory.Memory{}, false, errors.New("adding memory: its duplicate kept being deleted")
}

// insertTracked is insertMemory in a transaction that also reads the
// scope's text version its insert moved, so that this process's index of
// the scope takes the memory without a rebuild.
func (s *DB) insertTracked(ctx context.Context, sc memory.Scope, content string, o memory.AddOptions) (memory.Memory, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return memory.Memory{}, err
	}
	defer tx.Rollback(ctx)
	m, err := insertMemory(ctx, tx, sc, content, o)
	if err != nil {
		return memory.Memory{}, err
	}
	new, err := textVersion(ctx, tx, sc)
	if err != nil {
		return memory.Memory{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return memory.Memory{}, err
	}
	text := lexical.Text(content, o.Keys)
	s.lexical.Update(string(sc), new-1, new, func(ix *lexical.Index) { ix.Add(m.ID, m.CreatedAt.UnixNano(), text) })
	return m, nil
}

// querier is what insertMemory and activeByHash need: the pool or a
// transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insertMemory adds content to sc as a new active memory, or returns
// pgx.ErrNoRows when an active memory of sc has the same content.
func insertMemory(ctx context.Context, q querier, sc memory.Scope, content string, o memory.AddOptions) (memory.Memory, error) {
	metaJSON := []byte("{}")
	if len(o.Metadata) > 0 {
		metaJSON, _ = json.Marshal(o.Metadata) // validated strings always marshal
	}
	m := memory.Memory{ID: memory.NewID(), Content: content, Metadata: maps.Clone(o.Metadata), Status: memory.StatusActive, Source: o.Source}
	if len(o.Metadata) == 0 {
		m.Metadata = nil
	}
	err := q.QueryRow(ctx, `INSERT INTO memories (id, scope, hash, content, keys, metadata,
			source_client, source_request, source_session, source_turn)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)
		ON CONFLICT (scope, hash) WHERE superseded_by IS NULL DO NOTHING RETURNING created_at`,
		m.ID, string(sc), memory.ContentHash(content), content, o.Keys, string(metaJSON),
		o.Source.Client, o.Source.RequestID, o.Source.Session, o.Source.Turn).Scan(&m.CreatedAt)
	m.CreatedAt = m.CreatedAt.UTC()
	return m, err
}

// activeByHash is the active memory of sc with the content hash, or nil.
func activeByHash(ctx context.Context, q querier, sc memory.Scope, hash string) (*memory.Memory, error) {
	rows, err := q.Query(ctx, `SELECT `+memoryColumns+` FROM memories AS m
		WHERE m.scope = $1 AND m.hash = $2 AND m.superseded_by IS NULL`, string(sc), hash)
	if err != nil {
		return nil, err
	}
	ms, err := collectMemories(rows, false)
	if err != nil || len(ms) == 0 {
		return nil, err
	}
	return &ms[0], nil
}

// Get implements memory.Backend.
func (s *DB) Get(ctx context.Context, sc memory.Scope, id string) (memory.Memory, error) {
	if err := sc.Validate(); err != nil {
		return memory.Memory{}, err
	}
	if !storable(id) {
		return memory.Memory{}, memory.ErrNotFound
	}
	rows, err := s.pool.Query(ctx, `SELECT `+memoryColumns+` FROM memories AS m WHERE m.scope = $1 AND m.id = $2`, string(sc), id)
	if err != nil {
		return memory.Memory{}, fmt.Errorf("getting memory: %w", err)
	}
	ms, err := collectMemories(rows, false)
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

// ListWith implements memory.Lifecycle: keyset paging on (created_at, id)
// descending, so a page never repeats or skips a row because others were
// added or deleted meanwhile.
func (s *DB) ListWith(ctx context.Context, sc memory.Scope, o memory.ListOptions) ([]memory.Memory, string, error) {
	if err := sc.Validate(); err != nil {
		return nil, "", err
	}
	limit := memory.ClampLimit(o.Limit)
	q := `SELECT ` + memoryColumns + ` FROM memories AS m WHERE m.scope = $1`
	args := []any{string(sc)}
	if !o.IncludeSuperseded {
		q += ` AND m.superseded_by IS NULL`
	}
	if o.Cursor != "" {
		t, id, err := memory.DecodeCursor(o.Cursor)
		if err != nil || !storable(id) {
			return nil, "", memory.ErrInvalidCursor
		}
		q += ` AND (m.created_at, m.id) < ($2, $3)`
		args = append(args, t, id)
	}
	q += fmt.Sprintf(` ORDER BY m.created_at DESC, m.id DESC LIMIT $%d`, len(args)+1)
	args = append(args, limit+1)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("listing memories: %w", err)
	}
	ms, err := collectMemories(rows, false)
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
	if !storable(id) {
		return memory.ErrNotFound
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `DELETE FROM memories WHERE scope = $1 AND id = $2`, string(sc), id)
	if err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return memory.ErrNotFound
	}
	new, err := textVersion(ctx, tx, sc)
	if err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	s.lexical.Update(string(sc), new-1, new, func(ix *lexical.Index) { ix.Remove(id) })
	return nil
}

// DeleteAll implements memory.Backend.
func (s *DB) DeleteAll(ctx context.Context, sc memory.Scope) (int, error) {
	if err := sc.Validate(); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM memories WHERE scope = $1`, string(sc))
	if err != nil {
		return 0, fmt.Errorf("deleting memories: %w", err)
	}
	s.lexical.Drop(string(sc))
	return int(tag.RowsAffected()), nil
}

// storable reports whether PostgreSQL can take s as text; an id it cannot
// take cannot have been stored.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// collectMemories reads rows of memoryColumns, followed by the score when
// scored.
func collectMemories(rows pgx.Rows, scored bool) ([]memory.Memory, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (memory.Memory, error) {
		var m memory.Memory
		var score float32
		var extra []any
		if scored {
			extra = append(extra, &score)
		}
		err := scanMemory(row, &m, extra...)
		m.Score = float64(score)
		return m, err
	})
}

// scanMemory reads one row of memoryColumns followed by extra columns.
func scanMemory(row pgx.Row, m *memory.Memory, extra ...any) error {
	var by *string
	var validTo *time.Time
	dest := append([]any{&m.ID, &m.Content, &m.Metadata, &m.CreatedAt, &by, &validTo,
		&m.Source.Client, &m.Source.RequestID, &m.Source.Session, &m.Source.Turn}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	if len(m.Metadata) == 0 {
		m.Metadata = nil
	}
	m.CreatedAt = m.CreatedAt.UTC()
	if by != nil {
		m.SupersededBy = *by
	}
	m.Status = memory.StatusOf(m.SupersededBy)
	if validTo != nil {
		m.ValidTo = validTo.UTC()
	}
	return nil
}
