package openai

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/memproxy/memproxy/gateway/api/sse"
	"github.com/memproxy/memproxy/gateway/llm"
)

// ResponsesRequest holds the fields of a Responses API (POST /v1/responses)
// request body that the gateway translates; the others are checked on the
// raw body. The request types are decoded only: a passthrough forwards the
// client's bytes.
type ResponsesRequest struct {
	Model             string               `json:"model"`
	Instructions      string               `json:"instructions,omitempty"`
	Input             *ResponsesInput      `json:"input,omitempty"`
	Tools             []ResponsesTool      `json:"tools,omitempty"`
	ToolChoice        *ResponsesToolChoice `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool                `json:"parallel_tool_calls,omitempty"`
	MaxOutputTokens   *int                 `json:"max_output_tokens,omitempty"`
	Temperature       *float64             `json:"temperature,omitempty"`
	TopP              *float64             `json:"top_p,omitempty"`
	Stream            bool                 `json:"stream,omitempty"`
	Text              *ResponsesText       `json:"text,omitempty"`
	Reasoning         *ResponsesReasoning  `json:"reasoning,omitempty"`
	User              string               `json:"user,omitempty"`
}

// ResponsesInput is the request's input: a string (one user message) or a
// list of items. Items == nil means the string form.
type ResponsesInput struct {
	Text  string
	Items []ResponsesItem
}

// UnmarshalJSON accepts a string or an array of items.
func (in *ResponsesInput) UnmarshalJSON(b []byte) error {
	*in = ResponsesInput{}
	return stringOrList(b, &in.Text, &in.Items, "input must be a string or an array of items")
}

// stringOrList decodes a JSON string into text, or an array into a
// non-nil list; anything else fails with msg.
func stringOrList[T any](b []byte, text *string, list *[]T, msg string) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, text)
	case len(b) > 0 && b[0] == '[':
		*list = []T{}
		return json.Unmarshal(b, list)
	}
	return errors.New(msg)
}

// ResponsesItem is one input item. Type is "message" (or empty, with Role
// set: the "easy" message form), "function_call", "function_call_output",
// "reasoning", or another item type, decoded with only its Type.
type ResponsesItem struct {
	Type string `json:"type,omitempty"`
	// Role and Content are a message's: role user, assistant, system or
	// developer.
	Role    string            `json:"role,omitempty"`
	Content *ResponsesContent `json:"content,omitempty"`
	// CallID is a function_call's or function_call_output's; Name and
	// Arguments (a JSON object encoded as a string) a function_call's.
	CallID    string `json:"call_id,omitempty"`
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments,omitempty"`
	// Output is a function_call_output's: a string or a list of parts.
	Output *ResponsesContent `json:"output,omitempty"`
}

// ResponsesContent is a message's content or a function call's output: a
// string, or a list of parts. Parts == nil means the string form.
type ResponsesContent struct {
	Text  string
	Parts []ResponsesPart
}

// UnmarshalJSON accepts a string or an array of parts.
func (c *ResponsesContent) UnmarshalJSON(b []byte) error {
	*c = ResponsesContent{}
	return stringOrList(b, &c.Text, &c.Parts, "content must be a string or an array of content parts")
}

// ResponsesPart is one content part: "input_text" and "output_text" (Text),
// "input_image" (ImageURL, an http(s) or data: URL, or FileID; Detail),
// "refusal" (Refusal). Other types ("input_file", "input_audio") decode
// with only their Type and FileID.
type ResponsesPart struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Refusal  string `json:"refusal,omitempty"`
}

// ResponsesTool is a tool definition. A "function" tool has Name,
// Description, Parameters (a JSON Schema) and Strict at the top level, not
// under "function" as in Chat Completions; other types (web_search,
// local_shell, custom, …) decode with only their Type and Name.
type ResponsesTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ResponsesToolChoice is tool_choice: the string form Mode ("auto", "none",
// "required"), or an object of Type "function" or "custom" naming Name,
// "allowed_tools" (AllowedMode "auto" or "required" over Tools, each a Type
// and a Name), or a built-in tool type such as "web_search_preview".
type ResponsesToolChoice struct {
	Mode        string
	Type        string
	Name        string
	AllowedMode string
	Tools       []ResponsesTool
}

// UnmarshalJSON accepts both forms.
func (t *ResponsesToolChoice) UnmarshalJSON(b []byte) error {
	*t = ResponsesToolChoice{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &t.Mode)
	}
	var v struct {
		Type, Name, Mode string
		Tools            []ResponsesTool
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t.Type, t.Name, t.AllowedMode, t.Tools = v.Type, v.Name, v.Mode, v.Tools
	return nil
}

// ResponsesText is the request's text object.
type ResponsesText struct {
	Format    *ResponsesFormat `json:"format,omitempty"`
	Verbosity string           `json:"verbosity,omitempty"`
}

// ResponsesFormat is text.format: Type "text", "json_object", or
// "json_schema" with Name, Description, Schema and Strict at the top level.
type ResponsesFormat struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ResponsesReasoning is the request's reasoning object.
type ResponsesReasoning struct {
	Effort  string `json:"effort,omitempty"`
	Summary string `json:"summary,omitempty"`
}

// The statuses of a response and of its output items.
const (
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
	StatusIncomplete = "incomplete"
	StatusFailed     = "failed"
)

// ResponseObject is the response object: the body of a non-streaming
// answer and the "response" of the lifecycle stream events. Nil pointers
// are written as null; Tools is written as [] when nil.
type ResponseObject struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	CreatedAt         int64              `json:"created_at"`
	Status            string             `json:"status"`
	Error             *ResponseError     `json:"error"`
	IncompleteDetails *IncompleteDetails `json:"incomplete_details"`
	Instructions      *string            `json:"instructions"`
	Metadata          map[string]string  `json:"metadata"`
	Model             string             `json:"model"`
	Output            []OutputItem       `json:"output"`
	ParallelToolCalls bool               `json:"parallel_tool_calls"`
	Text              json.RawMessage    `json:"text,omitempty"`
	ToolChoice        json.RawMessage    `json:"tool_choice,omitempty"`
	Tools             []json.RawMessage  `json:"tools"`
	Usage             *ResponseUsage     `json:"usage"`
}

// ResponseError is a failed response's error; Code is one of OpenAI's
// codes, such as "server_error" or "rate_limit_exceeded".
type ResponseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// IncompleteDetails says why a response is incomplete: "max_output_tokens"
// or "content_filter".
type IncompleteDetails struct {
	Reason string `json:"reason"`
}

// OutputItem is one item of a response's output: a "message" (Role,
// Content) or a "function_call" (CallID, Name, Arguments). It is written
// with the fields of its type only, Content and Arguments always present.
type OutputItem struct {
	Type      string       `json:"type"`
	ID        string       `json:"id"`
	Status    string       `json:"status"`
	Role      string       `json:"role,omitempty"`
	Content   []OutputPart `json:"content,omitempty"`
	CallID    string       `json:"call_id,omitempty"`
	Name      string       `json:"name,omitempty"`
	Arguments string       `json:"arguments,omitempty"`
}

// MarshalJSON writes the fields of the item's type.
func (it OutputItem) MarshalJSON() ([]byte, error) {
	switch it.Type {
	case "message":
		c := it.Content
		if c == nil {
			c = []OutputPart{}
		}
		return json.Marshal(struct {
			ID      string       `json:"id"`
			Type    string       `json:"type"`
			Status  string       `json:"status"`
			Role    string       `json:"role"`
			Content []OutputPart `json:"content"`
		}{it.ID, it.Type, it.Status, it.Role, c})
	case "function_call":
		return json.Marshal(struct {
			ID        string `json:"id"`
			Type      string `json:"type"`
			Status    string `json:"status"`
			Arguments string `json:"arguments"`
			CallID    string `json:"call_id"`
			Name      string `json:"name"`
		}{it.ID, it.Type, it.Status, it.Arguments, it.CallID, it.Name})
	}
	type plain OutputItem
	return json.Marshal(plain(it))
}

// OutputPart is one part of an output message: "output_text" (Text, with
// an always-present annotations list) or "refusal" (Refusal).
type OutputPart struct {
	Type        string            `json:"type"`
	Text        string            `json:"text,omitempty"`
	Annotations []json.RawMessage `json:"annotations,omitempty"`
	Refusal     string            `json:"refusal,omitempty"`
}

// MarshalJSON writes the fields of the part's type.
func (p OutputPart) MarshalJSON() ([]byte, error) {
	switch p.Type {
	case "output_text":
		a := p.Annotations
		if a == nil {
			a = []json.RawMessage{}
		}
		return json.Marshal(struct {
			Type        string            `json:"type"`
			Text        string            `json:"text"`
			Annotations []json.RawMessage `json:"annotations"`
		}{p.Type, p.Text, a})
	case "refusal":
		return json.Marshal(struct {
			Type    string `json:"type"`
			Refusal string `json:"refusal"`
		}{p.Type, p.Refusal})
	}
	type plain OutputPart
	return json.Marshal(plain(p))
}

// ResponseUsage is a response's usage object. InputTokens includes the
// cached ones; OutputTokens includes the reasoning ones.
type ResponseUsage struct {
	InputTokens         int64               `json:"input_tokens"`
	InputTokensDetails  InputTokensDetails  `json:"input_tokens_details"`
	OutputTokens        int64               `json:"output_tokens"`
	OutputTokensDetails OutputTokensDetails `json:"output_tokens_details"`
	TotalTokens         int64               `json:"total_tokens"`
}

// InputTokensDetails is the breakdown of ResponseUsage.InputTokens.
type InputTokensDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

// OutputTokensDetails is the breakdown of ResponseUsage.OutputTokens.
type OutputTokensDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// LLM returns the neutral usage of a usage object.
func (u *ResponseUsage) LLM() llm.Usage {
	return llm.Usage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens,
		CachedTokens: u.InputTokensDetails.CachedTokens}
}

// The event types of a Responses stream. Each event is written as
// `event: <type>` and `data: {"type":"<type>","sequence_number":N,…}`.
const (
	ResponsesEventCreated        = "response.created"
	ResponsesEventInProgress     = "response.in_progress"
	ResponsesEventCompleted      = "response.completed"
	ResponsesEventIncomplete     = "response.incomplete"
	ResponsesEventFailed         = "response.failed"
	ResponsesEventItemAdded      = "response.output_item.added"
	ResponsesEventItemDone       = "response.output_item.done"
	ResponsesEventPartAdded      = "response.content_part.added"
	ResponsesEventPartDone       = "response.content_part.done"
	ResponsesEventTextDelta      = "response.output_text.delta"
	ResponsesEventTextDone       = "response.output_text.done"
	ResponsesEventRefusalDelta   = "response.refusal.delta"
	ResponsesEventRefusalDone    = "response.refusal.done"
	ResponsesEventArgumentsDelta = "response.function_call_arguments.delta"
	ResponsesEventArgumentsDone  = "response.function_call_arguments.done"
)

// AppendResponsesEvent appends one SSE event, `event: <typ>` then the
// data line, to dst.
func AppendResponsesEvent(dst []byte, typ string, data []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n')
}

// ResponsesStreamObserver reads a copy of a Responses stream as it passes
// and records its end: the terminal event's status and usage. Feed it with
// Write; it never modifies or holds back the bytes it is given. Only the
// terminal events (response.completed, .incomplete, .failed) are parsed.
type ResponsesStreamObserver struct {
	lines sse.Lines

	Usage    llm.Usage
	SawUsage bool
	// Status is the terminal event's response status ("" until one is
	// seen); SawEnd is true once response.completed or
	// response.incomplete, the proper ends of a stream, was seen.
	Status string
	SawEnd bool
}

// Write implements io.Writer; it never fails.
func (o *ResponsesStreamObserver) Write(p []byte) (int, error) {
	if o.lines.OnLine == nil {
		o.lines.OnLine = o.onLine
	}
	return o.lines.Write(p)
}

var terminalTypes = [][]byte{
	[]byte(`"type":"` + ResponsesEventCompleted + `"`),
	[]byte(`"type":"` + ResponsesEventIncomplete + `"`),
	[]byte(`"type":"` + ResponsesEventFailed + `"`),
}

func (o *ResponsesStreamObserver) onLine(line []byte) {
	data, ok := sse.Data(line)
	if !ok {
		return
	}
	terminal := false
	for _, t := range terminalTypes {
		terminal = terminal || bytes.Contains(data, t)
	}
	if !terminal {
		return // the common case, a delta: no parse at all
	}
	var ev struct {
		Type     string `json:"type"`
		Response struct {
			Status string         `json:"status"`
			Usage  *ResponseUsage `json:"usage"`
		} `json:"response"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	switch ev.Type {
	case ResponsesEventCompleted, ResponsesEventIncomplete:
		o.SawEnd = true
	case ResponsesEventFailed:
	default:
		return
	}
	o.Status = ev.Response.Status
	if u := ev.Response.Usage; u != nil {
		o.Usage, o.SawUsage = u.LLM(), true
	}
}

// ResponsesUsageOf reads the usage object of a non-streaming response body.
func ResponsesUsageOf(body []byte) (llm.Usage, bool) {
	var r struct {
		Usage *ResponseUsage `json:"usage"`
	}
	if json.Unmarshal(body, &r) != nil || r.Usage == nil {
		return llm.Usage{}, false
	}
	return r.Usage.LLM(), true
}
