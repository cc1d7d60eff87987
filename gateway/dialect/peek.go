package dialect

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/memproxy/memproxy/gateway/guard"
	"github.com/memproxy/memproxy/gateway/jsonscan"
)

// Peek is what the gateway reads of a request body: the head at once, the
// conversation on first use, each from one pass over the bytes.
type Peek struct {
	Model  string
	Stream bool
	// IncludeUsage: an OpenAI chat client asked for the usage chunk.
	IncludeUsage bool

	body   []byte
	conv   *Conversation
	decode func(body []byte) (*Conversation, error)
}

// Conversation is a request's conversation as memory and the side-request
// rules see it.
type Conversation struct {
	// System holds the system prompt's texts (Anthropic system, OpenAI
	// system and developer messages, Responses instructions).
	System []string
	// Messages are the conversation's turns in order; Index is each one's
	// position in the body's list, as inject.Apply counts.
	Messages []Message
	// MaxTokens is the output limit the client set, 0 when none.
	MaxTokens int
	// Tools names the tools offered.
	Tools []string
}

// Message is one turn.
type Message struct {
	// Role is "user", "assistant", "system", "developer" or "tool".
	Role string
	// Texts are its text parts as written, in order.
	Texts []string
	// ToolResult: the message carries a tool's result (an Anthropic
	// tool_result block, an OpenAI tool message, a Responses
	// function_call_output); ToolCall: it asks for a tool.
	ToolResult, ToolCall bool
	Index                int
}

// Conversation decodes the body's conversation (once). A body whose
// conversation cannot be read gives an empty one: it is the translator's
// or the upstream's to refuse, not memory's.
func (p *Peek) Conversation() *Conversation {
	if p.conv == nil {
		c, err := p.decode(p.body)
		if err != nil || c == nil {
			c = &Conversation{}
		}
		p.conv = c
	}
	return p.conv
}

// Human returns the index in Messages of the last message the person
// wrote — a user message with text that clean leaves (clean drops the
// client's wrappers and recalled memories) — and that text; -1 and ""
// when there is none. Tool results are never the person's words.
func (c *Conversation) Human(clean func(string) string) (int, string) {
	for i := len(c.Messages) - 1; i >= 0; i-- {
		m := c.Messages[i]
		if m.Role != "user" || m.ToolResult {
			continue
		}
		if t := m.Text(clean); t != "" {
			return i, t
		}
	}
	return -1, ""
}

// Text joins the message's texts that clean leaves non-empty.
func (m Message) Text(clean func(string) string) string {
	var out []string
	for _, t := range m.Texts {
		if clean != nil {
			t = clean(t)
		}
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, "\n")
}

// peekHead validates a body and reads its head: well-formed JSON, an
// object, no client-chosen upstream address or key at any depth, a model
// (a string) and stream (a boolean).
func peekHead(body []byte, decode func([]byte) (*Conversation, error)) (*Peek, *Error) {
	if !json.Valid(body) {
		return nil, invalid("invalid_json", "the request body is not valid JSON")
	}
	if i := firstNonSpace(body); i < 0 || body[i] != '{' {
		return nil, invalid("invalid_request", "the request body must be a JSON object")
	}
	if key, found := guard.ForbiddenKey(body); found {
		return nil, invalid("forbidden_parameter",
			fmt.Sprintf("the request may not set %q: upstream addresses and keys come from the gateway's configuration", key))
	}
	p := &Peek{body: body, decode: decode}
	if s, e, ok := jsonscan.TopLevel(body, "model"); ok {
		m, isString := jsonscan.String(body[s:e])
		if !isString {
			return p, invalid("invalid_model", "model must be a string")
		}
		p.Model = m
	}
	if p.Model == "" {
		return p, invalid("missing_model", "you must provide a model parameter")
	}
	if s, e, ok := jsonscan.TopLevel(body, "stream"); ok {
		switch v := string(body[s:e]); v {
		case "true", "false", "null":
			p.Stream = v == "true"
		default:
			return p, invalid("invalid_stream", "stream must be a boolean")
		}
	}
	return p, nil
}

func firstNonSpace(b []byte) int {
	for i, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return i
		}
	}
	return -1
}

// part is a content part or block: its type and text.
type part struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// contentParts reads a content value: a string is one text; a list gives
// its parts' types and texts.
func contentParts(raw json.RawMessage) []part {
	if len(raw) == 0 {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []part{{Type: "text", Text: s}}
		}
		return nil
	}
	var ps []part
	_ = json.Unmarshal(raw, &ps)
	return ps
}

// texts keeps the parts of the given text types.
func texts(ps []part, types ...string) []string {
	var out []string
	for _, p := range ps {
		for _, t := range types {
			if p.Type == t && p.Text != "" {
				out = append(out, p.Text)
			}
		}
	}
	return out
}

func hasType(ps []part, t string) bool {
	for _, p := range ps {
		if p.Type == t {
			return true
		}
	}
	return false
}

// intOf reads a JSON number field into an int (0 when absent or not one).
func intOf(raw json.RawMessage) int {
	var n float64
	if json.Unmarshal(raw, &n) != nil {
		return 0
	}
	return int(n)
}
