package inject

import (
	"encoding/json"
	"fmt"

	"github.com/memproxy/memproxy/gateway/jsonscan"
)

// Query strategies (the seed's context_retrieval.query_strategy). The
// dialect table (gateway/dialect) applies them to a parsed conversation.
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

func messages(body []byte, key string) ([]json.RawMessage, []message, error) {
	var list []json.RawMessage
	if s, e, ok := jsonscan.TopLevel(body, key); ok && string(body[s:e]) != "null" {
		if err := json.Unmarshal(body[s:e], &list); err != nil {
			return nil, nil, fmt.Errorf("%s is not a list: %w", key, err)
		}
	}
	ms := make([]message, len(list))
	for i, raw := range list {
		_ = json.Unmarshal(raw, &ms[i]) // a malformed message simply has no role
	}
	return list, ms, nil
}
