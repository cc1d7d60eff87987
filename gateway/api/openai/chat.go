package openai

import (
	"encoding/json"
	"errors"

	"github.com/memproxy/memproxy/gateway/llm"
)

// ChatRequest holds the fields of a chat-completion request body that the
// gateway reads or writes; the many others stay in the raw body. Pointer
// and omitempty fields are absent from the wire when unset.
type ChatRequest struct {
	Model               string         `json:"model"`
	Messages            []ChatMessage  `json:"messages"`
	MaxCompletionTokens *int           `json:"max_completion_tokens,omitempty"`
	MaxTokens           *int           `json:"max_tokens,omitempty"`
	Temperature         *float64       `json:"temperature,omitempty"`
	TopP                *float64       `json:"top_p,omitempty"`
	Stop                *Stop          `json:"stop,omitempty"`
	Stream              bool           `json:"stream,omitempty"`
	StreamOptions       *StreamOptions `json:"stream_options,omitempty"`
	Tools               []Tool         `json:"tools,omitempty"`
	ToolChoice          *ToolChoice    `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool          `json:"parallel_tool_calls,omitempty"`
	User                string         `json:"user,omitempty"`
}

// StreamOptions is the request's stream_options object.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Stop is the stop parameter: a string or a list of strings. List == nil
// means the string form.
type Stop struct {
	Text string
	List []string
}

// Sequences returns the stop sequences, one for the string form.
func (s Stop) Sequences() []string {
	if s.List != nil {
		return s.List
	}
	return []string{s.Text}
}

// MarshalJSON writes the string form when List is nil.
func (s Stop) MarshalJSON() ([]byte, error) {
	if s.List == nil {
		return json.Marshal(s.Text)
	}
	return json.Marshal(s.List)
}

// UnmarshalJSON accepts a string or an array of strings.
func (s *Stop) UnmarshalJSON(b []byte) error {
	*s = Stop{}
	if len(b) > 0 && b[0] == '[' {
		s.List = []string{}
		return json.Unmarshal(b, &s.List)
	}
	return json.Unmarshal(b, &s.Text)
}

// ChatMessage is one message of a request: role system, developer, user,
// assistant or tool. Content is null (nil) only for an assistant message
// that carries tool calls.
type ChatMessage struct {
	Role       string       `json:"role"`
	Content    *ChatContent `json:"content"`
	Name       string       `json:"name,omitempty"`
	Refusal    *string      `json:"refusal,omitempty"`
	ToolCalls  []ToolCall   `json:"tool_calls,omitempty"`
	ToolCallID string       `json:"tool_call_id,omitempty"`
	// FunctionCall and Audio are only read, to refuse them.
	FunctionCall json.RawMessage `json:"function_call,omitempty"`
	Audio        json.RawMessage `json:"audio,omitempty"`
}

// ChatContent is a message's content: a string, or an array of content
// parts. Parts == nil means the string form (Text).
type ChatContent struct {
	Text  string
	Parts []ContentPart
}

// MarshalJSON writes the string form when Parts is nil, else the array.
func (c ChatContent) MarshalJSON() ([]byte, error) {
	if c.Parts == nil {
		return json.Marshal(c.Text)
	}
	return json.Marshal(c.Parts)
}

// UnmarshalJSON accepts a string or an array of parts.
func (c *ChatContent) UnmarshalJSON(b []byte) error {
	*c = ChatContent{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.Text)
	}
	if len(b) > 0 && b[0] == '[' {
		c.Parts = []ContentPart{}
		return json.Unmarshal(b, &c.Parts)
	}
	return errors.New("content must be a string or an array of content parts")
}

// ContentPart is one part of a message's content: type "text" (Text),
// "image_url" (ImageURL), "refusal" (Refusal). Other types ("input_audio",
// "file") decode with only their Type.
type ContentPart struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *ImageURL `json:"image_url,omitempty"`
	Refusal  string    `json:"refusal,omitempty"`
}

// MarshalJSON always writes "text" for text parts, even when empty.
func (p ContentPart) MarshalJSON() ([]byte, error) {
	if p.Type == "text" {
		return json.Marshal(struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}{p.Type, p.Text})
	}
	type plain ContentPart
	return json.Marshal(plain(p))
}

// ImageURL is an image_url part's payload: an http(s) or data: URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// ToolCall is one function call an assistant made. Arguments is a JSON
// object encoded as a string.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is the function of a ToolCall.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Tool is a tool definition; Type "function" is the one the gateway
// translates.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef describes a function tool. Parameters is a JSON Schema
// object; absent means no parameters.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolChoice is tool_choice: the string form Mode ("auto", "none",
// "required") or an object of Type "function" naming Name (other object
// types, such as "allowed_tools", keep only their Type).
type ToolChoice struct {
	Mode string
	Type string
	Name string
}

// MarshalJSON writes the string form when Mode is set.
func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Mode != "" {
		return json.Marshal(t.Mode)
	}
	var v struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	v.Type, v.Function.Name = t.Type, t.Name
	return json.Marshal(v)
}

// UnmarshalJSON accepts both forms.
func (t *ToolChoice) UnmarshalJSON(b []byte) error {
	*t = ToolChoice{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &t.Mode)
	}
	var v struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t.Type, t.Name = v.Type, v.Function.Name
	return nil
}

// The finish reasons of a choice.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
	FinishFunctionCall  = "function_call"
)

// ChatCompletion is a non-streaming chat-completion response.
type ChatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []ChatChoice `json:"choices"`
	Usage   *WireUsage   `json:"usage,omitempty"`
}

// ChatChoice is one choice of a ChatCompletion; Logprobs is written as null
// when empty.
type ChatChoice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

// ResponseMessage is the assistant message of a choice. Content and
// Refusal are null when nil; Annotations is omitted when empty.
type ResponseMessage struct {
	Role        string            `json:"role"`
	Content     *string           `json:"content"`
	Refusal     *string           `json:"refusal"`
	ToolCalls   []ToolCall        `json:"tool_calls,omitempty"`
	Annotations []json.RawMessage `json:"annotations,omitempty"`
}

// ChatChunk is one chunk of a chat-completion stream, or an error event
// (Error set) sent after the stream began.
type ChatChunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []ChunkChoice `json:"choices"`
	Usage   *WireUsage    `json:"usage"`
	Error   *ErrorDetail  `json:"error,omitempty"`
}

// ChunkChoice is one choice of a chunk; FinishReason is nil until the last.
type ChunkChoice struct {
	Index        int        `json:"index"`
	Delta        ChunkDelta `json:"delta"`
	FinishReason *string    `json:"finish_reason"`
}

// ChunkDelta is the delta of a ChunkChoice.
type ChunkDelta struct {
	Role      string          `json:"role,omitempty"`
	Content   *string         `json:"content,omitempty"`
	Refusal   *string         `json:"refusal,omitempty"`
	ToolCalls []ToolCallDelta `json:"tool_calls,omitempty"`
}

// ToolCallDelta is a fragment of a tool call in a stream. Index counts
// tool calls; ID, Type and Function.Name come in a call's first fragment,
// Function.Arguments in pieces to concatenate.
type ToolCallDelta struct {
	Index    int          `json:"index"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// LLM returns the neutral usage of a usage object.
func (u *WireUsage) LLM() llm.Usage { return u.toLLM() }
