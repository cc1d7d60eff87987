package translate

// responses_openai*.go serve a Responses API client (Codex CLI, the
// openai SDKs' client.responses) in front of a Chat Completions
// deployment; an Anthropic deployment is reached by chaining the result
// through OpenAIChatToAnthropic. An OpenAI deployment gets the Responses
// request as it is and needs none of this.
//
// Requests. instructions becomes a leading system message; a string input
// one user message. Input items, in order: message items (developer and
// system → system; input_text and output_text parts → text parts,
// input_image → image_url parts, refusal → refusal parts; content that is
// one text part becomes string content); function_call items → tool_calls
// of an assistant message, merged into the assistant message right before
// them (consecutive calls and a preceding assistant text message become
// one message); function_call_output → a tool message (tool_call_id =
// call_id; its text parts are the content, and its images, which a Chat
// tool message cannot hold, follow the run of tool messages as one user
// message). reasoning items are dropped: they are encrypted for OpenAI's
// own models and mean nothing to another model. Other item types
// (item_reference, custom_tool_call, local_shell_call, web_search_call, …)
// are refused, as are input_file and input_audio parts and images given by
// file_id.
//
// Tools. A function tool {type, name, description, parameters, strict} →
// {type:"function", function:{name, description, parameters, strict}}.
// Tools of other types (local_shell, web_search, file_search, computer_use,
// code_interpreter, custom/freeform, mcp, …) have no Chat counterpart and
// are dropped, not refused: Codex sends them by default and must keep
// working against other models, which then see only its function tools.
// A tool_choice that forces such a tool (its type, a custom tool by name,
// "required" with no function tool left, allowed_tools naming none) is
// refused. tool_choice auto/none/required/{type:"function",name} → the Chat
// forms; allowed_tools keeps only the function tools it names, with its
// mode. parallel_tool_calls passes. Without function tools, tool_choice and
// parallel_tool_calls are not sent.
//
// Parameters. max_output_tokens → max_completion_tokens only: the current
// Chat name, the one AnthropicToOpenAIChat writes and OpenAIChatToAnthropic
// prefers, and the only one OpenAI's reasoning models take. (Servers that
// know only the deprecated max_tokens then run without the cap; writing
// both would make the answer depend on which one a server honours.)
// temperature, top_p, user pass. text.format json_object and
// json_schema → response_format; text.verbosity → verbosity;
// reasoning.effort → reasoning_effort (reasoning.summary is dropped: Chat
// returns no reasoning summaries). stream → stream with
// stream_options.include_usage, so usage can be read.
//
// Refused: previous_response_id, conversation and prompt (the gateway keeps
// no response state or stored prompts: the client must send the whole
// conversation, as Codex does with store false), background true. Dropped,
// as they do not change the answer: store, include (no reasoning or hosted
// tool output to include), prompt_cache_key, prompt_cache_retention,
// metadata, client_metadata (Codex), safety_identifier, service_tier,
// truncation (an over-long input fails upstream instead of being cut),
// max_tool_calls (built-in tools only), top_logprobs, stream_options.
// Unknown fields are refused, as OpenAI does.

import (
	"encoding/json"
	"strconv"

	"github.com/memproxy/memproxy/gateway/api/openai"
)

// chatRequestOut is a chat-completion request with the fields a Responses
// request adds to what openai.ChatRequest carries.
type chatRequestOut struct {
	openai.ChatRequest
	ResponseFormat  json.RawMessage `json:"response_format,omitempty"`
	ReasoningEffort string          `json:"reasoning_effort,omitempty"`
	Verbosity       string          `json:"verbosity,omitempty"`
}

// ResponsesToOpenAIChat translates an OpenAI Responses request body into a
// chat-completion request for upstreamModel. A streaming request asks for
// stream_options.include_usage. Input that cannot be translated returns an
// *Error naming the field.
func ResponsesToOpenAIChat(body []byte, upstreamModel string) ([]byte, error) {
	return Chain(body, ResponsesToOpenAIChatStep(upstreamModel))
}

// ResponsesToOpenAIChatStep is ResponsesToOpenAIChat, for Chain.
func ResponsesToOpenAIChatStep(upstreamModel string) Step {
	return Step{func(b []byte, st *stash) ([]byte, error) { return responsesToOpenAIChat(b, upstreamModel, st) }}
}

func responsesToOpenAIChat(body []byte, upstreamModel string, st *stash) ([]byte, error) {
	raw, keys, err := fields(body)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := checkResponsesField(k, raw[k]); err != nil {
			return nil, err
		}
	}
	var req openai.ResponsesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, decodeItemErr(err, raw)
	}
	if req.Input == nil {
		return nil, &Error{"input", "required"}
	}
	out := chatRequestOut{ChatRequest: openai.ChatRequest{Model: upstreamModel, MaxCompletionTokens: req.MaxOutputTokens,
		Temperature: req.Temperature, TopP: req.TopP, Stream: req.Stream, User: req.User}}
	if req.Stream {
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	if req.Instructions != "" {
		out.Messages = append(out.Messages, openai.ChatMessage{Role: "system", Content: &openai.ChatContent{Text: req.Instructions}})
	}
	if req.Input.Items == nil {
		out.Messages = append(out.Messages, openai.ChatMessage{Role: "user", Content: &openai.ChatContent{Text: req.Input.Text}})
	} else if err := chatMessagesFromItems(&out.ChatRequest, req.Input.Items); err != nil {
		return nil, err
	}
	if err := chatToolsFromResponses(&out.ChatRequest, req.Tools, req.ToolChoice, req.ParallelToolCalls, st); err != nil {
		return nil, err
	}
	if req.Text != nil {
		out.Verbosity = req.Text.Verbosity
		if out.ResponseFormat, err = responseFormat(req.Text.Format, st); err != nil {
			return nil, err
		}
	}
	if req.Reasoning != nil {
		out.ReasoningEffort = req.Reasoning.Effort
	}
	return json.Marshal(out)
}

// checkResponsesField refuses the fields that would change the answer or
// need state the gateway does not keep, and passes the ones translated or
// harmlessly dropped.
func checkResponsesField(k string, v json.RawMessage) error {
	switch k {
	case "model", "input", "instructions", "stream", "max_output_tokens", "temperature", "top_p",
		"tools", "tool_choice", "parallel_tool_calls", "text", "reasoning", "user":
		return nil
	case "store", "include", "prompt_cache_key", "prompt_cache_retention", "metadata", "client_metadata",
		"safety_identifier", "service_tier", "truncation", "max_tool_calls", "top_logprobs", "stream_options":
		return nil // dropped: no change to the answer
	case "previous_response_id", "conversation":
		if isNull(v) {
			return nil
		}
		return &Error{k, "the gateway keeps no response state; send the whole conversation as input"}
	case "prompt":
		if isNull(v) {
			return nil
		}
		return &Error{k, "stored prompt templates are not available through the gateway"}
	case "background":
		if isNull(v) || string(v) == "false" {
			return nil
		}
		return &Error{k, "background responses need stored state, which the gateway does not keep"}
	}
	return &Error{k, "unknown field"}
}

// decodeItemErr turns a decoding failure into an *Error, naming the input
// item at fault when one is (encoding/json does not say where a custom
// decoder failed).
func decodeItemErr(err error, raw map[string]json.RawMessage) error {
	var items []json.RawMessage
	if json.Unmarshal(raw["input"], &items) == nil {
		for i, it := range items {
			var v openai.ResponsesItem
			if e := json.Unmarshal(it, &v); e != nil {
				return &Error{"input[" + strconv.Itoa(i) + "]", e.Error()}
			}
		}
	}
	return decodeErr[openai.ResponsesItem](err, raw)
}

// chatMessagesFromItems appends the Chat messages of the input items.
func chatMessagesFromItems(out *openai.ChatRequest, items []openai.ResponsesItem) error {
	var images []openai.ContentPart // from tool outputs, sent after the run of tool messages
	flush := func() {
		if len(images) > 0 {
			out.Messages = append(out.Messages, openai.ChatMessage{Role: "user", Content: &openai.ChatContent{Parts: images}})
			images = nil
		}
	}
	for i, it := range items {
		field := "input[" + strconv.Itoa(i) + "]"
		typ := it.Type
		if typ == "" && it.Role != "" {
			typ = "message"
		}
		if typ != "function_call_output" {
			flush()
		}
		switch typ {
		case "message":
			m, err := chatMessageFromItem(it, field)
			if err != nil {
				return err
			}
			out.Messages = append(out.Messages, m)
		case "function_call":
			tc := openai.ToolCall{ID: it.CallID, Type: "function", Function: openai.FunctionCall{Name: it.Name, Arguments: it.Arguments}}
			if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == "assistant" {
				out.Messages[n-1].ToolCalls = append(out.Messages[n-1].ToolCalls, tc)
				continue
			}
			out.Messages = append(out.Messages, openai.ChatMessage{Role: "assistant", ToolCalls: []openai.ToolCall{tc}})
		case "function_call_output":
			if it.Output == nil {
				return &Error{field + ".output", "required"}
			}
			c := openai.ChatContent{Text: it.Output.Text}
			if it.Output.Parts != nil {
				parts, err := chatParts(it.Output.Parts, field+".output", true)
				if err != nil {
					return err
				}
				var texts []openai.ContentPart
				for _, p := range parts {
					if p.Type == "image_url" {
						images = append(images, p)
					} else {
						texts = append(texts, p)
					}
				}
				c = asChatContent(texts)
			}
			out.Messages = append(out.Messages, openai.ChatMessage{Role: "tool", ToolCallID: it.CallID, Content: &c})
		case "reasoning":
			// encrypted for OpenAI's own models: dropped
		default:
			return &Error{field + ".type", "input item " + quote(typ) + " has no Chat Completions counterpart"}
		}
	}
	flush()
	return nil
}

// chatMessageFromItem translates one message item.
func chatMessageFromItem(it openai.ResponsesItem, field string) (openai.ChatMessage, error) {
	role := it.Role
	switch role {
	case "user", "assistant", "system":
	case "developer":
		role = "system"
	default:
		return openai.ChatMessage{}, &Error{field + ".role", "role " + quote(it.Role) + " has no Chat Completions counterpart"}
	}
	if it.Content == nil {
		return openai.ChatMessage{}, &Error{field + ".content", "required"}
	}
	c := openai.ChatContent{Text: it.Content.Text}
	if it.Content.Parts != nil {
		parts, err := chatParts(it.Content.Parts, field+".content", role == "user")
		if err != nil {
			return openai.ChatMessage{}, err
		}
		c = asChatContent(parts)
	}
	return openai.ChatMessage{Role: role, Content: &c}, nil
}

// chatParts translates content parts; images only where allowed.
func chatParts(in []openai.ResponsesPart, field string, images bool) ([]openai.ContentPart, error) {
	out := make([]openai.ContentPart, 0, len(in))
	for j, p := range in {
		pf := field + "[" + strconv.Itoa(j) + "]"
		switch p.Type {
		case "input_text", "output_text":
			out = append(out, openai.ContentPart{Type: "text", Text: p.Text})
		case "refusal":
			out = append(out, openai.ContentPart{Type: "refusal", Refusal: p.Refusal})
		case "input_image":
			switch {
			case !images:
				return nil, &Error{pf + ".type", "images are not allowed in this message"}
			case p.ImageURL == "":
				return nil, &Error{pf + ".image_url", "only images given by URL are translated, not by file_id"}
			}
			out = append(out, openai.ContentPart{Type: "image_url", ImageURL: &openai.ImageURL{URL: p.ImageURL, Detail: p.Detail}})
		default:
			return nil, &Error{pf + ".type", "content part " + quote(p.Type) + " has no Chat Completions counterpart"}
		}
	}
	return out, nil
}

// asChatContent gives one text part the string form, which every
// compatible server reads, and keeps the array form for the rest.
func asChatContent(parts []openai.ContentPart) openai.ChatContent {
	switch {
	case len(parts) == 0:
		return openai.ChatContent{}
	case len(parts) == 1 && parts[0].Type == "text":
		return openai.ChatContent{Text: parts[0].Text}
	}
	return openai.ChatContent{Parts: parts}
}

// chatToolsFromResponses translates the function tools, drops the rest,
// and maps tool_choice over what is left.
func chatToolsFromResponses(out *openai.ChatRequest, tools []openai.ResponsesTool, choice *openai.ResponsesToolChoice, parallel *bool, st *stash) error {
	for i, t := range tools {
		if t.Type != "function" {
			continue // no Chat counterpart: dropped (see the file comment)
		}
		if t.Name == "" {
			return &Error{"tools[" + strconv.Itoa(i) + "].name", "required"}
		}
		params := st.verbatim(t.Parameters)
		if isNull(params) {
			params = nil
		}
		out.Tools = append(out.Tools, openai.Tool{Type: "function",
			Function: openai.FunctionDef{Name: t.Name, Description: t.Description, Parameters: params, Strict: t.Strict}})
	}
	if choice != nil {
		tc, err := chatToolChoice(out, *choice)
		if err != nil {
			return err
		}
		out.ToolChoice = tc
	}
	if len(out.Tools) == 0 {
		out.ToolChoice = nil // Chat refuses tool_choice without tools; it would change nothing
		return nil
	}
	out.ParallelToolCalls = parallel
	return nil
}

func chatToolChoice(out *openai.ChatRequest, c openai.ResponsesToolChoice) (*openai.ToolChoice, error) {
	hasFunction := func(name string) bool {
		for _, t := range out.Tools {
			if t.Function.Name == name {
				return true
			}
		}
		return false
	}
	switch {
	case c.Mode == "auto" || c.Mode == "none":
		return &openai.ToolChoice{Mode: c.Mode}, nil
	case c.Mode == "required":
		if len(out.Tools) == 0 {
			return nil, &Error{"tool_choice", "requires a tool call, but no tool is a function tool (the others have no Chat Completions counterpart)"}
		}
		return &openai.ToolChoice{Mode: c.Mode}, nil
	case c.Mode != "":
		return nil, &Error{"tool_choice", "unknown tool choice " + quote(c.Mode)}
	case c.Type == "function":
		if !hasFunction(c.Name) {
			return nil, &Error{"tool_choice.name", "names no function tool: " + quote(c.Name)}
		}
		return &openai.ToolChoice{Type: "function", Name: c.Name}, nil
	case c.Type == "allowed_tools":
		var kept []openai.Tool
		for _, a := range c.Tools {
			for _, t := range out.Tools {
				if a.Type == "function" && t.Function.Name == a.Name {
					kept = append(kept, t)
				}
			}
		}
		if c.AllowedMode != "auto" && c.AllowedMode != "required" {
			return nil, &Error{"tool_choice.mode", "must be auto or required"}
		}
		if c.AllowedMode == "required" && len(kept) == 0 {
			return nil, &Error{"tool_choice.tools", "requires a tool call, but allows no function tool"}
		}
		out.Tools = kept
		return &openai.ToolChoice{Mode: c.AllowedMode}, nil
	}
	return nil, &Error{"tool_choice.type", "forces a " + quote(c.Type) + " tool, which has no Chat Completions counterpart"}
}

// responseFormat maps text.format to the Chat response_format.
func responseFormat(f *openai.ResponsesFormat, st *stash) (json.RawMessage, error) {
	if f == nil {
		return nil, nil
	}
	switch f.Type {
	case "text":
		return nil, nil
	case "json_object":
		return json.RawMessage(`{"type":"json_object"}`), nil
	case "json_schema":
		if f.Name == "" {
			return nil, &Error{"text.format.name", "required"}
		}
		type schema struct {
			Name        string          `json:"name"`
			Description string          `json:"description,omitempty"`
			Schema      json.RawMessage `json:"schema,omitempty"`
			Strict      *bool           `json:"strict,omitempty"`
		}
		return json.Marshal(struct {
			Type       string `json:"type"`
			JSONSchema schema `json:"json_schema"`
		}{"json_schema", schema{f.Name, f.Description, st.verbatim(f.Schema), f.Strict}})
	}
	return nil, &Error{"text.format.type", "format " + quote(f.Type) + " has no Chat Completions counterpart"}
}
