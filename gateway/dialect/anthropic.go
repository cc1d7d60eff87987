package dialect

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/inject"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/translate"
)

// DefaultMaxTokens is sent to Anthropic (which requires max_tokens) when
// a client of another dialect set none.
const DefaultMaxTokens = 8192

// anthropicDialect is Anthropic Messages, a client and a wire dialect.
type anthropicDialect struct{}

func (*anthropicDialect) Name() string { return Anthropic }
func (*anthropicDialect) Path() string { return "/v1/messages" }
func (*anthropicDialect) Op() string   { return OpMessages }

func (*anthropicDialect) Peek(body []byte) (*Peek, *Error) {
	return peekHead(body, anthropicConversation)
}

func anthropicConversation(body []byte) (*Conversation, error) {
	var req struct {
		System   json.RawMessage `json:"system"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		MaxTokens json.RawMessage `json:"max_tokens"`
		Tools     []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	c := &Conversation{MaxTokens: intOf(req.MaxTokens), System: texts(contentParts(req.System), "text")}
	for i, m := range req.Messages {
		ps := contentParts(m.Content)
		c.Messages = append(c.Messages, Message{Role: m.Role, Index: i, Texts: texts(ps, "text"),
			ToolResult: hasType(ps, "tool_result"), ToolCall: hasType(ps, "tool_use") || hasType(ps, "server_tool_use")})
	}
	for _, t := range req.Tools {
		c.Tools = append(c.Tools, t.Name)
	}
	return c, nil
}

func (*anthropicDialect) Layout() inject.Layout {
	return inject.Layout{Messages: "messages", TextType: "text", System: "system", SystemRole: "system"}
}

func (*anthropicDialect) ToHub(body []byte, model string) ([]byte, error) {
	return translate.AnthropicToOpenAIChat(body, model)
}

func (*anthropicDialect) hubStep(model string) translate.Step {
	return translate.AnthropicToOpenAIChatStep(model)
}

func (*anthropicDialect) FromHub(hub []byte, model string) ([]byte, error) {
	b, _, err := translate.OpenAIChatResponseToAnthropic(hub, model)
	return b, err
}

func (*anthropicDialect) HubStream(out io.Writer, model string) translate.Stream {
	return translate.NewOpenAIChatToAnthropicStream(out, model)
}

func (*anthropicDialect) Encode(hub []byte, upstreamModel string) ([]byte, error) {
	return translate.OpenAIChatToAnthropic(hub, upstreamModel, DefaultMaxTokens)
}

func (*anthropicDialect) wireStep(upstreamModel string) translate.Step {
	return translate.OpenAIChatToAnthropicStep(upstreamModel, DefaultMaxTokens)
}

func (*anthropicDialect) Decode(b []byte, model string) ([]byte, llm.Usage, error) {
	return translate.AnthropicResponseToOpenAIChat(b, model)
}

func (*anthropicDialect) DecodeStream(out io.Writer, model string, includeUsage bool) translate.Stream {
	return translate.NewAnthropicToOpenAIChatStream(out, model, includeUsage)
}

func (*anthropicDialect) Usage(body []byte) llm.Usage {
	u, _ := anthropic.UsageOf(body)
	return u
}

func (*anthropicDialect) ParseError(b []byte) (string, string) {
	d, ok := anthropic.ParseError(b)
	if !ok {
		return "", ""
	}
	return d.Message, d.Type
}

func (*anthropicDialect) Answer(body []byte) Answer {
	var m struct {
		Content    []struct{ Type, Text string } `json:"content"`
		StopReason string                        `json:"stop_reason"`
	}
	_ = json.Unmarshal(body, &m)
	a := Answer{ToolCalls: m.StopReason == "tool_use"}
	var b strings.Builder
	for _, c := range m.Content {
		switch c.Type {
		case "text":
			b.WriteString(c.Text)
		case "tool_use":
			a.ToolCalls = true
		}
	}
	a.Text = b.String()
	return a
}

func (*anthropicDialect) NewFold() Fold {
	f := &anthropicFold{}
	f.r = newEventReader(f.onEvent)
	return f
}

// anthropicFold collects the answer of a Messages stream.
type anthropicFold struct {
	r     io.Writer
	b     strings.Builder
	tools bool
}

func (f *anthropicFold) Write(p []byte) (int, error) { _, _ = f.r.Write(p); return len(p), nil }
func (f *anthropicFold) Answer() Answer              { return Answer{Text: f.b.String(), ToolCalls: f.tools} }

func (f *anthropicFold) onEvent(_, data []byte) {
	switch {
	case bytes.Contains(data, []byte(`"text_delta"`)):
		var ev struct {
			Delta struct{ Type, Text string } `json:"delta"`
		}
		if f.b.Len() < maxFold && json.Unmarshal(data, &ev) == nil && ev.Delta.Type == "text_delta" {
			f.b.WriteString(ev.Delta.Text)
		}
	case bytes.Contains(data, []byte(`"tool_use"`)):
		f.tools = true // a tool_use block starts, or stop_reason tool_use
	}
}

func (*anthropicDialect) WriteError(w http.ResponseWriter, e *Error) {
	anthropic.WriteError(w, e.Status, e.Msg, e.RetryAfter)
}

func (*anthropicDialect) StreamError(e *Error) []byte {
	return anthropic.MarshalStreamError("api_error", e.Msg)
}

func (*anthropicDialect) Pass(out io.Writer, _ bool) Sink { return &anthropicPass{out: out} }
