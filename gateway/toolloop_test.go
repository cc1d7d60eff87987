package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// TestToolLoopMemorySearch: the model calls supermemoryToolSearch; the
// gateway runs it in the request's scope and calls the model again; the
// client sees only the final answer, in its dialect, stream or not.
func TestToolLoopMemorySearch(t *testing.T) {
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "Deploys go out with make ship.", nil)
	mem.Add(context.Background(), "u:bob/p:shop", "Bob's secret deploy notes.", nil)
	h := memToolsHarness(t, mem, func(o *MemoryOptions) { o.WriteBack = "off"; o.Threshold = 100 },
		&ToolOptions{Enabled: true, MaxIterations: 5, TimeoutPerTool: time.Second, MaxResults: 5})
	h.fake.ToolCall = &providertest.ToolCall{Name: "supermemoryToolSearch", Input: `{"query":"deploy"}`}

	cases := []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"how do I deploy?"}]}`},
		{"/v1/chat/completions", `{"model":"gpt","stream":true,"messages":[{"role":"user","content":"how do I deploy?"}]}`},
		{"/v1/messages", `{"model":"gpt","max_tokens":100,"messages":[{"role":"user","content":"how do I deploy?"}]}`},
		{"/v1/messages", `{"model":"gpt","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"how do I deploy?"}]}`},
	}
	for _, c := range cases {
		resp, out := h.send(c.path, c.body, alice...)
		if resp.StatusCode != 200 || !strings.Contains(out, h.fake.Answer()) && !strings.Contains(out, `"Hello"`) {
			t.Errorf("%s: %d %s", c.body, resp.StatusCode, out)
		}
		if strings.Contains(out, "supermemoryToolSearch") || strings.Contains(out, "tool_calls") || strings.Contains(out, "tool_use") {
			t.Errorf("the gateway's tool round reached the client: %s", out)
		}
	}
	reqs := h.fake.Requests()
	if len(reqs) != 2*len(cases) {
		t.Fatalf("upstream got %d requests, want 2 per client request", len(reqs))
	}
	second, _ := json.Marshal(reqs[1].Body["messages"])
	if !strings.Contains(string(second), "make ship") || strings.Contains(string(second), "Bob") {
		t.Errorf("tool result in the second round: %s", second)
	}
	first, _ := json.Marshal(reqs[0].Body["tools"])
	if !strings.Contains(string(first), "supermemoryToolGetDocument") {
		t.Errorf("memory tools not offered: %s", first)
	}
	rows := h.rows()
	for _, r := range rows {
		if r.ToolRounds != 1 || r.ToolsCalled != "supermemoryToolSearch" || r.CompletionTokens == 0 {
			t.Errorf("row %+v", r)
		}
	}
}

// TestToolLoopAnthropicUpstreamTraced: the same loop when the model is an
// Anthropic deployment (its tool_use translated to the hub and back), with
// a span per round and per tool call, and no prompt text in any span.
func TestToolLoopAnthropicUpstreamTraced(t *testing.T) {
	rec := recordSpans(t)
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "Deploys go out with make ship.", nil)
	h := memToolsHarness(t, mem, func(o *MemoryOptions) { o.WriteBack = "off"; o.Threshold = 100 },
		&ToolOptions{Enabled: true, MaxIterations: 5, TimeoutPerTool: time.Second, MaxResults: 5})
	h.anth.ToolCall = &providertest.ToolCall{Name: "supermemoryToolSearch", Input: `{"query":"deploy"}`}
	for _, stream := range []string{"false", "true"} {
		resp, out := h.send("/v1/messages", `{"model":"claude","max_tokens":100,"stream":`+stream+`,"messages":[{"role":"user","content":"how do I deploy?"}]}`, alice...)
		if resp.StatusCode != 200 || strings.Contains(out, "tool_use") || !strings.Contains(out, "Hello") {
			t.Errorf("stream=%s: %d %s", stream, resp.StatusCode, out)
		}
	}
	reqs := h.anth.Requests()
	if len(reqs) != 4 {
		t.Fatalf("Anthropic upstream got %d requests, want 2 per client request", len(reqs))
	}
	second, _ := json.Marshal(reqs[1].Body["messages"])
	if !strings.Contains(string(second), "tool_result") || !strings.Contains(string(second), "make ship") {
		t.Errorf("tool result sent to Anthropic: %s", second)
	}
	rounds, calls := 0, 0
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "tool.round":
			rounds++
		case "tool.call":
			calls++
		}
	}
	if rounds != 4 || calls != 2 {
		t.Errorf("spans: %d rounds, %d tool calls; want 4 and 2", rounds, calls)
	}
	noSecrets(t, rec.Ended(), "how do I deploy", "make ship")
}
