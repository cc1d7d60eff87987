package relay

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/memory/hybrid"
	"github.com/memproxy/memproxy/gateway/pricing"
	"github.com/memproxy/memproxy/gateway/provider/embed"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/gateway/usage"
)

// purposeEmbedding marks the usage rows of the gateway's embedding calls.
const purposeEmbedding = "memory_embedding"

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
func (s *Pipeline) Embedder(model string, dims int) hybrid.Embedder {
	return NewEmbedder(s.Router, s.Prices, s.Usage.Enqueue, model, dims)
}

// NewEmbedder is the hybrid.Embedder of model at dims values through
// router, recording each call that reached an upstream as a usage row
// (record) priced from prices: the pipeline's Embedder, and the reindex
// command's, which has no pipeline.
func NewEmbedder(router embed.Caller, prices *pricing.Table, record func(usage.Record), model string, dims int) hybrid.Embedder {
	return embedCalls{router: router, prices: prices, record: record}.embedder(model, dims)
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
		Time: start.UTC(), RequestID: track.NewRequestID(), Ingress: "internal", Method: http.MethodPost, Path: "/embeddings",
		Model: model, Status: http.StatusOK, PromptTokens: res.Usage.PromptTokens, LatencyMS: ms(time.Since(start)),
		Purpose: purposeEmbedding,
	}
	if st := track.From(ctx); st.Rec.RequestID != "" {
		rec.ParentRequestID, rec.SessionID = st.Rec.RequestID, st.Rec.SessionID
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

// lexicalOnly marks a track.Receipt lexical_only when the hybrid search fell
// back to its lexical results; a track.Receipt of another kind (no place to
// inject…) is kept.
func lexicalOnly(rc track.Receipt, hi hybrid.SearchInfo) track.Receipt {
	if hi.LexicalOnly && (rc.Status == track.MemInjected || rc.Status == track.MemEmpty) {
		rc.Status = track.MemLexicalOnly
	}
	return rc
}
