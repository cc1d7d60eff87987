package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/sse"
)

// maxFold bounds the answer text kept for write-back.
const maxFold = 64 << 10

// textFold collects the assistant text a client received, from the bytes
// written to it (OpenAI chunks or Anthropic events), for write-back.
type textFold struct {
	dialect string
	lines   sse.Lines
	b       strings.Builder
}

func newTextFold(dialect string) *textFold {
	f := &textFold{dialect: dialect}
	f.lines.OnLine = f.onLine
	return f
}

func (f *textFold) Write(p []byte) (int, error) { return f.lines.Write(p) }

func (f *textFold) String() string { return f.b.String() }

func (f *textFold) onLine(line []byte) {
	data, ok := sse.Data(line)
	if !ok || f.b.Len() >= maxFold {
		return
	}
	if f.dialect == dialectAnthropic {
		if !bytes.Contains(data, []byte(`"text_delta"`)) {
			return
		}
		var ev struct {
			Delta struct{ Type, Text string } `json:"delta"`
		}
		if json.Unmarshal(data, &ev) == nil && ev.Delta.Type == "text_delta" {
			f.b.WriteString(ev.Delta.Text)
		}
		return
	}
	if !bytes.Contains(data, []byte(`"content"`)) {
		return
	}
	var c struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
	}
	if json.Unmarshal(data, &c) == nil && len(c.Choices) > 0 {
		f.b.WriteString(c.Choices[0].Delta.Content)
	}
}

// answerText is the assistant text of a non-streaming answer in dialect d.
func answerText(d string, body []byte) string {
	if d == dialectAnthropic {
		var m struct {
			Content []struct{ Type, Text string } `json:"content"`
		}
		_ = json.Unmarshal(body, &m)
		var b strings.Builder
		for _, c := range m.Content {
			if c.Type == "text" {
				b.WriteString(c.Text)
			}
		}
		return b.String()
	}
	var c struct {
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if json.Unmarshal(body, &c) != nil || len(c.Choices) == 0 || c.Choices[0].Message.Content == nil {
		return ""
	}
	return *c.Choices[0].Message.Content
}

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
	var l sse.Lines
	var perr error
	l.OnLine = func(line []byte) {
		data, ok := sse.Data(line)
		if !ok || bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) || perr != nil {
			return
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
			return
		}
		if len(c.Error) > 0 {
			perr = fmt.Errorf("error event: %s", c.Error)
			return
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
	}
	_, _ = l.Write(sseBytes)
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
