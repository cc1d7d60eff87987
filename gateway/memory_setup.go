package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/hybrid"
	"github.com/memproxy/memproxy/gateway/memory/supermemory"
	"github.com/memproxy/memproxy/gateway/relay"
	"github.com/memproxy/memproxy/gateway/store"
)

// buildMemory turns context_retrieval into MemoryOptions; nil when memory
// is off. "local" is the gateway's own database (SQLite FTS5, or Postgres
// full-text when the database is Postgres); "postgres" insists on the
// latter; "supermemory" calls the Supermemory API.
func buildMemory(c config.ContextRetrieval, db store.DB, hc *http.Client) (*MemoryOptions, error) {
	if !c.Enabled {
		return nil, nil
	}
	name := c.MemoryBackend()
	var b memory.Backend
	switch name {
	case "local", "postgres":
		mb, ok := db.(memory.Backend)
		if !ok {
			return nil, errors.New("context_retrieval: this database cannot store memories")
		}
		if name == "postgres" && !strings.HasPrefix(db.Describe(), "postgres") {
			return nil, errors.New("context_retrieval.backend postgres needs general_settings.database_url to be a postgres:// URL")
		}
		b = mb
		name = strings.SplitN(db.Describe(), ":", 2)[0] // sqlite or postgres: what /memory-routing/info shows
	case "supermemory":
		sm, err := supermemory.New(supermemory.Options{
			BaseURL: c.BaseURL, APIKey: c.APIKey.Reveal(), Timeout: time.Duration(c.Timeout * float64(time.Second)), Client: hc,
		})
		if err != nil {
			return nil, fmt.Errorf("context_retrieval: %w", err)
		}
		b = sm
	default:
		return nil, fmt.Errorf("context_retrieval.backend %q is not supported", name)
	}
	return &MemoryOptions{
		Enabled: true, Backend: b, BackendName: name, Policy: c.ScopePolicy,
		Query: c.QueryStrategy, Inject: c.InjectionStrategy, MaxResults: c.MaxResults, MaxChars: c.MaxContextLength,
		Threshold: c.Threshold, Budget: time.Duration(c.RetrievalBudgetMS) * time.Millisecond,
		EnabledFor: c.EnabledForModels, DisabledFor: c.DisabledForModels, WriteBack: c.WriteBack,
	}, nil
}

// hybridMemory wraps the memory backend o for hybrid recall when
// context_retrieval.embedding_model is set: embeddings through the
// pipeline's router, each call a usage row of its own. A backend that
// keeps no vectors (Supermemory) is left as it is.
func hybridMemory(c config.ContextRetrieval, o *memory.Options, p *relay.Pipeline, log *slog.Logger) {
	if c.EmbeddingModel == "" || o == nil || !o.Enabled || o.Backend == nil {
		return
	}
	h, err := hybrid.New(o.Backend, hybrid.Options{
		Embed: p.Embedder(c.EmbeddingModel, c.EmbeddingDimensions),
		K:     c.RRFK, MinScore: c.VectorMinScore, Logger: log,
	})
	if err != nil {
		log.Warn("context_retrieval.embedding_model ignored: recall stays lexical", "backend", o.BackendName, "err", err)
		return
	}
	where := "int8 vectors scanned in the gateway"
	if v, ok := o.Backend.(interface{ VectorSearch() string }); ok {
		where = v.VectorSearch() // PostgreSQL says whether pgvector serves it
	}
	log.Info("hybrid memory recall on", "embedding_model", c.EmbeddingModel, "dimensions", c.EmbeddingDimensions,
		"rrf_k", c.RRFK, "vector_search", where)
	o.Backend = h
}
