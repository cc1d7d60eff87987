// Package hybrid wraps a memory backend that keeps embeddings
// (memory.Vectors) so that search finds a memory by meaning as well as by
// its words: the lexical search and a vector search with the query's
// embedding run side by side, and their lists are merged by reciprocal
// rank fusion (recall.FuseLists) and cut to the limit. Writes embed the
// new memory's text and store its vector.
//
// Nothing here fails because of embeddings: a query embedding that errs
// or comes too late gives the lexical results (reported in SearchInfo); a
// memory whose embedding fails is stored without a vector, and Reindex
// embeds it later. The gateway supplies the Embedder (a call through its
// router that writes a usage row) and reads SearchInfo for its own.
package hybrid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/recall"
)

// Tasks given to the Embedder: a search text or a stored text (Gemini
// embeds them differently).
const (
	TaskQuery    = "query"
	TaskDocument = "document"
)

// Embedder returns one embedding per text, all of one model, and that
// model's name (the upstream model that made them: vectors are stored
// and compared under it). It must honour ctx's deadline.
type Embedder func(ctx context.Context, texts []string, task string) (vectors [][]float32, model string, err error)

// Options configure a hybrid backend.
type Options struct {
	// Embed computes embeddings; required.
	Embed Embedder
	// K is the reciprocal rank fusion constant (≤ 0: recall.DefaultK).
	K int
	// MinScore is the floor of the vector list: memories whose cosine
	// similarity to the query is below it are not candidates (nearest
	// neighbours exist for any query). 0 keeps every memory that is not
	// opposed to the query (similarity ≥ 0).
	MinScore float64
	// Depth is how many results each list contributes before fusion
	// (≤ 0: twice the limit, at least 20).
	Depth int
	// Logger reports embedding failures (never memory text).
	Logger *slog.Logger
}

// Backend is a memory.Backend with hybrid search. Methods other than
// Search and the writes go to the wrapped backend unchanged.
type Backend struct {
	inner memory.Backend
	vec   memory.Vectors
	o     Options
}

// New wraps b, which must implement memory.Vectors. When b also
// implements memory.Lifecycle, so does the result (its Supersede and
// Update embed the memory they write).
func New(b memory.Backend, o Options) (memory.Backend, error) {
	v, err := memory.VectorsOf(b)
	if err != nil {
		return nil, err
	}
	if o.Embed == nil {
		return nil, errors.New("hybrid: no embedder")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Backend{inner: b, vec: v, o: o}
	if l, ok := b.(memory.Lifecycle); ok {
		return &Lifecycle{Backend: h, l: l}, nil
	}
	return h, nil
}

// SearchInfo reports what a Search did with embeddings; pass one in ctx
// (WithInfo) to learn it.
type SearchInfo struct {
	// LexicalOnly is set when the results are the lexical search's alone
	// because the query embedding or the vector search failed or came too
	// late; Reason says which ("embedding_failed", "embedding_late",
	// "vector_search_failed").
	LexicalOnly bool
	Reason      string
	// Model is the embedding model of the query vector; VectorHits counts
	// the vector list's candidates.
	Model      string
	VectorHits int
}

type infoKey struct{}

// WithInfo returns ctx carrying info, which Search fills.
func WithInfo(ctx context.Context, info *SearchInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

func infoFrom(ctx context.Context) *SearchInfo {
	if i, ok := ctx.Value(infoKey{}).(*SearchInfo); ok {
		return i
	}
	return &SearchInfo{}
}

// lateMargin is kept of ctx's deadline for returning lexical results when
// the query embedding has not come: a tenth of the time left, at most
// 5 ms.
func lateMargin(left time.Duration) time.Duration { return min(left/10, 5*time.Millisecond) }

type vectorResult struct {
	ms    []memory.Memory
	model string
	err   error
	stage string
}

// Search implements memory.Backend: lexical and vector lists fused by
// reciprocal rank, Score the fused score (see recall.FuseLists), at most
// limit results. The lexical search's error is Search's; the vector
// side's only makes the results lexical-only.
func (b *Backend) Search(ctx context.Context, s memory.Scope, query string, limit int) ([]memory.Memory, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	info := infoFrom(ctx)
	limit = memory.ClampLimit(limit)
	depth := b.o.Depth
	if depth <= 0 {
		depth = max(2*limit, 20)
	}
	depth = memory.ClampLimit(depth)
	vctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan vectorResult, 1) // buffered: a late answer never blocks
	if strings.TrimSpace(query) != "" {
		go func() { got <- b.vectorSearch(vctx, s, query, depth) }()
	} else {
		got <- vectorResult{}
	}
	lex, err := b.inner.Search(ctx, s, query, depth)
	if err != nil {
		return nil, err
	}
	vr := b.await(ctx, got)
	if vr.err != nil {
		info.LexicalOnly, info.Reason = true, vr.stage
		b.o.Logger.Warn("hybrid memory search: going on with lexical results", "reason", vr.stage, "err", vr.err)
	}
	info.Model, info.VectorHits = vr.model, len(vr.ms)
	return fuse(b.o.K, limit, lex, vr.ms), nil
}

// await waits for the vector side until ctx's deadline less a margin.
func (b *Backend) await(ctx context.Context, got <-chan vectorResult) vectorResult {
	var late <-chan time.Time
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		t := time.NewTimer(left - lateMargin(left))
		defer t.Stop()
		late = t.C
	}
	select {
	case vr := <-got:
		return vr
	case <-late:
	case <-ctx.Done():
	}
	return vectorResult{err: errors.New("query embedding not back within the retrieval budget"), stage: "embedding_late"}
}

func (b *Backend) vectorSearch(ctx context.Context, s memory.Scope, query string, depth int) vectorResult {
	vs, model, err := b.o.Embed(ctx, []string{query}, TaskQuery)
	if err == nil && len(vs) != 1 {
		err = fmt.Errorf("%d vectors for one query", len(vs))
	}
	if err != nil {
		if ctx.Err() != nil {
			return vectorResult{err: err, stage: "embedding_late"}
		}
		return vectorResult{err: err, stage: "embedding_failed"}
	}
	ms, err := b.vec.SearchVectors(ctx, s, model, vs[0], depth, b.o.MinScore)
	if err != nil {
		return vectorResult{err: err, stage: "vector_search_failed", model: model}
	}
	return vectorResult{ms: ms, model: model}
}

// fuse merges the lists by reciprocal rank and keeps the first limit.
func fuse(k, limit int, lists ...[]memory.Memory) []memory.Memory {
	byID := map[string]memory.Memory{}
	hits := make([][]recall.Hit, len(lists))
	for i, ms := range lists {
		for _, m := range ms {
			hits[i] = append(hits[i], recall.Hit{ID: m.ID, Score: m.Score})
			if _, ok := byID[m.ID]; !ok {
				byID[m.ID] = m
			}
		}
	}
	fused := recall.Cut(recall.FuseLists(k, hits...), limit, 0)
	if len(fused) == 0 {
		return nil
	}
	out := make([]memory.Memory, len(fused))
	for i, h := range fused {
		out[i] = byID[h.ID]
		out[i].Score = h.Score
	}
	return out
}

// Get implements memory.Backend.
func (b *Backend) Get(ctx context.Context, s memory.Scope, id string) (memory.Memory, error) {
	return b.inner.Get(ctx, s, id)
}

// List implements memory.Backend.
func (b *Backend) List(ctx context.Context, s memory.Scope, cursor string, limit int) ([]memory.Memory, string, error) {
	return b.inner.List(ctx, s, cursor, limit)
}

// Delete implements memory.Backend (the vector goes with the memory).
func (b *Backend) Delete(ctx context.Context, s memory.Scope, id string) error {
	return b.inner.Delete(ctx, s, id)
}

// DeleteAll implements memory.Backend.
func (b *Backend) DeleteAll(ctx context.Context, s memory.Scope) (int, error) {
	return b.inner.DeleteAll(ctx, s)
}

// Unwrap returns the wrapped backend.
func (b *Backend) Unwrap() memory.Backend { return b.inner }
