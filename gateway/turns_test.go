package gateway

import (
	"context"
	"testing"

	"github.com/memproxy/memproxy/gateway/track"
)

// TestCompactionBesideToolResultIsSide: Claude Code's /compact right after
// a tool call sends its summary instruction in the same user message as
// the tool_result (recorded: clientmsg/testdata/claude-code 03-compact);
// it is a side request, gets no memory and is not written back.
func TestCompactionBesideToolResultIsSide(t *testing.T) {
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "The conversation so far used port 6543.", nil)
	h := memHarness(t, mem, nil)
	cc := append([]string{"User-Agent", "claude-cli/2.1.332 (external, sdk-cli)", "Anthropic-Version", "2023-06-01"}, alice...)
	body := `{"model":"claude","max_tokens":32000,"tools":[{"name":"Read","input_schema":{"type":"object"}}],"messages":[` +
		`{"role":"user","content":[{"type":"text","text":"Read notes.txt"}]},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Read","input":{}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"port 6543"},` +
		`{"type":"text","text":"CRITICAL: Respond with TEXT ONLY. Your task is to create a detailed summary of the conversation so far."}]}]}`
	resp, out := h.send("/v1/messages", body, cc...)
	if resp.StatusCode != 200 || resp.Header.Get("X-Memproxy-Memories") != "" {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, out)
	}
	rows := h.rows()
	if len(rows) != 1 || rows[0].MemoryStatus != track.MemSide {
		t.Errorf("rows: %+v", rows)
	}
	if n := len(mem.all("u:alice/p:shop")); n != 1 {
		t.Errorf("the compaction was written back: %d memories", n)
	}
}
