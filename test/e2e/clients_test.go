package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// clientsDir returns the folder where .ci/run installed the npm clients of
// test/e2e/clients/package.json. Without it the tests skip, unless
// MEMPROXY_REQUIRE_CLIENTS is set (as in CI), where they fail.
func clientsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MEMPROXY_CLIENTS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "memproxy-clients")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil {
		if os.Getenv("MEMPROXY_REQUIRE_CLIENTS") != "" {
			t.Fatalf("npm clients not installed in %s (MEMPROXY_REQUIRE_CLIENTS is set): run .ci/run's install step", dir)
		}
		t.Skipf("npm clients not installed in %s; .ci/run installs them (set MEMPROXY_REQUIRE_CLIENTS=1 to fail instead)", dir)
	}
	return dir
}

// node runs one of the client scripts against baseURL and decodes its JSON.
func node(t *testing.T, dir, script, baseURL string, env ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("clients", script))
	cmd.Env = append(os.Environ(), append(env, "BASE_URL="+baseURL, "NODE_PATH="+filepath.Join(dir, "node_modules"))...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s%s", script, err, out.String(), errb.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("node %s printed %q: %v", script, out.String(), err)
	}
	return res
}

// twoProviders is a gateway config with an OpenAI and an Anthropic fake.
func twoProviders(oai *providertest.OpenAI, anth *providertest.Anthropic) string {
	return `model_list:
  - model_name: gpt-e2e
    litellm_params: {model: openai/gpt-upstream, api_base: "` + oai.URL + `/v1", api_key: sk-oai-up}
  - model_name: claude-e2e
    litellm_params: {model: anthropic/claude-upstream, api_base: "` + anth.URL + `", api_key: sk-ant-up}
`
}

var weatherCall = &providertest.ToolCall{Name: "get_weather", Input: `{"city":"Paris"}`}

// TestOpenAISDK drives the official openai npm client through an edge, to
// an OpenAI upstream and, translated, to an Anthropic one.
func TestOpenAISDK(t *testing.T) {
	dir := clientsDir(t)
	oai, anth := providertest.NewOpenAI(t), providertest.NewAnthropic(t)
	oai.ToolCall, anth.ToolCall = weatherCall, weatherCall
	g := startGateway(t, twoProviders(oai, anth))
	url := newEdge(t, g, "sdk-user").start("sdk")
	for _, model := range []string{"gpt-e2e", "claude-e2e"} {
		t.Run(model, func(t *testing.T) {
			env := []string{"MODEL=" + model, "TOOLS=1"}
			if model == "gpt-e2e" {
				env = append(env, "EMBED=1")
			}
			res := node(t, dir, "openai_sdk.cjs", url+"/v1", env...)
			answer := providertest.Answer()
			if res["chat"] != answer || res["stream"] != answer || res["after_tool"] != answer {
				t.Errorf("answers: %v", res)
			}
			tc, _ := res["tool_call"].(map[string]any)
			args, _ := tc["arguments"].(map[string]any)
			if tc["name"] != "get_weather" || args["city"] != "Paris" || tc["finish"] != "tool_calls" {
				t.Errorf("tool call: %v", res["tool_call"])
			}
			if model == "gpt-e2e" && res["embedding_len"] != float64(3) {
				t.Errorf("embeddings: %v", res["embedding_len"])
			}
		})
	}
	// What the upstreams received: the tool result went back to each.
	if !sawToolResult(oai.Requests(), "tool") || !sawToolResult(anth.Requests(), "tool_result") {
		t.Error("an upstream never received the tool result")
	}
	if auth := oai.Requests()[0].Header.Get("Authorization"); auth != "Bearer sk-oai-up" {
		t.Errorf("OpenAI upstream saw Authorization %q", auth)
	}
}

// TestAnthropicSDK drives the official @anthropic-ai/sdk npm client
// through an edge, to an Anthropic upstream and, translated, to OpenAI.
func TestAnthropicSDK(t *testing.T) {
	dir := clientsDir(t)
	oai, anth := providertest.NewOpenAI(t), providertest.NewAnthropic(t)
	oai.ToolCall, anth.ToolCall = weatherCall, weatherCall
	g := startGateway(t, twoProviders(oai, anth))
	url := newEdge(t, g, "sdk-user").start("sdk")
	for _, model := range []string{"claude-e2e", "gpt-e2e"} {
		t.Run(model, func(t *testing.T) {
			res := node(t, dir, "anthropic_sdk.cjs", url, "MODEL="+model, "TOOLS=1")
			answer := providertest.Answer()
			if res["message"] != answer || res["stream_deltas"] != answer || res["stream_final"] != answer || res["after_tool"] != answer {
				t.Errorf("answers: %v", res)
			}
			if res["stop_reason"] != "end_turn" || res["stream_stop"] != "end_turn" {
				t.Errorf("stop reasons: %v / %v", res["stop_reason"], res["stream_stop"])
			}
			tu, _ := res["tool_use"].(map[string]any)
			in, _ := tu["input"].(map[string]any)
			if tu["name"] != "get_weather" || in["city"] != "Paris" || tu["stop"] != "tool_use" {
				t.Errorf("tool use: %v", res["tool_use"])
			}
		})
	}
	if v := anth.Requests()[0].Header.Get("Anthropic-Version"); v == "" {
		t.Error("anthropic-version did not reach the Anthropic upstream")
	}
	if !sawToolResult(oai.Requests(), "tool") || !sawToolResult(anth.Requests(), "tool_result") {
		t.Error("an upstream never received the tool result")
	}
}

// sawToolResult reports whether any recorded request carried a tool result:
// an OpenAI "tool" message or an Anthropic "tool_result" block.
func sawToolResult(reqs []providertest.Recorded, kind string) bool {
	for _, r := range reqs {
		b, _ := json.Marshal(r.Body["messages"])
		if (kind == "tool" && strings.Contains(string(b), `"role":"tool"`)) ||
			(kind == "tool_result" && strings.Contains(string(b), `"type":"tool_result"`)) {
			return true
		}
	}
	return false
}

// TestClaudeCode runs the Claude Code CLI headless through an edge: against
// an Anthropic upstream, and against an OpenAI one through translation.
func TestClaudeCode(t *testing.T) {
	dir := clientsDir(t)
	claude := filepath.Join(dir, "node_modules", ".bin", "claude")
	oai, anth := providertest.NewOpenAI(t), providertest.NewAnthropic(t)
	g := startGateway(t, twoProviders(oai, anth))
	url := newEdge(t, g, "cc-user").start("cc")
	for _, c := range []struct {
		model string
		reqs  func() []providertest.Recorded
	}{{"claude-e2e", anth.Requests}, {"gpt-e2e", oai.Requests}} {
		t.Run(c.model, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, claude, "-p", "Say hello", "--model", c.model)
			ownGroup(t, cmd)
			cmd.Env = append(os.Environ(), "ANTHROPIC_BASE_URL="+url, "ANTHROPIC_API_KEY=dummy", "DISABLE_TELEMETRY=1",
				"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "HOME="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("claude: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), providertest.Answer()) {
				t.Errorf("claude printed %q, want the model's answer %q", out, providertest.Answer())
			}
			reqs := c.reqs()
			if len(reqs) == 0 {
				t.Fatal("the upstream received nothing")
			}
			last := reqs[len(reqs)-1]
			if last.Body["stream"] != true {
				t.Errorf("upstream request was not streamed: %v", last.Body["stream"])
			}
		})
	}
	var rows []map[string]any
	waitFor(t, "usage rows", func() bool { rows = g.usage("project=cc"); return len(rows) >= 2 })
	for _, r := range rows {
		if r["client"] != "claude-code" {
			t.Errorf("row client %v, want claude-code", r["client"])
		}
	}
}
