package gateway

import (
	"context"
	"testing"

	"github.com/memproxy/memproxy/gateway/clientmsg"
	"github.com/memproxy/memproxy/gateway/dialect"
)

// TestSideMessages: the text blocks beside an Anthropic tool_result are
// the client's (Claude Code's /compact instruction rides in the message
// of the last tool result), while an OpenAI tool message's text is the
// tool's output; a tool call and an empty message keep their place.
func TestSideMessages(t *testing.T) {
	got := sideMessages([]dialect.Message{
		{Index: 0, Role: "user", Texts: []string{"hi"}},
		{Index: 1, Role: "assistant", Texts: []string{"reading"}, ToolCall: true},
		{Index: 2, Role: "user", Texts: []string{"summarise"}, ToolResult: true},
		{Index: 3, Role: "tool", Texts: []string{"file body"}, ToolResult: true},
		{Index: 4, Role: "tool", ToolResult: true},
		{Index: 5, Role: "assistant"},
	})
	want := []clientmsg.Message{
		{Index: 0, Role: "user", Text: "hi"},
		{Index: 1, Role: "assistant", Text: "reading"}, {Index: 1, Role: "assistant", ToolCall: true},
		{Index: 2, Role: "user", ToolResult: true}, {Index: 2, Role: "user", Text: "summarise"},
		{Index: 3, Role: "tool", Text: "file body", ToolResult: true},
		{Index: 4, Role: "tool", ToolResult: true},
		{Index: 5, Role: "assistant"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("block %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

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
	if len(rows) != 1 || rows[0].MemoryStatus != memSide {
		t.Errorf("rows: %+v", rows)
	}
	if n := len(mem.all("u:alice/p:shop")); n != 1 {
		t.Errorf("the compaction was written back: %d memories", n)
	}
}
