package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/hybrid"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/relay"
	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/usage"
)

// ReindexOptions configure ReindexMemory.
type ReindexOptions struct {
	// DataDir holds the embedded database (when the config names none).
	DataDir string
	// Batch is how many memories one embedding call carries (≤ 0: 64).
	Batch int
	// Progress, when set, is called after each batch.
	Progress func(hybrid.Progress)
	Logger   *slog.Logger
}

// ReindexMemory embeds every active memory of the config's database that
// has no vector of context_retrieval.embedding_model's current model and
// size (memories stored while embeddings failed; all of them after a model
// change), through the config's router, each call a usage row written
// straight to the database. It is resumable (see hybrid.Reindex) and
// safe while a gateway serves the same database: it touches only vectors,
// never the gateway's journals. It returns how many it embedded.
func ReindexMemory(ctx context.Context, cfg *config.Gateway, o ReindexOptions) (int, error) {
	c := cfg.Memory
	if c.EmbeddingModel == "" {
		return 0, errors.New("context_retrieval.embedding_model is not set: there is nothing to embed with")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	models, err := buildDeployments(cfg, http.DefaultClient)
	if err != nil {
		return 0, err
	}
	db, err := store.Open(ctx, cfg.General.DatabaseURL, o.DataDir, store.Options{VectorSearch: cfg.Memory.VectorSearch})
	if err != nil {
		return 0, fmt.Errorf("opening the database: %w", err)
	}
	defer db.Close()
	b, ok := db.(memory.Backend)
	if !ok {
		return 0, errors.New("this database keeps no memories")
	}
	record := func(r usage.Record) {
		// Each call's row is written before the next call: a run that
		// stops loses none.
		if err := db.WriteUsage(context.WithoutCancel(ctx), []usage.Record{r}); err != nil {
			o.Logger.Error("usage row of an embedding call not written", "request_id", r.RequestID, "err", err)
		}
	}
	embedder := relay.NewEmbedder(provider.NewRouter(models, routerOptions(cfg)), buildPrices(cfg), record, c.EmbeddingModel, c.EmbeddingDimensions)
	return hybrid.Reindex(ctx, b, embedder, o.Batch, o.Progress)
}

// routerOptions are the router settings of the config.
func routerOptions(cfg *config.Gateway) provider.RouterOptions {
	return provider.RouterOptions{
		Retries: cfg.Router.NumRetries, Backoff: cfg.Router.RetryAfter, Cooldown: cfg.Router.CooldownTime,
		AllowedFails: cfg.Router.AllowedFails, Strategy: cfg.Router.RoutingStrategy, Fallbacks: cfg.Router.Fallbacks,
	}
}
