package relay

import (
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
