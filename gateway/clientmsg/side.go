package clientmsg

import (
	"encoding/json"
	"slices"
	"strings"
)

// Request is what the side-request rules look at; Parse fills it from a
// request body, or the caller fills it from its own parse.
type Request struct {
	Client    string // name from client detection
	Path      string // e.g. /v1/messages, /v1/responses
	System    string // system prompt: system, instructions, system/developer messages, joined
	MaxTokens int    // max_tokens / max_completion_tokens / max_output_tokens; 0 when absent
	Stream    bool
	Tools     []string  // names of the tools offered
	Messages  []Message // one per content block, in order
	// Metadata holds request headers the rules read, by lower-case name
	// (see metaHeaders).
	Metadata map[string]string
}

// Message is one content block of a conversation message.
type Message struct {
	Index      int    // the message the block belongs to: blocks of one message share it
	Role       string // user, assistant, tool
	Text       string // the block's text; a tool call's name
	ToolResult bool   // a tool's output (tool_result, role tool, function_call_output)
	ToolCall   bool   // the model calling a tool (tool_use, tool_calls, function_call)
}

type sideRule struct {
	clients []string // nil: every client
	reason  string
	match   func(Request) bool
	source  string
}

func systemHas(subs ...string) func(Request) bool {
	return func(r Request) bool {
		return slices.ContainsFunc(subs, func(s string) bool { return strings.Contains(r.System, s) })
	}
}

// lastUserHas reports whether a text block of the last user message
// contains one of subs.
func lastUserHas(subs ...string) func(Request) bool {
	return func(r Request) bool {
		for i := len(r.Messages) - 1; i >= 0; i-- {
			m := r.Messages[i]
			if m.Role != "user" && m.Role != "tool" {
				return false
			}
			if !m.ToolResult && slices.ContainsFunc(subs, func(s string) bool { return strings.Contains(m.Text, s) }) {
				return true
			}
		}
		return false
	}
}

// codexRequestKind is request_kind of Codex's x-codex-turn-metadata
// header: "turn" for conversation (recorded, testdata/codex), "compaction"
// for its compaction call.
func codexRequestKind(r Request) string {
	var meta struct {
		RequestKind string `json:"request_kind"`
	}
	_ = json.Unmarshal([]byte(r.Metadata["x-codex-turn-metadata"]), &meta)
	return meta.RequestKind
}

// sideRules recognise side requests. By rule, not guessing: each cites
// what the client sends.
var sideRules = []sideRule{
	// A 1-token answer is never conversation: Claude Code's quota check
	// sends {"max_tokens":1, messages:[{user:"quota"}]} (public captures
	// of cli.js); other clients probe the same way.
	{nil, "probe", func(r Request) bool { return r.MaxTokens == 1 }, "Claude Code cli.js quota check"},

	// Claude Code 2.1.332 names a session with a tool-less call whose
	// system prompt starts "You are naming a coding session" and whose
	// user text is the conversation in <session>…</session> (recorded:
	// testdata/claude-code 07-session-title). Older versions used the
	// other prompts (cli.js of 0.2–1.x, quoted by public proxies).
	{claudeCode, "title", systemHas("You are naming a coding session",
		"Generate a concise, sentence-case title", "Please write a 5-10 word title for the following conversation",
		"Summarize this coding conversation in under 50 characters"), "recorded; Claude Code cli.js"},
	{claudeCode, "topic", systemHas("Analyze if this message indicates a new conversation topic"), "Claude Code cli.js"},
	{claudeCode, "bash-prefix", systemHas("Your task is to process Bash commands that an AI coding agent wants to run"), "Claude Code cli.js"},
	{claudeCode, "file-paths", systemHas("Extract any file paths that this command reads or modifies"), "Claude Code cli.js"},
	// /compact (and auto-compaction) sends the conversation with a last
	// user text "CRITICAL: Respond with TEXT ONLY. … Your task is to create
	// a detailed summary of the conversation so far" (recorded:
	// testdata/claude-code 03-compact).
	{claudeCode, "compaction", lastUserHas("Your task is to create a detailed summary of the conversation so far"), "recorded"},

	// Codex marks every Responses call in x-codex-turn-metadata; its
	// compaction is request_kind "compaction", sent to /responses/compact
	// by remote compaction or with the prompt of
	// codex-rs/core/templates/compact/prompt.md by local compaction.
	// x-openai-subagent names internal sub-sessions (compact,
	// memory_consolidation) and x-openai-memgen-request its memory writer
	// (openai/codex codex-rs/codex-api, default_client.rs).
	{codex, "compaction", func(r Request) bool {
		return codexRequestKind(r) == "compaction" || strings.HasSuffix(r.Path, "/responses/compact") ||
			r.Metadata["x-openai-subagent"] == "compact"
	}, "openai/codex codex-api"},
	{codex, "compaction", lastUserHas("You are performing a CONTEXT CHECKPOINT COMPACTION"), "openai/codex templates/compact/prompt.md"},
	{codex, "memory", func(r Request) bool {
		return r.Metadata["x-openai-subagent"] == "memory_consolidation" || strings.EqualFold(r.Metadata["x-openai-memgen-request"], "true")
	}, "openai/codex codex-api"},

	// Continue names a chat with "Given the following... please reply with
	// a title for the chat that is 3-4 words in length" (continuedev/continue
	// core/util/chatDescriber.ts).
	{[]string{"continue"}, "title", lastUserHas("please reply with a title for the chat"), "continuedev/continue chatDescriber.ts"},
}

// Side reports whether a request is not conversation — a title, topic,
// quota probe, compaction, tool-permission or memory call the client makes
// on its own — and a short reason ("title", "compaction", …). Such
// requests get neither retrieval nor write-back.
func Side(r Request) (reason string, side bool) {
	for _, s := range sideRules {
		if (s.clients == nil || slices.Contains(s.clients, r.Client)) && s.match(r) {
			return s.reason, true
		}
	}
	return "", false
}

// Said is what the person wrote in the request's last turn: the cleaned
// text of the last user message that has any, when no assistant message
// or tool call follows it; its blocks are joined by a blank line. It is ""
// for the continuation calls of an agent turn (the last message holds only
// tool results and client wrappers). Only the last message counts: a
// compacted Codex history is a run of user messages, the person's earlier
// prompts among them.
func Said(r Request) string {
	var parts []string
	msg := -1
	for i := len(r.Messages) - 1; i >= 0; i-- {
		m := r.Messages[i]
		if m.ToolResult {
			continue
		}
		if m.Role != "user" || m.ToolCall || msg >= 0 && m.Index != msg {
			break
		}
		if t := Clean(r.Client, m.Text); t != "" {
			parts, msg = append(parts, t), m.Index
		}
	}
	slices.Reverse(parts)
	return strings.Join(parts, "\n\n")
}
