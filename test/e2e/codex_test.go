package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// TestCodexCLI runs Codex CLI (`codex exec`) with a custom provider whose
// base_url is an edge port: against a fake OpenAI Responses upstream (the
// API passed through as it is), and against an OpenAI-compatible and an
// Anthropic upstream reached through the Responses → chat translation.
func TestCodexCLI(t *testing.T) {
	dir := clientsDir(t)
	codex := filepath.Join(dir, "node_modules", ".bin", "codex")
	oai, anth, rs := providertest.NewOpenAI(t), providertest.NewAnthropic(t), providertest.NewResponses(t)
	native := "  - model_name: gpt-native\n    litellm_params: {model: openai/gpt-5-codex, api_base: \"" + rs.URL + "/v1\", api_key: sk-oai-up}\n" +
		"    model_info: {native_responses: true}\n"
	g := startGateway(t, twoProviders(oai, anth)+native)
	url := newEdge(t, g, "codex-user").start("cx")
	for _, c := range []struct {
		model string
		reqs  func() []providertest.Recorded
	}{{"gpt-native", rs.Requests}, {"gpt-e2e", oai.Requests}, {"claude-e2e", anth.Requests}} {
		t.Run(c.model, func(t *testing.T) {
			home := t.TempDir()
			cfg := fmt.Sprintf("model = %q\nmodel_provider = \"memproxy\"\n\n[model_providers.memproxy]\nname = \"memproxy\"\nbase_url = %q\nwire_api = \"responses\"\n", c.model, url+"/v1")
			if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, codex, "exec", "--skip-git-repo-check", "Say hello")
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), "CODEX_HOME="+home, "HOME="+home, "OPENAI_API_KEY=dummy")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("codex: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), providertest.Answer()) {
				t.Errorf("codex printed %q, want the model's answer %q", out, providertest.Answer())
			}
			if len(c.reqs()) == 0 {
				t.Fatal("the upstream received nothing")
			}
		})
	}
	var rows []map[string]any
	waitFor(t, "usage rows", func() bool { rows = g.usage("project=cx"); return len(rows) >= 3 })
	for _, r := range rows {
		if r["client"] != "codex" || r["path"] != "/v1/responses" {
			t.Errorf("row %v", r)
		}
	}
}

// TestCodexMemory: a memory taught on a project reaches the upstream in
// Codex's own request (Responses API, passed through to a native
// deployment), and Codex's exchange is written back to the project.
func TestCodexMemory(t *testing.T) {
	codex := filepath.Join(clientsDir(t), "node_modules", ".bin", "codex")
	rs := providertest.NewResponses(t)
	cfg := "model_list:\n  - model_name: gpt-native\n    litellm_params: {model: openai/gpt-5-codex, api_base: \"" + rs.URL + "/v1\", api_key: sk-oai-up}\n" +
		"    model_info: {native_responses: true}\ncontext_retrieval:\n  enabled: true\n"
	g := startGateway(t, cfg)
	e := newEdge(t, g, "codex-user")
	url := e.start("cxm")
	if out := e.run("memory", "add", "--project", "cxm", "The staging database listens on port 6543."); !strings.Contains(out, "remembered as") {
		t.Fatalf("memory add: %s", out)
	}
	home := t.TempDir()
	toml := fmt.Sprintf("model = \"gpt-native\"\nmodel_provider = \"memproxy\"\n\n[model_providers.memproxy]\nname = \"memproxy\"\nbase_url = %q\nwire_api = \"responses\"\n", url+"/v1")
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, codex, "exec", "--skip-git-repo-check", "Which port does the staging database listen on?")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "CODEX_HOME="+home, "HOME="+home, "OPENAI_API_KEY=dummy")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("codex: %v\n%s", err, out)
	}
	found := false
	for _, r := range rs.Requests() {
		b, _ := json.Marshal(r.Body)
		found = found || (strings.Contains(string(b), "port 6543") && strings.Contains(string(b), "memproxy-context"))
	}
	if !found {
		t.Fatalf("no request of Codex's carried the memory: %d requests", len(rs.Requests()))
	}
	waitFor(t, "Codex's exchange written back", func() bool {
		return strings.Contains(e.run("memory", "list", "--project", "cxm"), "Which port does the staging database listen on?")
	})
	// Usage rows are written off the request path: wait for Codex's.
	waitFor(t, "a Codex usage row recording the injection", func() bool {
		return slices.ContainsFunc(g.usage("project=cxm"), func(r map[string]any) bool {
			return r["client"] == "codex" && r["memory_status"] == "injected"
		})
	})
}
