package inject

import (
	"encoding/json"
	"strings"
)

// Dialects whose bodies this package reads and edits.
const (
	OpenAI    = "openai"    // chat completions: messages[].content string or parts
	Anthropic = "anthropic" // messages: top-level system, messages[].content string or blocks
)

// Query strategies (the seed's context_retrieval.query_strategy).
const (
	LastUser      = "last_user"
	FirstUser     = "first_user"
	AllUser       = "all_user"
	LastAssistant = "last_assistant"
)

// message is the part of a message this package reads.
type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// part is an OpenAI content part or an Anthropic content block.
type part struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// contentText returns the user-visible text of a content value: the string
// itself, or its text parts joined; tool results, images and other parts
// are not text a person wrote. Fenced memories are stripped.
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return Strip(s)
	}
	var parts []part
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var texts []string
	for _, p := range parts {
		if p.Type == "text" && strings.TrimSpace(p.Text) != "" {
			if t := Strip(p.Text); t != "" {
				texts = append(texts, t)
			}
		}
	}
	return strings.Join(texts, "\n")
}

func messages(body []byte) ([]json.RawMessage, []message, error) {
	var req struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, err
	}
	ms := make([]message, len(req.Messages))
	for i, raw := range req.Messages {
		_ = json.Unmarshal(raw, &ms[i]) // a malformed message simply has no role
	}
	return req.Messages, ms, nil
}

// Query returns the text to search memories with, by strategy (unknown
// strategies act as last_user). Empty when the body has no such text.
func Query(body []byte, strategy string) string {
	_, ms, err := messages(body)
	if err != nil {
		return ""
	}
	role, first, all := "user", false, false
	switch strategy {
	case FirstUser:
		first = true
	case AllUser:
		all = true
	case LastAssistant:
		role = "assistant"
	}
	var texts []string
	for i := range ms {
		m := ms[i]
		if !first {
			m = ms[len(ms)-1-i]
		}
		if m.Role != role {
			continue
		}
		if t := contentText(m.Content); t != "" {
			texts = append(texts, t)
			if !all {
				break
			}
		}
	}
	if all {
		for i, j := 0, len(texts)-1; i < j; i, j = i+1, j-1 {
			texts[i], texts[j] = texts[j], texts[i] // back to conversation order
		}
	}
	return strings.Join(texts, "\n")
}

// LastUserText is the text of the final user turn, fences stripped: what
// write-back stores as the user's side of an exchange.
func LastUserText(body []byte) string { return Query(body, LastUser) }
