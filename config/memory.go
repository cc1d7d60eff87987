package config

import (
	"fmt"
	"slices"
	"strings"
)

// ContextRetrieval is the seed's context_retrieval block: memory retrieval,
// injection and write-back. With Enabled and nothing else, memory works on
// the gateway's own database; an APIKey (the seed's Supermemory key)
// selects Supermemory; Backend overrides both.
type ContextRetrieval struct {
	Enabled bool `yaml:"enabled"`
	// Backend is "local" (the gateway's database: SQLite FTS5, or Postgres
	// full-text when database_url is Postgres), "postgres", or
	// "supermemory"; "" chooses as described above.
	Backend string `yaml:"backend"`
	// APIKey and BaseURL reach Supermemory.
	APIKey  Secret `yaml:"api_key"`
	BaseURL string `yaml:"base_url"`
	// ScopePolicy derives the memory scope: user, project, user_project.
	ScopePolicy       string `yaml:"scope_policy"`
	QueryStrategy     string `yaml:"query_strategy"`
	InjectionStrategy string `yaml:"injection_strategy"`
	// ContainerTag is accepted for the seed's sake: memproxy uses the
	// scope as the Supermemory container tag, so no scope can read
	// another's memories.
	ContainerTag      string   `yaml:"container_tag"`
	MaxContextLength  int      `yaml:"max_context_length"`
	MaxResults        int      `yaml:"max_results"`
	Timeout           float64  `yaml:"timeout"`             // seconds, Supermemory HTTP calls
	RetrievalBudgetMS int      `yaml:"retrieval_budget_ms"` // past it a request goes on without memories
	Threshold         float64  `yaml:"threshold"`
	EnabledForModels  []string `yaml:"enabled_for_models"`
	DisabledForModels []string `yaml:"disabled_for_models"`
	// WriteBack is off, user_only or exchange (default).
	WriteBack string `yaml:"write_back"`
	// Extraction distils each finished turn into facts with a model
	// (off without a model: rules mode).
	Extraction Extraction `yaml:"extraction"`

	// EmbeddingModel, a model_name of model_list serving embeddings, turns
	// on hybrid recall (local and postgres backends): memories are
	// embedded when written and searched by meaning as well as by words.
	EmbeddingModel string `yaml:"embedding_model"`
	// EmbeddingDimensions asks the model for vectors of this size (0: the
	// model's own).
	EmbeddingDimensions int `yaml:"embedding_dimensions"`
	// RRFK is the reciprocal rank fusion constant (default 60).
	RRFK int `yaml:"rrf_k"`
	// VectorMinScore is the least cosine similarity a memory needs to be a
	// vector candidate (default 0).
	VectorMinScore float64 `yaml:"vector_min_score"`
	// VectorSearch is where vector search runs: "gateway" (default: the
	// scope's vectors scanned in the gateway) or "pgvector" (PostgreSQL
	// with the pgvector extension: an HNSW index in the database).
	VectorSearch string `yaml:"vector_search"`
}

// Extraction is context_retrieval.extraction.
type Extraction struct {
	// Model is a model_list name; "" keeps rules mode.
	Model string `yaml:"model"`
	// DailyBudgetTokens and DailyBudgetCalls cap the extraction calls of
	// one scope per UTC day (0: no cap); past them a turn is stored by
	// rules.
	DailyBudgetTokens int64 `yaml:"daily_budget_tokens"`
	DailyBudgetCalls  int   `yaml:"daily_budget_calls"`
	// MaxFacts bounds the facts kept from one turn (default 10).
	MaxFacts int `yaml:"max_facts"`
}

// Choices and defaults of context_retrieval.
var (
	memoryBackends   = []string{"local", "postgres", "supermemory"}
	scopePolicies    = []string{"user", "project", "user_project"}
	queryStrategies  = []string{"last_user", "first_user", "all_user", "last_assistant"}
	injectStrategies = []string{"cache_aware", "system", "user_prefix", "user_suffix", "dual"}
	writeBackModes   = []string{"off", "user_only", "exchange"}
)

func defaultContextRetrieval() ContextRetrieval {
	return ContextRetrieval{
		BaseURL: "https://api.supermemory.ai", ScopePolicy: "user_project", QueryStrategy: "last_user",
		InjectionStrategy: "cache_aware", MaxContextLength: 4000, MaxResults: 5, Timeout: 10,
		RetrievalBudgetMS: 300, WriteBack: "exchange", RRFK: 60,
	}
}

// MemoryBackend is the backend context_retrieval selects.
func (c ContextRetrieval) MemoryBackend() string {
	switch {
	case c.Backend != "":
		return c.Backend
	case c.APIKey != "":
		return "supermemory"
	default:
		return "local"
	}
}

// validate checks context_retrieval against the model names.
func (c ContextRetrieval) validate(d *decoder, models []Deployment) {
	const p = "context_retrieval."
	oneOf := func(key, v string, allowed []string) {
		if v != "" && !slices.Contains(allowed, v) {
			d.fail(p+key, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
		}
	}
	oneOf("backend", c.Backend, memoryBackends)
	oneOf("scope_policy", c.ScopePolicy, scopePolicies)
	oneOf("query_strategy", c.QueryStrategy, queryStrategies)
	oneOf("injection_strategy", c.InjectionStrategy, injectStrategies)
	oneOf("write_back", c.WriteBack, writeBackModes)
	if c.MaxContextLength < 100 || c.MaxContextLength > 100000 {
		d.fail(p+"max_context_length", "must be between 100 and 100000 characters, got %d", c.MaxContextLength)
	}
	if c.MaxResults < 1 || c.MaxResults > 20 {
		d.fail(p+"max_results", "must be between 1 and 20, got %d", c.MaxResults)
	}
	if c.Timeout < 1 || c.Timeout > 60 {
		d.fail(p+"timeout", "must be between 1 and 60 seconds, got %v", c.Timeout)
	}
	if c.RetrievalBudgetMS < 10 || c.RetrievalBudgetMS > 60000 {
		d.fail(p+"retrieval_budget_ms", "must be between 10 and 60000, got %d", c.RetrievalBudgetMS)
	}
	if c.MemoryBackend() == "supermemory" && c.APIKey == "" {
		d.fail(p+"api_key", "the supermemory backend needs an API key")
	}
	if len(c.EnabledForModels) > 0 && len(c.DisabledForModels) > 0 {
		d.fail(p+"disabled_for_models", "cannot be used together with enabled_for_models")
	}
	names := map[string]bool{}
	for _, m := range models {
		names[m.ModelName] = true
	}
	if m := c.Extraction.Model; m != "" && !names[m] {
		d.fail(p+"extraction.model", "unknown model_name %q: not in model_list", m)
	}
	if c.Extraction.DailyBudgetTokens < 0 || c.Extraction.DailyBudgetCalls < 0 || c.Extraction.MaxFacts < 0 || c.Extraction.MaxFacts > 50 {
		d.fail(p+"extraction", "budgets must not be negative and max_facts must be between 0 and 50")
	}
	c.validateEmbeddings(d, names)
	for key, list := range map[string][]string{"enabled_for_models": c.EnabledForModels, "disabled_for_models": c.DisabledForModels} {
		for i, n := range list {
			if !names[n] {
				d.fail(fmt.Sprintf("%s%s[%d]", p, key, i), "unknown model_name %q: not in model_list", n)
			}
		}
	}
}

// validateEmbeddings checks the hybrid recall keys.
func (c ContextRetrieval) validateEmbeddings(d *decoder, names map[string]bool) {
	const p = "context_retrieval."
	if c.RRFK < 1 || c.RRFK > 1000 {
		d.fail(p+"rrf_k", "must be between 1 and 1000, got %d", c.RRFK)
	}
	if c.VectorMinScore < -1 || c.VectorMinScore > 1 {
		d.fail(p+"vector_min_score", "must be a cosine similarity between -1 and 1, got %v", c.VectorMinScore)
	}
	if c.EmbeddingDimensions < 0 || c.EmbeddingDimensions > 8192 {
		d.fail(p+"embedding_dimensions", "must be between 0 (the model's own) and 8192, got %d", c.EmbeddingDimensions)
	}
	switch c.VectorSearch {
	case "", "gateway":
	case "pgvector":
		if c.MemoryBackend() == "supermemory" {
			d.fail(p+"vector_search", "pgvector needs the local or postgres backend on a PostgreSQL database_url")
		}
	default:
		d.fail(p+"vector_search", "must be gateway or pgvector, got %q", c.VectorSearch)
	}
	switch {
	case c.EmbeddingModel == "":
		if c.EmbeddingDimensions != 0 {
			d.fail(p+"embedding_dimensions", "needs embedding_model")
		}
	case !names[c.EmbeddingModel]:
		d.fail(p+"embedding_model", "unknown model_name %q: not in model_list", c.EmbeddingModel)
	case c.MemoryBackend() == "supermemory":
		d.fail(p+"embedding_model", "needs the local or postgres backend (Supermemory does its own retrieval)")
	}
}
