package dialect

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/inject"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/translate"
)

// responsesDialect is OpenAI's Responses API (Codex): a client dialect,
// and the wire dialect of deployments that serve it natively, reached
// only by Responses clients (passthrough: there is no hub → Responses
// request translation).
type responsesDialect struct{}

func (*responsesDialect) Name() string { return Responses }
func (*responsesDialect) Path() string { return "/v1/responses" }
func (*responsesDialect) Op() string   { return OpResponses }

func (*responsesDialect) Peek(body []byte) (*Peek, *Error) {
	return peekHead(body, responsesConversation)
}

// responsesConversation reads instructions and input: a string (one user
// message) or items — messages, tool calls (function_call, custom and
// local shell calls) and their outputs; other items (reasoning) keep their
// place with no role.
func responsesConversation(body []byte) (*Conversation, error) {
	var req struct {
		Instructions    string          `json:"instructions"`
		Input           json.RawMessage `json:"input"`
		MaxOutputTokens json.RawMessage `json:"max_output_tokens"`
		Tools           []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	c := &Conversation{MaxTokens: intOf(req.MaxOutputTokens)}
	if req.Instructions != "" {
		c.System = []string{req.Instructions}
	}
	for _, t := range req.Tools {
		name := t.Name
		if name == "" {
			name = t.Type
		}
		c.Tools = append(c.Tools, name)
	}
	if len(req.Input) > 0 && req.Input[0] == '"' {
		var s string
		if err := json.Unmarshal(req.Input, &s); err != nil {
			return nil, err
		}
		c.Messages = []Message{{Role: "user", Texts: []string{s}}}
		return c, nil
	}
	var items []struct {
		Type    string          `json:"type"`
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if len(req.Input) > 0 && string(req.Input) != "null" {
		if err := json.Unmarshal(req.Input, &items); err != nil {
			return nil, err
		}
	}
	for i, it := range items {
		m := Message{Index: i}
		switch {
		case it.Type == "" || it.Type == "message":
			m.Role, m.Texts = it.Role, texts(contentParts(it.Content), "input_text", "output_text", "text")
			if m.Role == "developer" || m.Role == "system" {
				c.System = append(c.System, m.Texts...)
			}
		case strings.HasSuffix(it.Type, "_call_output"):
			m.Role, m.ToolResult = "tool", true
		case strings.HasSuffix(it.Type, "_call"):
			m.Role, m.ToolCall = "assistant", true
		}
		c.Messages = append(c.Messages, m)
	}
	return c, nil
}

func (*responsesDialect) Layout() inject.Layout {
	return inject.Layout{Messages: "input", TextType: "input_text", System: "instructions", SystemRole: "developer"}
}

func (*responsesDialect) ToHub(body []byte, model string) ([]byte, error) {
	return translate.ResponsesToOpenAIChat(body, model)
}

func (*responsesDialect) hubStep(model string) translate.Step {
	return translate.ResponsesToOpenAIChatStep(model)
}

func (*responsesDialect) FromHub(hub []byte, model string) ([]byte, error) {
	b, _, err := translate.OpenAIChatResponseToResponses(hub, model)
	return b, err
}

func (*responsesDialect) HubStream(out io.Writer, model string) translate.Stream {
	return translate.NewOpenAIChatToResponsesStream(out, model)
}

var errNativeOnly = errors.New("the Responses API is reached natively only, by Responses clients")

func (*responsesDialect) Encode([]byte, string) ([]byte, error) { return nil, errNativeOnly }

func (*responsesDialect) Decode([]byte, string) ([]byte, llm.Usage, error) {
	return nil, llm.Usage{}, errNativeOnly
}

func (*responsesDialect) DecodeStream(io.Writer, string, bool) translate.Stream { return nil }

func (*responsesDialect) Usage(body []byte) llm.Usage {
	u, _ := openai.ResponsesUsageOf(body)
	return u
}

func (*responsesDialect) ParseError(b []byte) (string, string) { return openAIChat.ParseError(b) }

func (*responsesDialect) Answer(body []byte) Answer {
	var r struct {
		Output []struct {
			Type    string                        `json:"type"`
			Content []struct{ Type, Text string } `json:"content"`
		} `json:"output"`
	}
	_ = json.Unmarshal(body, &r)
	var a Answer
	var b strings.Builder
	for _, it := range r.Output {
		if strings.HasSuffix(it.Type, "_call") {
			a.ToolCalls = true
		}
		for _, c := range it.Content {
			if c.Type == "output_text" {
				b.WriteString(c.Text)
			}
		}
	}
	a.Text = b.String()
	return a
}

func (*responsesDialect) NewFold() Fold {
	f := &responsesFold{}
	f.r = newEventReader(f.onEvent)
	return f
}

// responsesFold collects the answer of a Responses stream: the text
// deltas, and whether an output item is a tool call.
type responsesFold struct {
	r     io.Writer
	b     strings.Builder
	tools bool
}

func (f *responsesFold) Write(p []byte) (int, error) { _, _ = f.r.Write(p); return len(p), nil }
func (f *responsesFold) Answer() Answer              { return Answer{Text: f.b.String(), ToolCalls: f.tools} }

func (f *responsesFold) onEvent(_, data []byte) {
	switch {
	case bytes.Contains(data, []byte(`"response.output_text.delta"`)):
		var ev struct {
			Type  string `json:"type"`
			Delta string `json:"delta"`
		}
		if f.b.Len() < maxFold && json.Unmarshal(data, &ev) == nil && ev.Type == "response.output_text.delta" {
			f.b.WriteString(ev.Delta)
		}
	case bytes.Contains(data, []byte(`"response.output_item.added"`)):
		var ev struct {
			Item struct {
				Type string `json:"type"`
			} `json:"item"`
		}
		if json.Unmarshal(data, &ev) == nil && strings.HasSuffix(ev.Item.Type, "_call") {
			f.tools = true
		}
	}
}

func (*responsesDialect) WriteError(w http.ResponseWriter, e *Error) { openAIChat.WriteError(w, e) }

func (*responsesDialect) StreamError(e *Error) []byte {
	code := e.Code
	if code == "" {
		code = "server_error"
	}
	return responsesFailed(code, e.Msg)
}

func (*responsesDialect) Pass(out io.Writer, _ bool) Sink { return &responsesPass{out: out} }
