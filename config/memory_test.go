package config

import (
	"strings"
	"testing"
)

func TestContextRetrieval(t *testing.T) {
	g, err := Parse("gw.yaml", []byte(mockModel+"context_retrieval:\n  enabled: true\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := g.Memory; !m.Enabled || m.MemoryBackend() != "local" || m.InjectionStrategy != "cache_aware" || m.WriteBack != "exchange" || m.Extraction.Model != "" {
		t.Errorf("defaults: %+v", m)
	}
	g, err = Parse("gw.yaml", []byte(mockModel+"context_retrieval:\n  enabled: true\n  extraction: {model: m, daily_budget_calls: 50}\n"), nil)
	if err != nil || g.Memory.Extraction.Model != "m" || g.Memory.Extraction.DailyBudgetCalls != 50 {
		t.Errorf("extraction: %v %+v", err, g)
	}
	if m := g.Memory; m.RRFK != 60 || m.EmbeddingModel != "" || m.VectorMinScore != 0 {
		t.Errorf("embedding defaults: %+v", m)
	}
	g, err = Parse("gw.yaml", []byte(mockModel+"context_retrieval:\n  enabled: true\n  embedding_model: m\n  embedding_dimensions: 256\n  rrf_k: 20\n  vector_min_score: 0.25\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := g.Memory; m.EmbeddingModel != "m" || m.EmbeddingDimensions != 256 || m.RRFK != 20 || m.VectorMinScore != 0.25 {
		t.Errorf("embedding keys: %+v", m)
	}
	bad := []struct{ yaml, key, msg string }{
		{"  injection_strategy: sideways\n", "context_retrieval.injection_strategy", "must be one of"},
		{"  backend: supermemory\n", "context_retrieval.api_key", "needs an API key"},
		{"  enabled_for_models: [m]\n  disabled_for_models: [m]\n", "context_retrieval.disabled_for_models", "cannot be used together"},
		{"  enabled_for_models: [nope]\n", "context_retrieval.enabled_for_models[0]", `unknown model_name "nope"`},
		{"  max_results: 50\n", "context_retrieval.max_results", "between 1 and 20"},
		{"  scope_policy: everyone\n", "context_retrieval.scope_policy", "must be one of"},
		{"  extraction: {model: nope}\n", "context_retrieval.extraction.model", `unknown model_name "nope"`},
		{"  extraction: {model: m, max_facts: 99}\n", "context_retrieval.extraction", "max_facts"},
		{"  embedding_model: nope\n", "context_retrieval.embedding_model", `unknown model_name "nope"`},
		{"  embedding_model: m\n  api_key: sm-key\n", "context_retrieval.embedding_model", "needs the local or postgres backend"},
		{"  embedding_dimensions: 256\n", "context_retrieval.embedding_dimensions", "needs embedding_model"},
		{"  embedding_model: m\n  embedding_dimensions: -1\n", "context_retrieval.embedding_dimensions", "between 0"},
		{"  rrf_k: 0\n", "context_retrieval.rrf_k", "between 1 and 1000"},
		{"  vector_min_score: 1.5\n", "context_retrieval.vector_min_score", "between -1 and 1"},
		{"  vector_search: faiss\n", "context_retrieval.vector_search", "must be gateway or pgvector"},
		{"  vector_search: pgvector\n  api_key: sm-key\n", "context_retrieval.vector_search", "needs the local or postgres backend"},
	}
	for _, b := range bad {
		_, err := Parse("gw.yaml", []byte(mockModel+"context_retrieval:\n  enabled: true\n"+b.yaml), nil)
		if err == nil || !strings.Contains(err.Error(), b.key) || !strings.Contains(err.Error(), b.msg) || !strings.Contains(err.Error(), "gw.yaml:") {
			t.Errorf("%q: error %v, want %s: %s", b.yaml, err, b.key, b.msg)
		}
	}
}
