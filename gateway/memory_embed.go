package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/memory/hybrid"
	"github.com/memproxy/memproxy/gateway/pricing"
	"github.com/memproxy/memproxy/gateway/provider/embed"
	"github.com/memproxy/memproxy/gateway/usage"
)

// memLexicalOnly is the memory status of a hybrid search whose query
// embedding failed or came too late: the lexical results (maybe none)
// were used.
const memLexicalOnly = "lexical_only"

// purposeEmbedding marks the usage rows of the gateway's embedding calls.
const purposeEmbedding = "memory_embedding"

// hybridMemory wraps the memory backend for hybrid recall when
// context_retrieval.embedding_model is set: embeddings through s.router,
// each call a usage row of its own. A backend that keeps no vectors
// (Supermemory) is left as it is.
func (s *Server) hybridMemory(c config.ContextRetrieval) {
	o := s.opts.Memory
	if c.EmbeddingModel == "" || o == nil || !o.Enabled || o.Backend == nil {
		return
	}
	h, err := hybrid.New(o.Backend, hybrid.Options{
		Embed: s.Embedder(c.EmbeddingModel, c.EmbeddingDimensions),
		K:     c.RRFK, MinScore: c.VectorMinScore, Logger: s.log,
	})
	if err != nil {
		s.log.Warn("context_retrieval.embedding_model ignored: recall stays lexical", "backend", o.BackendName, "err", err)
		return
	}
	s.log.Info("hybrid memory recall on", "embedding_model", c.EmbeddingModel, "dimensions", c.EmbeddingDimensions,
		"rrf_k", c.RRFK, "vectors", "int8, searched in the gateway")
	o.Backend = h
}

// embedCalls makes the gateway's embedding calls: through a router, each
// call that reached an upstream recorded as a usage row.
type embedCalls struct {
	router embed.Caller
	prices *pricing.Table
	record func(usage.Record)
}

// Embedder returns the hybrid.Embedder of model (a model_name of the
// model list) at dims values (0: the model's own): one embed.Embed through
// the server's router per call, and a usage row for every call that
// reached an upstream, with purpose memory_embedding, the input tokens
// and the cost.
func (s *Server) Embedder(model string, dims int) hybrid.Embedder {
	return embedCalls{router: s.router, prices: s.prices, record: s.usage.Enqueue}.embedder(model, dims)
}

func (e embedCalls) embedder(model string, dims int) hybrid.Embedder {
	return func(ctx context.Context, texts []string, task string) ([][]float32, string, error) {
		start := time.Now()
		res, err := embed.Embed(ctx, e.router, embed.Request{Model: model, Inputs: texts, Dimensions: dims, Task: task})
		if res.Attempts > 0 {
			e.record(e.row(ctx, model, res, err, start))
		}
		if err != nil {
			return nil, "", err
		}
		return res.Vectors, res.Deployment.UpstreamModel, nil
	}
}

type parentKey struct{}

// withParentRequest marks ctx as serving requestID (for the usage rows of
// work done after the request, such as write-back embeddings).
func withParentRequest(ctx context.Context, requestID string) context.Context {
	return context.WithValue(ctx, parentKey{}, requestID)
}

// row is the usage row of one embed.Embed.
func (e embedCalls) row(ctx context.Context, model string, res embed.Result, err error, start time.Time) usage.Record {
	rec := usage.Record{
		Time: start.UTC(), RequestID: newRequestID(), Ingress: "internal", Method: http.MethodPost, Path: "/embeddings",
		Model: model, Status: http.StatusOK, PromptTokens: res.Usage.PromptTokens, LatencyMS: ms(time.Since(start)),
		Purpose: purposeEmbedding,
	}
	if st := stateFrom(ctx); st.rec.RequestID != "" {
		rec.ParentRequestID, rec.SessionID = st.rec.RequestID, st.rec.SessionID
	} else if p, ok := ctx.Value(parentKey{}).(string); ok {
		rec.ParentRequestID = p
	}
	if id, ok := auth.FromContext(ctx); ok {
		rec.User, rec.Project, rec.Client = id.User, id.Project, id.Client
	}
	if d := res.Deployment; d != nil {
		rec.UpstreamModel, rec.Provider = d.UpstreamModel, d.ProviderName
		rec.SetCost(e.prices.Cost(model, d.ProviderName, d.UpstreamModel, res.Usage))
	}
	if err != nil {
		rec.Status, rec.ErrorType = embedErrorStatus(ctx, err)
	}
	return rec
}

// embedErrorStatus is the status and error kind of a failed embedding.
func embedErrorStatus(ctx context.Context, err error) (int, string) {
	var ue *embed.UpstreamError
	switch {
	case errors.As(err, &ue):
		return ue.Status, string(llm.ErrUpstream)
	case ctx.Err() != nil:
		return http.StatusGatewayTimeout, string(llm.ErrUpstreamTimeout)
	default:
		return http.StatusBadGateway, string(llm.ErrUpstream)
	}
}

// lexicalOnly marks a receipt lexical_only when the hybrid search fell
// back to its lexical results; a receipt of another kind (no place to
// inject…) is kept.
func lexicalOnly(rc receipt, hi hybrid.SearchInfo) receipt {
	if hi.LexicalOnly && (rc.status == memInjected || rc.status == memEmpty) {
		rc.status = memLexicalOnly
	}
	return rc
}
