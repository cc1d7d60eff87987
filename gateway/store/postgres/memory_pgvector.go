package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/recall"
)

// pgvector is set when vector search is asked of the pgvector extension
// (context_retrieval.vector_search: pgvector; the extension installed by an
// operator: CREATE EXTENSION vector needs rights the gateway should not
// hold). Each stored vector is then also kept as a pgvector value in
// memory_vectors.emb, and vector search runs in PostgreSQL over an HNSW
// index per vector size instead of over the scope's vectors in the
// gateway. The int8 copy (vec) stays: it is what MissingVectors and a
// gateway without the extension read.
type pgvector struct {
	schema  string // where the extension's types live, quoted for SQL
	version string
	// iterative: 0.8 or later, whose HNSW scans go on past ef_search
	// candidates until enough rows pass the scope filter.
	iterative bool
	indexes   sync.Map   // vector size → struct{}: its HNSW index exists
	creating  sync.Mutex // one index creation at a time (ensureHNSW)
}

// VectorSearch says where vector search runs (the gateway logs it at start).
func (s *DB) VectorSearch() string {
	if s.pgv == nil {
		return "int8 vectors scanned in the gateway"
	}
	return "pgvector " + s.pgv.version + ", HNSW index per vector size"
}

// usePgvector turns the pgvector path on when Options ask for it: it
// adds memory_vectors.emb if missing and fills it for the vectors stored
// before (from their int8 copy). Without the extension it fails: the
// operator asked for it.
func (s *DB) usePgvector(ctx context.Context, o Options) error {
	switch o.Vectors {
	case "", VectorsGateway:
		return nil
	case VectorsPgvector:
	default:
		return fmt.Errorf("vector search: unknown %q (gateway or pgvector)", o.Vectors)
	}
	var schema, version string
	err := s.pool.QueryRow(ctx, `SELECT n.nspname, e.extversion FROM pg_extension AS e
		JOIN pg_namespace AS n ON n.oid = e.extnamespace WHERE e.extname = 'vector'`).Scan(&schema, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return errors.New("vector search: pgvector was asked for (context_retrieval.vector_search), but the extension is not installed in this database (CREATE EXTENSION vector)")
	}
	if err != nil {
		return fmt.Errorf("vector search: looking for pgvector: %w", err)
	}
	p := &pgvector{schema: pgx.Identifier{schema}.Sanitize(), version: version, iterative: atLeast(version, 0, 8)}
	if _, err := s.pool.Exec(ctx, `ALTER TABLE memory_vectors ADD COLUMN IF NOT EXISTS emb `+p.schema+`.vector`); err != nil {
		return fmt.Errorf("vector search: adding the pgvector column: %w", err)
	}
	// A superseded memory's vector leaves the HNSW index (NULL is not
	// indexed), so that an index scan finds active memories only and needs
	// no join to tell them apart.
	if _, err := s.pool.Exec(ctx, `CREATE OR REPLACE FUNCTION memory_vector_unindex() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			UPDATE memory_vectors SET emb = NULL WHERE id = NEW.id AND emb IS NOT NULL;
			RETURN NULL;
		END $$;
		CREATE OR REPLACE TRIGGER memories_vec_unindex AFTER UPDATE OF superseded_by ON memories
			FOR EACH ROW WHEN (NEW.superseded_by IS NOT NULL) EXECUTE FUNCTION memory_vector_unindex()`); err != nil {
		return fmt.Errorf("vector search: the pgvector trigger: %w", err)
	}
	s.pgv = p
	if err := s.backfillEmb(ctx); err != nil {
		return err
	}
	// The indexes of the sizes stored so far are built here, at start (a
	// first build over many vectors takes a while); a new size gets its
	// index when its first vector is stored, off the request path.
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT dims FROM memory_vectors`)
	if err != nil {
		return fmt.Errorf("vector search: listing vector sizes: %w", err)
	}
	sizes, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("vector search: listing vector sizes: %w", err)
	}
	for _, d := range sizes {
		if err := s.ensureHNSW(ctx, int(d)); err != nil {
			return err
		}
	}
	return nil
}

// backfillEmb gives every vector stored without a pgvector copy one, from
// its int8 copy, in batches.
func (s *DB) backfillEmb(ctx context.Context) error {
	for {
		rows, err := s.pool.Query(ctx, `SELECT v.id, v.vec FROM memory_vectors AS v JOIN memories AS m ON m.id = v.id
			WHERE v.emb IS NULL AND m.superseded_by IS NULL LIMIT 500`)
		if err != nil {
			return fmt.Errorf("vector search: copying vectors into pgvector: %w", err)
		}
		type pending struct {
			id  string
			emb string
		}
		var batch []pending
		var id string
		var blob []byte
		if _, err := pgx.ForEachRow(rows, []any{&id, &blob}, func() error {
			batch = append(batch, pending{id, vectorText(recall.QuantizedFromBytes(blob).Unit())})
			return nil
		}); err != nil {
			return fmt.Errorf("vector search: copying vectors into pgvector: %w", err)
		}
		if len(batch) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		for _, p := range batch {
			b.Queue(`UPDATE memory_vectors SET emb = $2::`+s.pgv.schema+`.vector WHERE id = $1`, p.id, p.emb)
		}
		if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("vector search: copying vectors into pgvector: %w", err)
		}
	}
}

// ensureHNSW creates the HNSW index of vectors of size dims (cosine
// distance, over emb cast to that size, for those rows only) once per
// process: at start for the sizes stored, and by PutVector for a new one
// (never by a search, whose retrieval budget a build would outlast and
// cancel; until the index exists a search is exact, by the scope's rows). Two CREATE INDEX IF NOT EXISTS racing for one name can still
// collide in the catalog (unique violation): creations are serialized in
// the process, and a collision with another replica's is tried once more.
func (s *DB) ensureHNSW(ctx context.Context, dims int) error {
	if _, ok := s.pgv.indexes.Load(dims); ok {
		return nil
	}
	s.pgv.creating.Lock()
	defer s.pgv.creating.Unlock()
	if _, ok := s.pgv.indexes.Load(dims); ok {
		return nil
	}
	d := strconv.Itoa(dims)
	create := `CREATE INDEX IF NOT EXISTS memory_vectors_hnsw_` + d + ` ON memory_vectors
		USING hnsw ((emb::` + s.pgv.schema + `.vector(` + d + `)) ` + s.pgv.schema + `.vector_cosine_ops) WHERE dims = ` + d
	_, err := s.pool.Exec(ctx, create)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "23505" {
		_, err = s.pool.Exec(ctx, create)
	}
	if err != nil {
		return fmt.Errorf("creating the HNSW index of %d-value vectors: %w", dims, err)
	}
	s.pgv.indexes.Store(dims, struct{}{})
	return nil
}

// searchPgvector is SearchVectors on the pgvector path: the nearest of the
// scope's vectors of model by cosine distance, through the size's HNSW
// index (iterative scans keep going until limit rows of the scope are
// found; the planner may also take the scope's index and sort exactly).
func (s *DB) searchPgvector(ctx context.Context, sc memory.Scope, model string, q []float32, limit int, minScore float64) ([]memory.Memory, error) {
	d, vt := strconv.Itoa(len(q)), s.pgv.schema+".vector("+strconv.Itoa(len(q))+")"
	dist := `v.emb::` + vt + ` OPERATOR(` + s.pgv.schema + `.<=>) $4::` + vt
	// relaxed_order may return rows slightly out of order: the outer
	// ORDER BY puts them back (pgvector's documented form), ties by id.
	// The index scan orders memory_vectors alone (a join above it would
	// keep the planner from using the index); superseded memories have no
	// emb (memory_vector_unindex), and the join checks again.
	query := `WITH near AS MATERIALIZED (
		SELECT v.id, (1 - (` + dist + `))::float4 AS score FROM memory_vectors AS v
		WHERE v.dims = ` + d + ` AND v.scope = $1 AND v.model = $2 AND v.emb IS NOT NULL
		ORDER BY ` + dist + ` LIMIT $3)
		SELECT ` + memoryColumns + `, near.score FROM near JOIN memories AS m ON m.id = near.id
		WHERE m.scope = $1 AND m.superseded_by IS NULL AND near.score >= $5 ORDER BY near.score DESC, m.id`
	// One round trip: the scan setting (for the connection; only HNSW
	// scans read it, and every one of ours wants it) and the query.
	b := &pgx.Batch{}
	if s.pgv.iterative {
		b.Queue(`SET hnsw.iterative_scan = relaxed_order`)
	}
	var ms []memory.Memory
	b.Queue(query, string(sc), model, memory.ClampLimit(limit), vectorText(q), minScore).Query(func(rows pgx.Rows) error {
		var err error
		ms, err = collectMemories(rows, true)
		return err
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("searching memory vectors: %w", err)
	}
	return ms, nil
}

// vectorText renders v in pgvector's text form, [1,2,3].
func vectorText(v []float32) string {
	var b strings.Builder
	b.Grow(len(v) * 10)
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
	}
	b.WriteByte(']')
	return b.String()
}

// atLeast reports whether version (such as "0.8.1") is at least major.minor.
func atLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
