package translate

import (
	"encoding/json"
	"strconv"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/openai"
)

// AnthropicToOpenAIChat translates an Anthropic Messages request body into
// an OpenAI chat-completion request for upstreamModel. A streaming request
// asks for stream_options.include_usage. Input that cannot be translated
// returns an *Error naming the field.
func AnthropicToOpenAIChat(body []byte, upstreamModel string) ([]byte, error) {
	return Chain(body, AnthropicToOpenAIChatStep(upstreamModel))
}

// AnthropicToOpenAIChatStep is AnthropicToOpenAIChat, for Chain.
func AnthropicToOpenAIChatStep(upstreamModel string) Step {
	return Step{func(b []byte, st *stash) ([]byte, error) { return anthropicToOpenAIChat(b, upstreamModel, st) }}
}

func anthropicToOpenAIChat(body []byte, upstreamModel string, st *stash) ([]byte, error) {
	raw, keys, err := fields(body)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := checkAnthropicField(k, raw[k]); err != nil {
			return nil, err
		}
	}
	var req anthropic.MessagesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, decodeErr[anthropic.Message](err, raw)
	}
	if req.MaxTokens == nil {
		return nil, &Error{"max_tokens", "required"}
	}
	out := openai.ChatRequest{Model: upstreamModel, MaxCompletionTokens: req.MaxTokens,
		Temperature: req.Temperature, TopP: req.TopP, Stream: req.Stream}
	if req.Stream {
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	if len(req.StopSequences) > 0 {
		out.Stop = &openai.Stop{List: req.StopSequences}
	}
	if req.Metadata != nil {
		out.User = req.Metadata.UserID
	}
	if req.System != nil {
		sys := openai.ChatContent{Text: req.System.Text}
		if req.System.Blocks != nil {
			parts, err := textParts(req.System.Blocks, "system")
			if err != nil {
				return nil, err
			}
			sys = openai.ChatContent{Parts: parts}
		}
		out.Messages = append(out.Messages, openai.ChatMessage{Role: "system", Content: &sys})
	}
	for i, m := range req.Messages {
		msgs, err := openAIMessages(m, "messages["+strconv.Itoa(i)+"]", st)
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if err := openAITools(&out, req.Tools, req.ToolChoice, st); err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// checkAnthropicField refuses the fields that would change the answer and
// passes the ones translated or harmlessly dropped.
func checkAnthropicField(k string, v json.RawMessage) error {
	switch k {
	case "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
		"temperature", "top_p", "tools", "tool_choice":
		return nil
	case "thinking", "top_k", "service_tier", "context_management":
		// dropped: OpenAI has no counterpart; the answer keeps its shape
		// (context_management only trims old tool results to save context,
		// which Claude Code asks for on every request)
		return nil
	case "output_config":
		// effort (Claude Code sends "high") only tunes how hard the model
		// thinks: dropped. A structured-output format would change the
		// answer's shape: refused.
		var oc map[string]json.RawMessage
		if json.Unmarshal(v, &oc) != nil && !isNull(v) {
			return &Error{k, "must be an object"}
		}
		for ok := range oc {
			if ok != "effort" {
				return &Error{k + "." + ok, "has no OpenAI counterpart"}
			}
		}
		return nil
	case "container", "mcp_servers":
		if isNull(v) {
			return nil
		}
		return &Error{k, "has no OpenAI counterpart"}
	}
	return &Error{k, "unknown field"}
}

// textParts turns text blocks (system, tool_result) into text parts.
func textParts(blocks []anthropic.ContentBlock, field string) ([]openai.ContentPart, error) {
	parts := make([]openai.ContentPart, 0, len(blocks))
	for j, b := range blocks {
		if b.Type != anthropic.BlockText {
			return nil, &Error{field + "[" + strconv.Itoa(j) + "].type", "only text blocks can be sent to OpenAI here, not " + quote(b.Type)}
		}
		parts = append(parts, openai.ContentPart{Type: "text", Text: b.Text})
	}
	return parts, nil
}

// openAIMessages translates one Anthropic turn into OpenAI messages: a
// user turn's tool results become tool messages ahead of the rest.
func openAIMessages(m anthropic.Message, field string, st *stash) ([]openai.ChatMessage, error) {
	switch m.Role {
	case "user":
		if m.Content.Blocks == nil {
			return []openai.ChatMessage{{Role: "user", Content: &openai.ChatContent{Text: m.Content.Text}}}, nil
		}
		var out []openai.ChatMessage
		parts := []openai.ContentPart{}
		for j, b := range m.Content.Blocks {
			bf := field + ".content[" + strconv.Itoa(j) + "]"
			switch b.Type {
			case anthropic.BlockText:
				parts = append(parts, openai.ContentPart{Type: "text", Text: b.Text})
			case anthropic.BlockImage:
				url, err := imageURL(b.Source, bf+".source")
				if err != nil {
					return nil, err
				}
				parts = append(parts, openai.ContentPart{Type: "image_url", ImageURL: &openai.ImageURL{URL: url}})
			case anthropic.BlockToolResult:
				c := openai.ChatContent{}
				if b.Content != nil {
					c.Text = b.Content.Text
					if b.Content.Blocks != nil {
						p, err := textParts(b.Content.Blocks, bf+".content")
						if err != nil {
							return nil, err
						}
						c.Parts = p
					}
				}
				out = append(out, openai.ChatMessage{Role: "tool", ToolCallID: b.ToolUseID, Content: &c})
			default:
				return nil, &Error{bf + ".type", "block " + quote(b.Type) + " has no OpenAI counterpart"}
			}
		}
		if len(parts) > 0 || len(out) == 0 {
			out = append(out, openai.ChatMessage{Role: "user", Content: &openai.ChatContent{Parts: parts}})
		}
		return out, nil
	case "assistant":
		if m.Content.Blocks == nil {
			return []openai.ChatMessage{{Role: "assistant", Content: &openai.ChatContent{Text: m.Content.Text}}}, nil
		}
		msg := openai.ChatMessage{Role: "assistant"}
		var texts []openai.ContentPart
		for j, b := range m.Content.Blocks {
			switch b.Type {
			case anthropic.BlockText:
				texts = append(texts, openai.ContentPart{Type: "text", Text: b.Text})
			case anthropic.BlockToolUse:
				msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ID, Type: "function",
					Function: openai.FunctionCall{Name: b.Name, Arguments: st.asArguments(toolArguments(b.Input))}})
			case anthropic.BlockThinking, anthropic.BlockRedactedThinking:
				// signed for Anthropic only: dropped
			default:
				return nil, &Error{field + ".content[" + strconv.Itoa(j) + "].type", "block " + quote(b.Type) + " has no OpenAI counterpart"}
			}
		}
		switch len(texts) {
		case 0:
			if len(msg.ToolCalls) == 0 {
				return nil, nil // only thinking: nothing left to say
			}
		case 1:
			msg.Content = &openai.ChatContent{Text: texts[0].Text}
		default:
			msg.Content = &openai.ChatContent{Parts: texts}
		}
		return []openai.ChatMessage{msg}, nil
	case "system":
		// A system turn inside messages (Claude Code sends them for
		// mid-conversation instructions) stays a system message in place.
		if m.Content.Blocks == nil {
			return []openai.ChatMessage{{Role: "system", Content: &openai.ChatContent{Text: m.Content.Text}}}, nil
		}
		parts, err := textParts(m.Content.Blocks, field+".content")
		if err != nil {
			return nil, err
		}
		return []openai.ChatMessage{{Role: "system", Content: &openai.ChatContent{Parts: parts}}}, nil
	}
	return nil, &Error{field + ".role", "role " + quote(m.Role) + " has no OpenAI counterpart"}
}

func openAITools(out *openai.ChatRequest, tools []anthropic.Tool, choice *anthropic.ToolChoice, st *stash) error {
	for i, t := range tools {
		if t.Type != "" && t.Type != "custom" {
			return &Error{"tools[" + strconv.Itoa(i) + "].type", "Anthropic tool " + quote(t.Type) + " has no OpenAI counterpart"}
		}
		schema := st.verbatim(t.InputSchema)
		if isNull(schema) {
			schema = emptySchema
		}
		out.Tools = append(out.Tools, openai.Tool{Type: "function",
			Function: openai.FunctionDef{Name: t.Name, Description: t.Description, Parameters: schema}})
	}
	if choice == nil || len(out.Tools) == 0 {
		return nil // OpenAI refuses tool_choice without tools; it would change nothing
	}
	switch choice.Type {
	case "auto":
		out.ToolChoice = &openai.ToolChoice{Mode: "auto"}
	case "any":
		out.ToolChoice = &openai.ToolChoice{Mode: "required"}
	case "none":
		out.ToolChoice = &openai.ToolChoice{Mode: "none"}
	case "tool":
		out.ToolChoice = &openai.ToolChoice{Type: "function", Name: choice.Name}
	default:
		return &Error{"tool_choice.type", "tool choice " + quote(choice.Type) + " has no OpenAI counterpart"}
	}
	if choice.DisableParallelToolUse {
		f := false
		out.ParallelToolCalls = &f
	}
	return nil
}
