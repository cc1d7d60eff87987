package clientmsg

import "testing"

func user(text string) Message { return Message{Role: "user", Text: text} }

func TestSide(t *testing.T) {
	conv := []Message{user("Fix the failing test in chat.go")}
	for _, c := range []struct {
		name   string
		r      Request
		reason string
	}{
		{"a turn is conversation", Request{Client: "claude-code", MaxTokens: 32000, Tools: []string{"Read"}, Messages: conv}, ""},
		{"quota probe", Request{Client: "claude-code", MaxTokens: 1, Messages: []Message{user("quota")}}, "probe"},
		{"max_tokens 1 from any client", Request{Client: "unknown", MaxTokens: 1, Messages: conv}, "probe"},
		{"max_tokens 2 is conversation", Request{Client: "unknown", MaxTokens: 2, Messages: conv}, ""},
		{"session title", Request{Client: "claude-code", System: "You are Claude Code.\nYou are naming a coding session so the user can pick it out", Messages: conv}, "title"},
		{"older title prompt", Request{Client: "claude-code", System: "Summarize this coding conversation in under 50 characters.", Messages: conv}, "title"},
		{"topic detection", Request{Client: "claude-code", System: "Analyze if this message indicates a new conversation topic. If it does…", Messages: conv}, "topic"},
		{"bash prefix", Request{Client: "claude-code", System: "Your task is to process Bash commands that an AI coding agent wants to run.\n\nThis policy spec", Messages: conv}, "bash-prefix"},
		{"file paths", Request{Client: "claude-code", System: "Extract any file paths that this command reads or modifies.", Messages: conv}, "file-paths"},
		{"compaction after a tool result", Request{Client: "claude-code", Messages: []Message{
			user("Fix it"), {Role: "assistant", Text: "Read", ToolCall: true}, {Role: "user", Text: "file", ToolResult: true},
			user("CRITICAL: Respond with TEXT ONLY.\n\nYour task is to create a detailed summary of the conversation so far, paying")}}, "compaction"},
		{"compaction words in an older turn are not a compaction", Request{Client: "claude-code", Messages: []Message{
			user("Your task is to create a detailed summary of the conversation so far"), {Role: "assistant", Text: "ok"}, user("thanks")}}, ""},
		{"Claude Code prompts from another client are conversation", Request{Client: "codex", System: "Analyze if this message indicates a new conversation topic", Messages: conv}, ""},
		{"Codex compaction by turn metadata", Request{Client: "codex", Path: "/v1/responses", Messages: conv,
			Metadata: map[string]string{"x-codex-turn-metadata": `{"request_kind":"compaction","turn_id":"t1"}`}}, "compaction"},
		{"Codex turn by turn metadata", Request{Client: "codex", Path: "/v1/responses", Messages: conv,
			Metadata: map[string]string{"x-codex-turn-metadata": `{"request_kind":"turn"}`}}, ""},
		{"Codex remote compaction path", Request{Client: "codex", Path: "/v1/responses/compact", Messages: conv}, "compaction"},
		{"Codex compact subagent", Request{Client: "codex", Messages: conv, Metadata: map[string]string{"x-openai-subagent": "compact"}}, "compaction"},
		{"Codex local compaction prompt", Request{Client: "codex", Messages: []Message{user("hi"), {Role: "assistant", Text: "hello"},
			user("You are performing a CONTEXT CHECKPOINT COMPACTION. Create a handoff summary")}}, "compaction"},
		{"Codex memory consolidation", Request{Client: "codex", Messages: conv, Metadata: map[string]string{"x-openai-subagent": "memory_consolidation"}}, "memory"},
		{"Codex memory writer", Request{Client: "codex", Messages: conv, Metadata: map[string]string{"x-openai-memgen-request": "true"}}, "memory"},
		{"Codex review subagent is conversation", Request{Client: "codex", Messages: conv, Metadata: map[string]string{"x-openai-subagent": "review"}}, ""},
		{"Continue chat title", Request{Client: "continue", MaxTokens: 16, Messages: []Message{user("Given the following... please reply with a title for the chat that is 3-4 words in length, …\n\nFix the build")}}, "title"},
	} {
		t.Run(c.name, func(t *testing.T) {
			reason, side := Side(c.r)
			if reason != c.reason || side != (c.reason != "") {
				t.Errorf("Side = %q, %v; want %q", reason, side, c.reason)
			}
		})
	}
}

func TestSaid(t *testing.T) {
	reminder := "<system-reminder>env</system-reminder>"
	for _, c := range []struct {
		name string
		r    Request
		want string
	}{
		{"last message's blocks, cleaned and joined", Request{Client: "claude-code", Messages: []Message{
			{Index: 0, Role: "user", Text: "old question"}, {Index: 1, Role: "assistant", Text: "answer"},
			{Index: 2, Role: "user", Text: reminder}, {Index: 2, Role: "user", Text: "new question"}, {Index: 2, Role: "user", Text: "and a detail"}}},
			"new question\n\nand a detail"},
		{"only the last user message: a compacted Codex history", Request{Client: "codex", Messages: []Message{
			{Index: 0, Role: "user", Text: "<environment_context>x</environment_context>"}, {Index: 1, Role: "user", Text: "first prompt"},
			{Index: 2, Role: "user", Text: "Another language model started to solve this problem …"}, {Index: 3, Role: "user", Text: "latest prompt"}}},
			"latest prompt"},
		{"wrapper-only message after the prompt", Request{Client: "codex", Messages: []Message{
			{Index: 0, Role: "user", Text: "the prompt"}, {Index: 1, Role: "user", Text: "<turn_aborted>x</turn_aborted>"}}},
			"the prompt"},
		{"continuation call says nothing", Request{Client: "claude-code", Messages: []Message{
			user("Read notes.txt"), {Role: "assistant", Text: "Read", ToolCall: true}, {Role: "user", Text: "6543\n" + reminder, ToolResult: true}}}, ""},
		{"Codex continuation", Request{Client: "codex", Messages: []Message{
			user("run it"), {Role: "assistant", Text: "exec_command", ToolCall: true}, {Role: "tool", Text: "ok", ToolResult: true}}}, ""},
		{"text typed beside a tool result counts", Request{Client: "claude-code", Messages: []Message{
			{Index: 0, Role: "assistant", Text: "Bash", ToolCall: true}, {Index: 1, Role: "user", Text: "out", ToolResult: true},
			{Index: 1, Role: "user", Text: "stop, use make"}}}, "stop, use make"},
		{"ends with an assistant message", Request{Client: "claude-code", Messages: []Message{user("q"), {Role: "assistant", Text: "prefill"}}}, ""},
		{"no messages", Request{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Said(c.r); got != c.want {
				t.Errorf("Said = %q, want %q", got, c.want)
			}
		})
	}
}
