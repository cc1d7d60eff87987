package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeEnv returns an env lookup over m.
func fakeEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func parseFile(t *testing.T, path string, env map[string]string) *Gateway {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse(path, data, fakeEnv(env))
	if err != nil {
		t.Fatalf("Parse(%s):\n%v", path, err)
	}
	return g
}

// modelSummary is what a test checks about each deployment.
type modelSummary struct {
	Name, Provider, ProviderName, Upstream, BaseURL, Key string
	Headers                                              map[string]string
}

func summarize(g *Gateway) []modelSummary {
	var out []modelSummary
	for _, m := range g.Models {
		s := modelSummary{m.ModelName, m.Provider, m.ProviderName, m.UpstreamModel, m.BaseURL, m.Params.APIKey.Reveal(), nil}
		for k, v := range m.Params.ExtraHeaders {
			if s.Headers == nil {
				s.Headers = map[string]string{}
			}
			s.Headers[k] = v.Reveal()
		}
		out = append(out, s)
	}
	return out
}

func checkModels(t *testing.T, got []modelSummary, want []modelSummary) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d models, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Provider != w.Provider || g.ProviderName != w.ProviderName ||
			g.Upstream != w.Upstream || g.BaseURL != w.BaseURL || g.Key != w.Key || len(g.Headers) != len(w.Headers) {
			t.Errorf("model %d:\n got %+v\nwant %+v", i, g, w)
			continue
		}
		for k, v := range w.Headers {
			if g.Headers[k] != v {
				t.Errorf("model %d header %s = %q, want %q", i, k, g.Headers[k], v)
			}
		}
	}
}

func TestSeedConfig(t *testing.T) {
	// Only variables under implemented keys are set: SUPERMEMORY_API_KEY is
	// needed by extra_headers; litellm_settings.database_url reuses
	// DATABASE_URL but is ignored anyway.
	g := parseFile(t, "testdata/seed-config.yaml", map[string]string{
		"DATABASE_URL":        "postgres://memproxy:pw@db:5432/memproxy",
		"OPENAI_API_KEY":      "sk-openai",
		"GEMINI_API_KEY":      "gm-key",
		"ANTHROPIC_API_KEY":   "sk-ant",
		"SUPERMEMORY_API_KEY": "sm-key",
	})
	if got := g.General.MasterKey.Reveal(); got != "sk-1234" {
		t.Errorf("master_key = %q", got)
	}
	if g.General.DatabaseURL != "postgres://memproxy:pw@db:5432/memproxy" {
		t.Errorf("database_url = %q", g.General.DatabaseURL)
	}
	if got := g.General.MaxRequestBytes(); got != 32<<20 {
		t.Errorf("MaxRequestBytes = %d, want default %d", got, 32<<20)
	}
	sm := map[string]string{"x-supermemory-api-key": "sm-key"}
	const openai, anthropic = "https://api.openai.com/v1", "https://api.supermemory.ai/v3/api.anthropic.com"
	const gemini = "https://generativelanguage.googleapis.com/v1beta"
	checkModels(t, summarize(g), []modelSummary{
		{"gpt-5-pro", "openai", "openai", "gpt-5-pro", openai, "sk-openai", nil},
		{"gpt-5-codex", "openai", "openai", "gpt-5-codex", openai, "sk-openai", nil},
		{"gpt", "openai", "openai", "gpt-5-codex", openai, "sk-openai", nil},
		{"gemini-high", "gemini", "gemini", "gemini-3-pro-preview", gemini, "gm-key", nil},
		{"gemini-low", "gemini", "gemini", "gemini-3-pro-preview", gemini, "gm-key", nil},
		{"gemini-test", "gemini", "gemini", "gemini-2.5-pro", "https://api.supermemory.ai/v3/generativelanguage.googleapis.com/v1beta", "gm-key", sm},
		{"claude-sonnet-4.5", "anthropic", "anthropic", "claude-sonnet-4-5-20250929", anthropic, "sk-ant", sm},
		{"sonnet", "anthropic", "anthropic", "claude-sonnet-4-5-20250929", "https://api.anthropic.com", "sk-ant", nil},
		{"claude-haiku-4.5", "anthropic", "anthropic", "claude-haiku-4-5-20251001", anthropic, "sk-ant", sm},
	})
	if ct := g.Models[6].Params.CustomLLMProvider; ct != "anthropic" {
		t.Errorf("claude-sonnet-4.5 custom_llm_provider = %q", ct)
	}

	um := g.UserIDMappings
	if um.CustomHeader != "x-memory-user-id" || um.DefaultUserID != "default-dev" || len(um.HeaderPatterns) != 3 {
		t.Fatalf("user_id_mappings = %+v", um)
	}
	hp := um.HeaderPatterns[1]
	if hp.Header != "user-agent" || hp.Pattern != "^anthropic-sdk-python" || hp.UserID != "claude-code" ||
		!hp.Regexp().MatchString("anthropic-sdk-python/0.5.0") {
		t.Errorf("header_patterns[1] = %+v", hp)
	}

	wantIgnored := []string{
		"general_settings.database_connection_pool_limit", "general_settings.forward_client_headers_to_llm_api",
		"general_settings.forward_openai_org_id", "general_settings.store_model_in_db",
		"general_settings.store_prompts_in_spend_logs",
		"litellm_settings.database_type",
		"litellm_settings.database_url", "litellm_settings.drop_params", "litellm_settings.failure_callback",
		"litellm_settings.forward_traceparent_to_llm_provider", "litellm_settings.json_logs",
		"litellm_settings.mcp_aliases",
		"litellm_settings.set_verbose", "litellm_settings.store_model_in_db", "litellm_settings.success_callback",
		"model_list[].litellm_params.reasoning_effort", "model_list[].litellm_params.thinking",
	}
	if m := g.MCPServers["jetbrains_mcp"]; len(g.MCPServers) != 1 || m.TransportKind() != MCPTransportSSE ||
		m.URL != "http://localhost:64342/sse" || m.AuthType != "none" || len(m.RequestHeaders()) != 0 {
		t.Errorf("mcp_servers = %+v", g.MCPServers)
	}
	cr := g.Memory
	if !cr.Enabled || cr.MemoryBackend() != "supermemory" || cr.APIKey.Reveal() == "" || cr.QueryStrategy != "all_user" ||
		cr.InjectionStrategy != "dual" || cr.MaxResults != 5 || cr.MaxContextLength != 4000 || len(cr.EnabledForModels) != 4 ||
		cr.WriteBack != "exchange" || cr.RetrievalBudgetMS != 300 || cr.ScopePolicy != "user_project" {
		t.Errorf("context_retrieval = %+v", cr)
	}
	if c := g.Cache; !c.Enabled || c.Params.Type != "redis" || c.Params.TTL != 3600 || c.Params.Password.Reveal() != "sk-1234" {
		t.Errorf("cache = %+v", c)
	}
	if tl := g.Telemetry; !tl.Enabled || tl.Exporter != "otlp_http" || tl.Endpoint != "http://localhost:4318/v1/traces" ||
		tl.ServiceName != "litellm-proxy" || tl.Headers != nil {
		t.Errorf("telemetry = %+v", tl)
	}
	if te := g.Tools; !te.Enabled || te.MaxIterations != 10 || te.TimeoutPerTool != 30 || te.MaxResults != 5 {
		t.Errorf("tool_execution = %+v", te)
	}
	if !slices.Equal(g.Ignored, wantIgnored) {
		t.Errorf("Ignored =\n%s\nwant\n%s", strings.Join(g.Ignored, "\n"), strings.Join(wantIgnored, "\n"))
	}
}

func TestExampleConfig(t *testing.T) {
	g := parseFile(t, "gateway.example.yaml", map[string]string{
		"MEMPROXY_MASTER_KEY": "mk-example",
		"OPENAI_API_KEY":      "sk-openai",
		"ANTHROPIC_API_KEY":   "sk-ant",
	})
	if g.General.MasterKey.Reveal() != "mk-example" || g.General.DatabaseURL != "" {
		t.Errorf("general_settings = %+v", g.General)
	}
	checkModels(t, summarize(g), []modelSummary{
		{"mock", "mock", "mock", "echo", "", "", nil},
		{"gpt-4o", "openai", "openai", "gpt-4o", "https://api.openai.com/v1", "sk-openai", nil},
		{"claude-sonnet-4.5", "anthropic", "anthropic", "claude-sonnet-4-5-20250929", "https://api.anthropic.com", "sk-ant", nil},
		{"llama3", "openai_compatible", "ollama", "llama3.1", "http://localhost:11434/v1", "", nil},
	})
	if d := g.Models[1].Params.StreamTimeoutDuration(); d.Seconds() != 60 {
		t.Errorf("gpt-4o stream timeout = %v", d)
	}
	if n := len(g.UserIDMappings.HeaderPatterns); n != 2 || g.Ignored != nil {
		t.Errorf("header_patterns = %d, Ignored = %v", n, g.Ignored)
	}
}

func TestDefault(t *testing.T) {
	g := Default()
	checkModels(t, summarize(g), []modelSummary{{"mock", "mock", "mock", "echo", "", "", nil}})
	if g.General.MasterKey != "" || g.General.DatabaseURL != "" || g.General.MaxRequestBytes() != 32<<20 {
		t.Errorf("general = %+v", g.General)
	}
	if g.UserIDMappings.CustomHeader != "x-memory-user-id" || g.UserIDMappings.DefaultUserID != "default-dev" {
		t.Errorf("user_id_mappings = %+v", g.UserIDMappings)
	}
	// Memory is on without a file (the demo shows it), off in a file that
	// does not ask for it.
	if m := g.Memory; !m.Enabled || m.MemoryBackend() != "local" || m.WriteBack != "exchange" {
		t.Errorf("default memory = enabled %v, backend %q, write_back %q; want on, local, exchange", m.Enabled, m.MemoryBackend(), m.WriteBack)
	}
	if f, err := Parse("gw.yaml", []byte("model_list:\n  - model_name: m\n    litellm_params: {model: mock/echo}\n"), nil); err != nil || f.Memory.Enabled {
		t.Errorf("a file without context_retrieval: memory enabled = %v (err %v), want off", f != nil && f.Memory.Enabled, err)
	}
	Default().Models[0].ModelName = "changed"
	if Default().Models[0].ModelName != "mock" {
		t.Error("Default shares state between calls")
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(path, []byte("model_list:\n  - model_name: m\n    litellm_params:\n      model: mock/echo\n      api_key: os.environ/MEMPROXY_TEST_LOAD_KEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MEMPROXY_TEST_LOAD_KEY", "from-env")
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if g.Source != path || g.Models[0].Params.APIKey.Reveal() != "from-env" {
		t.Errorf("Source %q key %q", g.Source, g.Models[0].Params.APIKey.Reveal())
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestMaxRequestBytes(t *testing.T) {
	for _, tc := range []struct {
		mb   float64
		want int64
	}{{0, 32 << 20}, {1, 1 << 20}, {0.5, 512 << 10}, {100, 100 << 20}} {
		if got := (GeneralSettings{MaxRequestSizeMB: tc.mb}).MaxRequestBytes(); got != tc.want {
			t.Errorf("MaxRequestBytes(%v) = %d, want %d", tc.mb, got, tc.want)
		}
	}
	g, err := Parse("c.yaml", []byte("general_settings:\n  max_request_size_mb: 8\nmodel_list:\n  - {model_name: m, litellm_params: {model: mock/x}}\n"), nil)
	if err != nil || g.General.MaxRequestBytes() != 8<<20 {
		t.Errorf("Parse max_request_size_mb: 8 = %v, %v", g, err)
	}
}

func TestRedacted(t *testing.T) {
	g := parseFile(t, "testdata/seed-config.yaml", map[string]string{
		"DATABASE_URL": "postgres://memproxy:hunter2@db/mp?sslmode=disable", "OPENAI_API_KEY": "sk-openai-secret",
		"GEMINI_API_KEY": "gm-secret", "ANTHROPIC_API_KEY": "sk-ant-secret", "SUPERMEMORY_API_KEY": "sm-secret",
	})
	r := g.Redacted()
	dump := strings.Join([]string{
		sprintAll(r), r.General.MasterKey.Reveal(), r.General.DatabaseURL,
		r.Models[0].Params.APIKey.Reveal(), r.Models[6].Params.ExtraHeaders["x-supermemory-api-key"].Reveal(),
	}, "\n")
	for _, secret := range []string{"sk-1234", "hunter2", "sk-openai-secret", "gm-secret", "sk-ant-secret", "sm-secret"} {
		if strings.Contains(dump, secret) {
			t.Errorf("Redacted copy leaks %q:\n%s", secret, dump)
		}
	}
	if r.General.DatabaseURL != "postgres://memproxy:xxxxx@db/mp?sslmode=disable" {
		t.Errorf("redacted database_url = %q", r.General.DatabaseURL)
	}
	if g.Models[0].Params.APIKey.Reveal() != "sk-openai-secret" || g.Models[6].Params.ExtraHeaders["x-supermemory-api-key"].Reveal() != "sm-secret" {
		t.Error("Redacted modified the original")
	}
	if r.Models[0].Params.APIKey.Reveal() != "[redacted]" || r.Models[0].ModelName != "gpt-5-pro" {
		t.Errorf("redacted model = %+v", r.Models[0])
	}
}

func TestServingSettings(t *testing.T) {
	cfg := Default()
	if g := cfg.General; g.RequestBodyTimeoutDuration() != DefaultRequestBodyTimeout ||
		g.MaxConnectionsPerIP != DefaultMaxConnectionsPerIP || g.DrainTimeoutDuration() != DefaultDrainTimeout {
		t.Fatalf("defaults: %+v", g)
	}
	src := "general_settings:\n  request_body_timeout: 2.5\n  max_connections_per_ip: 0\n  drain_timeout: 900\n" + mockModel
	cfg, err := Parse("gw.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.General; g.RequestBodyTimeoutDuration() != 2500*time.Millisecond || g.MaxConnectionsPerIP != 0 ||
		g.DrainTimeoutDuration() != 15*time.Minute {
		t.Fatalf("parsed: %+v", g)
	}
	_, err = Parse("gw.yaml", []byte("general_settings:\n  drain_timeout: -1\n  max_connections_per_ip: -3\n"+mockModel), nil)
	for _, want := range []string{"gw.yaml:2: general_settings.drain_timeout: must be", "gw.yaml:3: general_settings.max_connections_per_ip: must be 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}
