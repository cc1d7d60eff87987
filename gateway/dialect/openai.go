package dialect

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/api/sse"
	"github.com/memproxy/memproxy/gateway/inject"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/translate"
)

// openAIDialect is OpenAI Chat Completions: a client dialect, the wire
// dialect of OpenAI and OpenAI-compatible deployments, and the hub.
type openAIDialect struct{}

func (*openAIDialect) Name() string { return OpenAI }
func (*openAIDialect) Path() string { return "/v1/chat/completions" }
func (*openAIDialect) Op() string   { return OpChat }

func (*openAIDialect) Peek(body []byte) (*Peek, *Error) {
	p, e := peekHead(body, openAIConversation)
	if e == nil {
		p.IncludeUsage = includesUsage(body)
	}
	return p, e
}

func openAIConversation(body []byte) (*Conversation, error) {
	var req struct {
		Messages []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCalls  json.RawMessage `json:"tool_calls"`
			ToolCallID string          `json:"tool_call_id"`
		} `json:"messages"`
		MaxTokens           json.RawMessage `json:"max_tokens"`
		MaxCompletionTokens json.RawMessage `json:"max_completion_tokens"`
		Tools               []struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	c := &Conversation{MaxTokens: max(intOf(req.MaxTokens), intOf(req.MaxCompletionTokens))}
	for i, m := range req.Messages {
		msg := Message{Role: m.Role, Index: i, Texts: texts(contentParts(m.Content), "text"),
			ToolResult: m.Role == "tool" || m.Role == "function",
			ToolCall:   len(m.ToolCalls) > 2 && string(m.ToolCalls) != "null"}
		if m.Role == "system" || m.Role == "developer" {
			c.System = append(c.System, msg.Texts...)
		}
		c.Messages = append(c.Messages, msg)
	}
	for _, t := range req.Tools {
		c.Tools = append(c.Tools, t.Function.Name)
	}
	return c, nil
}

func (*openAIDialect) Layout() inject.Layout {
	return inject.Layout{Messages: "messages", TextType: "text", SystemRole: "system"}
}

func (*openAIDialect) ToHub(body []byte, _ string) ([]byte, error)  { return body, nil }
func (*openAIDialect) FromHub(hub []byte, _ string) ([]byte, error) { return hub, nil }
func (*openAIDialect) HubStream(io.Writer, string) translate.Stream { return nil }

func (*openAIDialect) Encode(hub []byte, upstreamModel string) ([]byte, error) {
	return SetModel(hub, upstreamModel), nil
}

func (d *openAIDialect) Decode(b []byte, _ string) ([]byte, llm.Usage, error) {
	return b, d.Usage(b), nil
}

func (*openAIDialect) DecodeStream(io.Writer, string, bool) translate.Stream { return nil }

func (*openAIDialect) Usage(body []byte) llm.Usage {
	u, _ := openai.UsageOf(body)
	return u
}

func (*openAIDialect) ParseError(b []byte) (string, string) {
	d, ok := openai.ParseError(b)
	if !ok {
		return "", ""
	}
	code := ""
	if d.Code != nil {
		code = *d.Code
	}
	return d.Message, code
}

func (*openAIDialect) Answer(body []byte) Answer {
	var c struct {
		Choices []struct {
			Message struct {
				Content   *string         `json:"content"`
				ToolCalls json.RawMessage `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if json.Unmarshal(body, &c) != nil || len(c.Choices) == 0 {
		return Answer{}
	}
	m := c.Choices[0]
	a := Answer{ToolCalls: m.FinishReason == "tool_calls" || (len(m.Message.ToolCalls) > 2 && string(m.Message.ToolCalls) != "null")}
	if m.Message.Content != nil {
		a.Text = *m.Message.Content
	}
	return a
}

func (*openAIDialect) NewFold() Fold {
	f := &chatFold{}
	f.r = newEventReader(f.onEvent)
	return f
}

// chatFold collects the answer of a chat.completion.chunk stream.
type chatFold struct {
	r     io.Writer
	b     strings.Builder
	tools bool
}

func (f *chatFold) Write(p []byte) (int, error) { _, _ = f.r.Write(p); return len(p), nil }
func (f *chatFold) Answer() Answer              { return Answer{Text: f.b.String(), ToolCalls: f.tools} }

func (f *chatFold) onEvent(_, data []byte) {
	if !bytes.Contains(data, []byte(`"content"`)) && !bytes.Contains(data, []byte(`"tool_calls"`)) {
		return
	}
	var c struct {
		Choices []struct {
			Delta struct {
				Content   string          `json:"content"`
				ToolCalls json.RawMessage `json:"tool_calls"`
			} `json:"delta"`
		} `json:"choices"`
	}
	if json.Unmarshal(data, &c) != nil || len(c.Choices) == 0 {
		return
	}
	if len(c.Choices[0].Delta.ToolCalls) > 2 {
		f.tools = true
	}
	if f.b.Len() < maxFold {
		f.b.WriteString(c.Choices[0].Delta.Content)
	}
}

func (*openAIDialect) WriteError(w http.ResponseWriter, e *Error) {
	openai.WriteError(w, e.Status, openai.NewError(OpenAIType(e.Status, e.Kind), e.Code, e.Msg), e.RetryAfter)
}

func (*openAIDialect) StreamError(e *Error) []byte {
	code := e.Code
	if code == "" {
		code = "stream_cut"
	}
	return openai.MarshalStreamError(OpenAIType(e.Status, e.Kind), code, e.Msg)
}

func (d *openAIDialect) Pass(out io.Writer, hideUsage bool) Sink {
	p := &openAIPass{out: out, hideUsage: hideUsage, d: d}
	p.events = sse.Reader{KeepRaw: true, OnEvent: p.onEvent}
	return p
}
