package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// everythingServer returns the entry point of @modelcontextprotocol/
// server-everything (stdio is its default transport) from the npm
// clients, skipping (or failing, under MEMPROXY_REQUIRE_CLIENTS) when it
// is not installed.
func everythingServer(t *testing.T) string {
	t.Helper()
	js := filepath.Join(clientsDir(t), "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	if _, err := os.Stat(js); err != nil {
		if os.Getenv("MEMPROXY_REQUIRE_CLIENTS") != "" {
			t.Fatalf("@modelcontextprotocol/server-everything is not installed (MEMPROXY_REQUIRE_CLIENTS is set): %v", err)
		}
		t.Skipf("@modelcontextprotocol/server-everything is not installed (%v); .ci/run installs it", err)
	}
	return js
}

// TestMCPServerToolsE2E: the gateway runs the real server-everything over
// stdio; the model calls its echo tool, the gateway runs it, the model's
// second request carries the tool's text, and the client sees only the
// final answer.
func TestMCPServerToolsE2E(t *testing.T) {
	js := everythingServer(t)
	fake := providertest.NewOpenAI(t)
	fake.ToolCall = &providertest.ToolCall{Name: "everything__echo", Input: `{"message":"hi from mcp"}`}
	g := startGateway(t, memoryConfig(fake.URL)+`tool_execution:
  enabled: true
  timeout_per_tool: 20
mcp_servers:
  everything:
    transport: stdio
    command: node
    args: ["`+js+`", stdio]
    allowed_tools: [echo, get-sum]
`)
	url := newEdge(t, g, "alice").start("shop")
	body := `{"model":"gpt-e2e","messages":[{"role":"user","content":"echo something for me"}]}`
	// The gateway connects in the background: until it has, the tool is
	// not the gateway's and the model's call reaches the client.
	var out string
	waitFor(t, "server-everything's tools", func() bool {
		_, out = chat(t, url, body, "claude-cli/2.0 (external, cli)")
		return !strings.Contains(out, "everything__echo")
	})
	if !strings.Contains(out, fake.Answer()) || strings.Contains(out, "tool_calls") || strings.Contains(out, "Echo:") {
		t.Fatalf("client got: %s", out)
	}
	reqs := fake.Requests()
	if len(reqs) < 2 {
		t.Fatalf("upstream got %d requests", len(reqs))
	}
	offered, _ := json.Marshal(reqs[len(reqs)-2].Body["tools"])
	second, _ := json.Marshal(reqs[len(reqs)-1].Body["messages"])
	if !strings.Contains(string(offered), `"everything__echo"`) || !strings.Contains(string(offered), `"everything__get-sum"`) ||
		strings.Contains(string(offered), "everything__get-env") {
		t.Errorf("tools offered (allowed_tools: echo, get-sum): %s", offered)
	}
	if !strings.Contains(string(second), "Echo: hi from mcp") {
		t.Errorf("the model's second request lacks the tool result: %s", second)
	}
	waitFor(t, "the usage row naming the MCP tool", func() bool { // rows are written just after the answer
		rows := g.usage("limit=1")
		return len(rows) == 1 && rows[0]["tools_called"] == "everything__echo" && rows[0]["tool_rounds"] == float64(1)
	})
}

// mcpSession opens an MCP session with the Go SDK client, as an IDE's MCP
// client would after `claude mcp add --transport http memory URL/mcp`.
func mcpSession(t *testing.T, url string, noGET bool) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "e2e-ide", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url + "/mcp", DisableStandaloneSSE: noGET}, nil)
	if err != nil {
		t.Fatalf("connecting to %s/mcp: %v", url, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func mcpTool(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	if res.IsError {
		return "ERROR: " + strings.Join(parts, "\n")
	}
	return strings.Join(parts, "\n")
}

// rawMCP sends one request of an existing session straight to url/mcp.
func rawMCP(t *testing.T, method, url, session, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url+"/mcp", strings.NewReader(body))
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp, readAll(t, resp.Body)
}

// TestMCPMemoryThroughEdge: an MCP client on an edge port reaches the
// gateway's /mcp through the tunnel with no key, and acts in that edge's
// user and project only.
func TestMCPMemoryThroughEdge(t *testing.T) {
	fake := providertest.NewOpenAI(t)
	g := startGateway(t, memoryConfig(fake.URL))
	alice := newEdge(t, g, "alice")
	shop, billing := alice.start("shop"), alice.start("billing")
	bobShop := newEdge(t, g, "bob").start("shop")

	cs := mcpSession(t, shop, false) // with its GET stream held open through the tunnel
	sessions := []*sdk.ClientSession{cs}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var names []string
	for tl, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tl.Name)
	}
	if strings.Join(names, ",") != "memory_add,memory_delete,memory_get,memory_search" {
		t.Fatalf("tools through the edge: %v", names)
	}
	if out := mcpTool(t, cs, "memory_add", map[string]any{"content": "Shop invoices are cut on the 3rd of each month."}); !strings.Contains(out, `"created":true`) {
		t.Fatalf("memory_add: %s", out)
	}
	if out := mcpTool(t, cs, "memory_search", map[string]any{"query": "invoices cut"}); !strings.Contains(out, "3rd of each month") {
		t.Errorf("memory_search: %s", out)
	}
	// The same memory, seen from the edge's own CLI.
	if out := alice.run("memory", "search", "--project", "shop", "invoices"); !strings.Contains(out, "3rd of each month") {
		t.Errorf("memedge memory search: %s", out)
	}

	// Another project of the same user, and another user on the same
	// project name, see nothing.
	for name, url := range map[string]string{"alice/billing": billing, "bob/shop": bobShop} {
		other := mcpSession(t, url, true)
		sessions = append(sessions, other)
		if out := mcpTool(t, other, "memory_search", map[string]any{"query": "invoices cut"}); strings.Contains(out, "3rd of each month") {
			t.Errorf("%s found alice/shop's memory: %s", name, out)
		}
		// alice/shop's session, named from that port, is refused.
		resp, body := rawMCP(t, http.MethodPost, url, cs.ID(),
			`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"memory_search","arguments":{"query":"invoices"}}}`)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "3rd of each month") {
			t.Errorf("%s used alice/shop's session: %d %s", name, resp.StatusCode, body)
		}
	}

	// DELETE ends a session: its id is unknown afterwards.
	gone := mcpSession(t, shop, true)
	sessions = append(sessions, gone)
	if resp, body := rawMCP(t, http.MethodDelete, shop, gone.ID(), ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE through the edge: %d %s", resp.StatusCode, body)
	}
	if resp, _ := rawMCP(t, http.MethodPost, shop, gone.ID(), `{"jsonrpc":"2.0","id":6,"method":"tools/list"}`); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a deleted session answered %d", resp.StatusCode)
	}

	// A GET stream through the tunnel, on a session opened by hand (so no
	// client closes it after the gateway is gone): headers arrive at once
	// and the stream stays open until the gateway stops.
	resp, _ := rawMCP(t, http.MethodPost, shop, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":`+
		`{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize through the edge: %d %v", resp.StatusCode, resp.Header)
	}
	rawMCP(t, http.MethodPost, shop, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	req, _ := http.NewRequest(http.MethodGet, shop+"/mcp", nil)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Accept", "text/event-stream")
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if stream.StatusCode != 200 || !strings.HasPrefix(stream.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET stream through the edge: %d %v", stream.StatusCode, stream.Header)
	}
	ended := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stream.Body); close(ended) }()
	select {
	case <-ended:
		t.Fatal("the GET stream ended on its own")
	case <-time.After(300 * time.Millisecond):
	}

	// The clients leave while the gateway is up (closing sends DELETE).
	for _, c := range sessions {
		c.Close()
	}

	// A gateway with an MCP client attached (its GET stream held through
	// the tunnel) still stops promptly.
	start := time.Now()
	g.stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gateway took %s to stop with an MCP client attached", d)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Error("the GET stream outlived the gateway")
	}
}

// TestMCPClaudeCodeMemory: Claude Code itself, configured with the edge
// port's /mcp as an HTTP MCP server, calls memory_search when the model
// asks; the tool result it sends back holds the project's memory.
func TestMCPClaudeCodeMemory(t *testing.T) {
	claude := filepath.Join(clientsDir(t), "node_modules", ".bin", "claude")
	fake, anth := providertest.NewOpenAI(t), providertest.NewAnthropic(t)
	anth.ToolCall = &providertest.ToolCall{Name: "mcp__memory__memory_search", Input: `{"query":"invoices"}`}
	g := startGateway(t, twoProviders(fake, anth)+"context_retrieval:\n  enabled: true\n  write_back: \"off\"\n")
	e := newEdge(t, g, "cc-user")
	url := e.start("cc")
	e.run("memory", "add", "--project", "cc", "Invoices are cut on the 3rd of each month.")

	mcpConfig := filepath.Join(t.TempDir(), "mcp.json")
	if err := os.WriteFile(mcpConfig, []byte(`{"mcpServers":{"memory":{"type":"http","url":"`+url+`/mcp"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, claude, "-p", "When are invoices cut?", "--model", "claude-e2e",
		"--mcp-config", mcpConfig, "--strict-mcp-config", "--allowedTools", "mcp__memory__memory_search")
	cmd.Env = append(os.Environ(), "ANTHROPIC_BASE_URL="+url, "ANTHROPIC_API_KEY=dummy", "DISABLE_TELEMETRY=1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("claude: %v\n%s", err, out)
	}
	var sawResult bool
	for _, r := range anth.Requests() {
		msgs, _ := r.Body["messages"].([]any)
		for _, m := range msgs {
			blocks, _ := m.(map[string]any)["content"].([]any)
			for _, b := range blocks {
				if b, _ := b.(map[string]any); b["type"] == "tool_result" {
					text, _ := json.Marshal(b["content"])
					// memory_search's own JSON, not memory injected by retrieval
					sawResult = sawResult || strings.Contains(string(text), "3rd of each month") && strings.Contains(string(text), `\"count\":1`)
				}
			}
		}
	}
	if !sawResult {
		t.Errorf("no request carried memory_search's result; claude printed:\n%s", out)
	}
}
