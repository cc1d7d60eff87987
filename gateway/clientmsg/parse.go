package clientmsg

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// metaHeaders are the headers Parse copies into Request.Metadata.
var metaHeaders = []string{"x-codex-turn-metadata", "x-openai-subagent", "x-openai-memgen-request"}

// Parse reads a request body of the dialect its path names — Anthropic
// Messages (…/messages), OpenAI chat completions (…/chat/completions) or
// Responses (…/responses, …/responses/compact) — into a Request. It is an
// error when the body is not a JSON object or the path is none of those.
func Parse(client, path string, header http.Header, body []byte) (Request, error) {
	var b struct {
		Stream              bool `json:"stream"`
		MaxTokens           int  `json:"max_tokens"`
		MaxCompletionTokens int  `json:"max_completion_tokens"`
		MaxOutputTokens     int  `json:"max_output_tokens"`
		Tools               []struct {
			Name, Type string
			Function   struct{ Name string } // chat completions
		} `json:"tools"`
		System       json.RawMessage `json:"system"`
		Instructions json.RawMessage `json:"instructions"`
		Messages     []block         `json:"messages"`
		Input        json.RawMessage `json:"input"`
	}
	// A field of an unexpected type is left empty; only a body that is not
	// a JSON object is an error.
	var typeErr *json.UnmarshalTypeError
	if err := json.Unmarshal(body, &b); err != nil && (!errors.As(err, &typeErr) || typeErr.Field == "") {
		return Request{}, err
	}
	r := Request{Client: client, Path: path, Stream: b.Stream, Metadata: map[string]string{},
		MaxTokens: cmp(cmp(b.MaxTokens, b.MaxCompletionTokens), b.MaxOutputTokens)}
	for _, h := range metaHeaders {
		if v := header.Get(h); v != "" {
			r.Metadata[h] = v
		}
	}
	for _, t := range b.Tools {
		r.Tools = append(r.Tools, cmp(cmp(t.Name, t.Function.Name), t.Type))
	}
	switch {
	case strings.HasSuffix(path, "/messages"):
		r.System = text(b.System)
		addMessages(&r, b.Messages)
	case strings.HasSuffix(path, "/chat/completions"):
		addMessages(&r, b.Messages)
	case strings.HasSuffix(path, "/responses"), strings.HasSuffix(path, "/responses/compact"):
		r.System = text(b.Instructions)
		parseInput(&r, b.Input)
	default:
		return Request{}, errors.New("clientmsg: no dialect for path " + path)
	}
	return r, nil
}

// cmp is a, or b when a is the zero value.
func cmp[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

// block is a content block or part of any of the three dialects.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Name      string          `json:"name"`
	Content   json.RawMessage `json:"content"` // tool_result content
	Role      string          `json:"role"`    // Responses message items
	Output    json.RawMessage `json:"output"`  // function_call_output
	ToolCalls []struct {
		Function struct{ Name string } `json:"function"`
	} `json:"tool_calls"`
}

// text is a string, or the text of a list of text blocks joined by "\n".
func text(raw json.RawMessage) string {
	var s string
	if isString(raw) {
		_ = json.Unmarshal(raw, &s)
		return s
	}
	var blocks []block
	_ = json.Unmarshal(raw, &blocks)
	var parts []string
	for _, b := range blocks {
		if b.Text != "" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// next is the Index of a message added after the last one.
func (r *Request) next() int {
	if len(r.Messages) == 0 {
		return 0
	}
	return r.Messages[len(r.Messages)-1].Index + 1
}

func (r *Request) addSystem(s string) {
	if s != "" {
		r.System = strings.TrimPrefix(r.System+"\n"+s, "\n")
	}
}

// addMessages adds Anthropic or chat-completions messages.
func addMessages(r *Request, msgs []block) {
	for _, m := range msgs {
		addMessage(r, m)
	}
}

// addMessage adds one message's blocks; system and developer messages go
// to System.
func addMessage(r *Request, m block) {
	n := r.next()
	switch m.Role {
	case "system", "developer":
		r.addSystem(text(m.Content))
		return
	case "tool":
		r.Messages = append(r.Messages, Message{Index: n, Role: "tool", Text: text(m.Content), ToolResult: true})
		return
	}
	var s string
	var blocks []block
	switch {
	case len(m.Content) == 0 || string(m.Content) == "null": // tool calls only
	case isString(m.Content) && json.Unmarshal(m.Content, &s) == nil:
		r.Messages = append(r.Messages, Message{Index: n, Role: m.Role, Text: s})
	case json.Unmarshal(m.Content, &blocks) == nil:
		for _, b := range blocks {
			r.Messages = append(r.Messages, blockMessage(n, m.Role, b)...)
		}
	}
	for _, c := range m.ToolCalls {
		r.Messages = append(r.Messages, Message{Index: n, Role: m.Role, Text: c.Function.Name, ToolCall: true})
	}
}

// parseInput reads Responses input: a string, or items.
func parseInput(r *Request, raw json.RawMessage) {
	var s string
	if isString(raw) && json.Unmarshal(raw, &s) == nil {
		r.Messages = append(r.Messages, Message{Role: "user", Text: s})
		return
	}
	var items []block
	_ = json.Unmarshal(raw, &items)
	for _, it := range items {
		switch {
		case it.Type == "message" || it.Type == "" && it.Role != "":
			addMessage(r, it)
		case strings.HasSuffix(it.Type, "_call_output"):
			r.Messages = append(r.Messages, Message{Index: r.next(), Role: "tool", Text: text(it.Output), ToolResult: true})
		case strings.HasSuffix(it.Type, "_call"):
			r.Messages = append(r.Messages, Message{Index: r.next(), Role: "assistant", Text: cmp(it.Name, it.Type), ToolCall: true})
		}
	}
}

// blockMessage is the Message of a content block, or none for blocks no
// rule reads (thinking, images, documents).
func blockMessage(n int, role string, b block) []Message {
	switch b.Type {
	case "text", "input_text", "output_text":
		return []Message{{Index: n, Role: role, Text: b.Text}}
	case "tool_result":
		return []Message{{Index: n, Role: role, Text: text(b.Content), ToolResult: true}}
	case "tool_use", "server_tool_use":
		return []Message{{Index: n, Role: role, Text: b.Name, ToolCall: true}}
	}
	return nil
}

// isString reports whether raw is a JSON string.
func isString(raw json.RawMessage) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == '"'
}
