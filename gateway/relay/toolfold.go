package relay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/sse"
)

// foldChat folds an OpenAI chat.completion.chunk stream (as tools.Run
// writes it) into one chat.completion: the text joined, tool calls
// assembled by index, the finish reason and the usage chunk's usage.
func foldChat(sseBytes []byte) ([]byte, error) {
	type call struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	var (
		id, model, finish string
		created           int64
		text              strings.Builder
		calls             []*call
		usage             json.RawMessage
		sawText           bool
	)
	var perr error
	l := sse.Reader{OnEvent: func(ev *sse.Event) error {
		data := ev.Data
		if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) || perr != nil {
			return nil
		}
		var c struct {
			ID      string          `json:"id"`
			Created int64           `json:"created"`
			Model   string          `json:"model"`
			Usage   json.RawMessage `json:"usage"`
			Error   json.RawMessage `json:"error"`
			Choices []struct {
				Delta struct {
					Content   *string `json:"content"`
					ToolCalls []struct {
						Index int `json:"index"`
						call
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(data, &c); err != nil {
			perr = err
			return nil
		}
		if len(c.Error) > 0 {
			perr = fmt.Errorf("error event: %s", c.Error)
			return nil
		}
		if id == "" {
			id, created, model = c.ID, c.Created, c.Model
		}
		if len(c.Usage) > 0 && string(c.Usage) != "null" {
			usage = c.Usage
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				text.WriteString(*ch.Delta.Content)
				sawText = sawText || *ch.Delta.Content != ""
			}
			for _, tc := range ch.Delta.ToolCalls {
				for len(calls) <= tc.Index {
					calls = append(calls, &call{Type: "function"})
				}
				cl := calls[tc.Index]
				if tc.ID != "" {
					cl.ID = tc.ID
				}
				if tc.Function.Name != "" {
					cl.Function.Name = tc.Function.Name
				}
				cl.Function.Arguments += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
		return nil
	}}
	_, _ = l.Write(sseBytes)
	_ = l.End()
	if perr != nil {
		return nil, perr
	}
	msg := map[string]any{"role": "assistant", "content": nil}
	if sawText || len(calls) == 0 {
		msg["content"] = text.String()
	}
	if len(calls) > 0 {
		msg["tool_calls"] = calls
	}
	out := map[string]any{"id": id, "object": "chat.completion", "created": created, "model": model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}}}
	if usage != nil {
		out["usage"] = usage
	}
	return json.Marshal(out)
}
