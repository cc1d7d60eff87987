package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memproxy/memproxy/gateway/mcp"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// headerTransport adds fixed headers, as an MCP client configured with
// --header does.
type headerTransport map[string]string

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func mcpConnect(t *testing.T, url string, hdr headerTransport) (*sdk.ClientSession, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "gateway-test", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: hdr}, MaxRetries: -1}, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}

func mcpCall(t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// TestMCPMemoryEndpoint: /mcp is authenticated like the API, acts in the
// scope the memory API derives, and binds each session to its caller.
func TestMCPMemoryEndpoint(t *testing.T) {
	h := memToolsHarness(t, &fakeMemory{}, func(o *MemoryOptions) { o.WriteBack = "off" }, &ToolOptions{})
	aliceShop := headerTransport{"Authorization": "Bearer " + testMaster, "X-Memory-User-Id": "alice", "X-Memory-Project": "shop"}
	if _, err := mcpConnect(t, h.httpURL+"/mcp", headerTransport{}); err == nil {
		t.Fatal("an MCP session opened without a key")
	}
	cs, err := mcpConnect(t, h.httpURL+"/mcp", aliceShop)
	if err != nil {
		t.Fatal(err)
	}
	if out := mcpCall(t, cs, "memory_add", map[string]any{"content": "The release train leaves on Thursdays."}); !strings.Contains(out, `"created":true`) {
		t.Fatalf("memory_add = %s", out)
	}
	if out := mcpCall(t, cs, "memory_search", map[string]any{"query": "release train"}); !strings.Contains(out, "Thursdays") {
		t.Errorf("memory_search = %s", out)
	}
	// The memory API sees the same memory in the same scope.
	req, _ := newReq(http.MethodGet, h.httpURL+"/v1/memory/search?q=release", []string{"X-Memory-User-Id", "alice", "X-Memory-Project", "shop"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "Thursdays") || !strings.Contains(string(b), `"scope":"u:alice/p:shop"`) {
		t.Errorf("memory API: %s", b)
	}

	// Another project: its own session sees nothing, and alice's shop
	// session is refused to it.
	aliceBilling := headerTransport{"Authorization": "Bearer " + testMaster, "X-Memory-User-Id": "alice", "X-Memory-Project": "billing"}
	other, err := mcpConnect(t, h.httpURL+"/mcp", aliceBilling)
	if err != nil {
		t.Fatal(err)
	}
	if out := mcpCall(t, other, "memory_search", map[string]any{"query": "release train"}); strings.Contains(out, "Thursdays") {
		t.Errorf("billing saw shop's memory: %s", out)
	}
	hijack, _ := http.NewRequest(http.MethodPost, h.httpURL+"/mcp",
		strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"memory_search","arguments":{"query":"release"}}}`))
	for k, v := range aliceBilling {
		hijack.Header.Set(k, v)
	}
	hijack.Header.Set("Mcp-Session-Id", cs.ID())
	hijack.Header.Set("Content-Type", "application/json")
	hijack.Header.Set("Accept", "application/json, text/event-stream")
	resp, err = http.DefaultClient.Do(hijack)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(b), "Thursdays") {
		t.Errorf("alice/shop's session used as alice/billing: %d %s", resp.StatusCode, b)
	}
}

// TestMCPEndpointDrain: a held-open MCP stream does not hold up shutdown.
// The grace period is an hour, so a drain that waited for the stream would
// hang: the test fails at its deadline instead.
func TestMCPEndpointDrain(t *testing.T) {
	oai := providertest.NewOpenAI(t)
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: gpt\n    litellm_params: {model: openai/gpt-up, api_base: \"" + oai.URL + "/v1\", api_key: k}\n"
	h := serveYAML(t, y, oai, func(o *Options) {
		o.Memory = &MemoryOptions{Enabled: true, Backend: &fakeMemory{}, BackendName: "fake"}
		o.Tools = &ToolOptions{}
		o.ShutdownGrace = time.Hour
	})
	hdr := headerTransport{"Authorization": "Bearer " + testMaster, "X-Memory-Project": "shop"}
	// A session opened by hand (the SDK client would race us for the
	// session's one GET stream), then its server-to-client stream: once
	// its headers are here, the gateway holds it open.
	mcpPost := func(sid, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, h.httpURL+"/mcp", strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	init := mcpPost("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	sid := init.Header.Get("Mcp-Session-Id")
	if init.StatusCode != http.StatusOK || sid == "" {
		t.Fatalf("initialize: %d, session %q", init.StatusCode, sid)
	}
	mcpPost(sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	get, _ := http.NewRequest(http.MethodGet, h.httpURL+"/mcp", nil)
	for k, v := range hdr {
		get.Header.Set(k, v)
	}
	get.Header.Set("Mcp-Session-Id", sid)
	get.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /mcp: %d", resp.StatusCode)
	}
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("shutdown is waiting for an open MCP stream (grace period 1h)")
	}
}

// TestToolLoopMCPTool: the model calls a tool of a configured MCP server;
// the gateway runs it and the model gets its text; the client sees only
// the final answer.
func TestToolLoopMCPTool(t *testing.T) {
	srv := sdk.NewServer(&sdk.Implementation{Name: "up", Version: "1"}, nil)
	type in struct {
		Message string `json:"message"`
	}
	sdk.AddTool(srv, &sdk.Tool{Name: "echo", Description: "Echoes"}, func(_ context.Context, _ *sdk.CallToolRequest, a in) (*sdk.CallToolResult, any, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "Echo: " + a.Message}}}, nil, nil
	})
	hs := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, nil))
	t.Cleanup(hs.Close)
	set := mcp.Start(mcp.Options{Servers: []mcp.ServerConfig{{Name: "up", Transport: mcp.TransportHTTP, URL: hs.URL}}})
	deadline := time.Now().Add(10 * time.Second)
	for len(set.Tools()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	h := memToolsHarness(t, &fakeMemory{}, func(o *MemoryOptions) { o.WriteBack = "off" },
		&ToolOptions{Enabled: true, MaxIterations: 3, TimeoutPerTool: 5 * time.Second, MaxResults: 5, MCP: set})
	h.fake.ToolCall = &providertest.ToolCall{Name: "up__echo", Input: `{"message":"hi from mcp"}`}
	resp, out := h.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"echo something"}]}`, alice...)
	if resp.StatusCode != 200 || !strings.Contains(out, h.fake.Answer()) || strings.Contains(out, "up__echo") {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	reqs := h.fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream got %d requests, want 2", len(reqs))
	}
	offered, _ := json.Marshal(reqs[0].Body["tools"])
	second, _ := json.Marshal(reqs[1].Body["messages"])
	if !strings.Contains(string(offered), `"up__echo"`) || !strings.Contains(string(second), "Echo: hi from mcp") {
		t.Errorf("offered %s; second round %s", offered, second)
	}
	if rows := h.rows(); len(rows) != 1 || rows[0].ToolsCalled != "up__echo" {
		t.Errorf("usage rows %+v", rows)
	}
}
