package translate

import (
	"encoding/json"
	"strconv"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/openai"
)

// OpenAIChatToAnthropic translates an OpenAI chat-completion request body
// into an Anthropic Messages request for upstreamModel. defaultMaxTokens
// fills in max_tokens, which Anthropic requires, when the client set
// neither max_tokens nor max_completion_tokens. Input that cannot be
// translated returns an *Error naming the field.
func OpenAIChatToAnthropic(body []byte, upstreamModel string, defaultMaxTokens int) ([]byte, error) {
	return Chain(body, OpenAIChatToAnthropicStep(upstreamModel, defaultMaxTokens))
}

// OpenAIChatToAnthropicStep is OpenAIChatToAnthropic, for Chain.
func OpenAIChatToAnthropicStep(upstreamModel string, defaultMaxTokens int) Step {
	return Step{func(b []byte, st *stash) ([]byte, error) {
		return openAIChatToAnthropic(b, upstreamModel, defaultMaxTokens, st)
	}}
}

func openAIChatToAnthropic(body []byte, upstreamModel string, defaultMaxTokens int, st *stash) ([]byte, error) {
	raw, keys, err := fields(body)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := checkOpenAIField(k, raw[k]); err != nil {
			return nil, err
		}
	}
	var req openai.ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, decodeErr[openai.ChatMessage](err, raw)
	}
	out := anthropic.MessagesRequest{Model: upstreamModel, Stream: req.Stream, Temperature: req.Temperature, TopP: req.TopP}
	maxTokens := defaultMaxTokens
	switch {
	case req.MaxCompletionTokens != nil:
		maxTokens = *req.MaxCompletionTokens
	case req.MaxTokens != nil:
		maxTokens = *req.MaxTokens
	}
	out.MaxTokens = &maxTokens
	if out.System, out.Messages, err = anthropicMessages(req.Messages, st); err != nil {
		return nil, err
	}
	if req.Stop != nil && (req.Stop.List != nil || req.Stop.Text != "") {
		out.StopSequences = req.Stop.Sequences()
	}
	if req.User != "" {
		out.Metadata = &anthropic.Metadata{UserID: req.User}
	}
	if out.Tools, out.ToolChoice, err = anthropicTools(req.Tools, req.ToolChoice, req.ParallelToolCalls, st); err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// checkOpenAIField refuses the fields that would change the answer and
// passes the ones translated or harmlessly dropped.
func checkOpenAIField(k string, v json.RawMessage) error {
	if isNull(v) {
		return nil
	}
	bad := func(msg string) error { return &Error{k, msg} }
	switch k {
	case "model", "messages", "max_tokens", "max_completion_tokens", "top_p", "stop", "stream",
		"tools", "tool_choice", "parallel_tool_calls", "user":
		return nil
	case "frequency_penalty", "presence_penalty", "seed", "metadata", "store", "service_tier",
		"prompt_cache_key", "prompt_cache_retention", "safety_identifier", "reasoning_effort",
		"verbosity", "prediction", "stream_options":
		return nil // dropped: no counterpart, and no change to the answer's shape
	case "temperature":
		var t float64
		if json.Unmarshal(v, &t) == nil && t > 1 {
			return bad("Anthropic accepts a temperature from 0 to 1")
		}
		return nil
	case "n":
		if string(v) != "1" {
			return bad("Anthropic returns a single choice")
		}
		return nil
	case "logprobs":
		if string(v) != "false" {
			return bad("Anthropic does not return log probabilities")
		}
		return nil
	case "top_logprobs":
		if string(v) != "0" {
			return bad("Anthropic does not return log probabilities")
		}
		return nil
	case "response_format":
		var rf struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(v, &rf) != nil || rf.Type != "text" {
			return bad("Anthropic has no JSON mode or JSON schema output")
		}
		return nil
	case "modalities":
		var m []string
		if json.Unmarshal(v, &m) != nil || len(m) != 1 || m[0] != "text" {
			return bad("Anthropic answers in text only")
		}
		return nil
	case "logit_bias":
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil || len(m) > 0 {
			return bad("Anthropic has no logit bias")
		}
		return nil
	case "audio":
		return bad("Anthropic has no audio output")
	case "functions", "function_call":
		return bad("the deprecated functions API is not translated; use tools")
	case "web_search_options":
		return bad("web search is not translated")
	}
	return bad("unknown field")
}

// anthropicMessages splits OpenAI messages into the Anthropic system prompt
// and alternating turns.
func anthropicMessages(msgs []openai.ChatMessage, st *stash) (*anthropic.Content, []anthropic.Message, error) {
	var (
		system    []anthropic.ContentBlock
		nSystem   int
		sysString bool
		turns     []anthropic.Message
		merged    []bool
	)
	for i, m := range msgs {
		field := "messages[" + strconv.Itoa(i) + "]"
		var c anthropic.Content
		role := "user"
		switch m.Role {
		case "system", "developer":
			if m.Content == nil {
				return nil, nil, &Error{field + ".content", "required"}
			}
			blocks, err := textBlocks(m.Content, field+".content")
			if err != nil {
				return nil, nil, err
			}
			system = append(system, blocks...)
			nSystem++
			sysString = m.Content.Parts == nil
			continue
		case "user":
			if m.Content == nil {
				return nil, nil, &Error{field + ".content", "required"}
			}
			if m.Content.Parts == nil {
				c.Text = m.Content.Text
				break
			}
			blocks, err := userBlocks(m.Content.Parts, field+".content")
			if err != nil {
				return nil, nil, err
			}
			c.Blocks = blocks
		case "assistant":
			role = "assistant"
			var err error
			if c, err = assistantContent(m, field, st); err != nil {
				return nil, nil, err
			}
		case "tool":
			if m.ToolCallID == "" {
				return nil, nil, &Error{field + ".tool_call_id", "required"}
			}
			if m.Content == nil {
				return nil, nil, &Error{field + ".content", "required"}
			}
			res := anthropic.Content{Text: m.Content.Text}
			if m.Content.Parts != nil {
				blocks, err := textBlocks(m.Content, field+".content")
				if err != nil {
					return nil, nil, err
				}
				res = anthropic.Content{Blocks: blocks}
			}
			c.Blocks = []anthropic.ContentBlock{{Type: anthropic.BlockToolResult, ToolUseID: toolUseID(m.ToolCallID), Content: &res}}
		default:
			return nil, nil, &Error{field + ".role", "role " + quote(m.Role) + " has no Anthropic counterpart"}
		}
		if n := len(turns); n > 0 && turns[n-1].Role == role {
			turns[n-1].Content.Blocks = append(asBlocks(turns[n-1].Content), asBlocks(c)...)
			merged[n-1] = true
			continue
		}
		turns = append(turns, anthropic.Message{Role: role, Content: c})
		merged = append(merged, false)
	}
	for i := range turns {
		if merged[i] && turns[i].Role == "user" {
			toolResultsFirst(turns[i].Content.Blocks)
		}
	}
	if nSystem == 0 {
		return nil, turns, nil
	}
	if nSystem == 1 && sysString && len(system) == 1 {
		return &anthropic.Content{Text: system[0].Text}, turns, nil
	}
	return &anthropic.Content{Blocks: system}, turns, nil
}

// asBlocks returns c in the array form; an empty string has no blocks.
func asBlocks(c anthropic.Content) []anthropic.ContentBlock {
	if c.Blocks != nil {
		return c.Blocks
	}
	if c.Text == "" {
		return []anthropic.ContentBlock{}
	}
	return []anthropic.ContentBlock{{Type: anthropic.BlockText, Text: c.Text}}
}

// toolResultsFirst moves tool_result blocks to the front, keeping order.
func toolResultsFirst(b []anthropic.ContentBlock) {
	out := make([]anthropic.ContentBlock, 0, len(b))
	for _, x := range b {
		if x.Type == anthropic.BlockToolResult {
			out = append(out, x)
		}
	}
	for _, x := range b {
		if x.Type != anthropic.BlockToolResult {
			out = append(out, x)
		}
	}
	copy(b, out)
}

// textBlocks turns text-only content (system, tool) into text blocks.
func textBlocks(c *openai.ChatContent, field string) ([]anthropic.ContentBlock, error) {
	if c.Parts == nil {
		return []anthropic.ContentBlock{{Type: anthropic.BlockText, Text: c.Text}}, nil
	}
	out := make([]anthropic.ContentBlock, 0, len(c.Parts))
	for j, p := range c.Parts {
		if p.Type != "text" {
			return nil, &Error{field + "[" + strconv.Itoa(j) + "].type", "only text parts are allowed here"}
		}
		out = append(out, anthropic.ContentBlock{Type: anthropic.BlockText, Text: p.Text})
	}
	return out, nil
}

func userBlocks(parts []openai.ContentPart, field string) ([]anthropic.ContentBlock, error) {
	out := make([]anthropic.ContentBlock, 0, len(parts))
	for j, p := range parts {
		pf := field + "[" + strconv.Itoa(j) + "]"
		switch p.Type {
		case "text":
			out = append(out, anthropic.ContentBlock{Type: anthropic.BlockText, Text: p.Text})
		case "image_url":
			if p.ImageURL == nil {
				return nil, &Error{pf + ".image_url", "required"}
			}
			src, err := imageSource(p.ImageURL.URL, pf+".image_url.url")
			if err != nil {
				return nil, err
			}
			out = append(out, anthropic.ContentBlock{Type: anthropic.BlockImage, Source: src})
		default:
			return nil, &Error{pf + ".type", "content part " + quote(p.Type) + " has no Anthropic counterpart"}
		}
	}
	return out, nil
}

func assistantContent(m openai.ChatMessage, field string, st *stash) (anthropic.Content, error) {
	if !isNull(m.FunctionCall) {
		return anthropic.Content{}, &Error{field + ".function_call", "the deprecated functions API is not translated; use tools"}
	}
	if !isNull(m.Audio) {
		return anthropic.Content{}, &Error{field + ".audio", "Anthropic has no audio output"}
	}
	if len(m.ToolCalls) == 0 && m.Refusal == nil && (m.Content == nil || m.Content.Parts == nil) {
		if m.Content == nil {
			return anthropic.Content{Blocks: []anthropic.ContentBlock{}}, nil
		}
		return anthropic.Content{Text: m.Content.Text}, nil
	}
	blocks := []anthropic.ContentBlock{}
	text := func(s string) {
		if s != "" {
			blocks = append(blocks, anthropic.ContentBlock{Type: anthropic.BlockText, Text: s})
		}
	}
	if m.Content != nil {
		text(m.Content.Text)
		for j, p := range m.Content.Parts {
			switch p.Type {
			case "text":
				text(p.Text)
			case "refusal":
				text(p.Refusal)
			default:
				return anthropic.Content{}, &Error{field + ".content[" + strconv.Itoa(j) + "].type", "assistant content part " + quote(p.Type) + " is not translated"}
			}
		}
	}
	if m.Refusal != nil {
		text(*m.Refusal)
	}
	for j, tc := range m.ToolCalls {
		tf := field + ".tool_calls[" + strconv.Itoa(j) + "]"
		if tc.Type != "function" {
			return anthropic.Content{}, &Error{tf + ".type", "only function tool calls are translated"}
		}
		in, err := toolInput(st.arguments(tc.Function.Arguments), tf+".function.arguments")
		if err != nil {
			return anthropic.Content{}, err
		}
		blocks = append(blocks, anthropic.ContentBlock{Type: anthropic.BlockToolUse, ID: toolUseID(tc.ID), Name: tc.Function.Name, Input: in})
	}
	return anthropic.Content{Blocks: blocks}, nil
}

// emptySchema is the input_schema of a function without parameters.
var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

func anthropicTools(tools []openai.Tool, choice *openai.ToolChoice, parallel *bool, st *stash) ([]anthropic.Tool, *anthropic.ToolChoice, error) {
	var out []anthropic.Tool
	for i, t := range tools {
		if t.Type != "function" {
			return nil, nil, &Error{"tools[" + strconv.Itoa(i) + "].type", "only function tools are translated"}
		}
		schema := st.verbatim(t.Function.Parameters)
		if isNull(schema) {
			schema = emptySchema
		}
		out = append(out, anthropic.Tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema})
	}
	var tc *anthropic.ToolChoice
	if choice != nil {
		switch {
		case choice.Mode == "auto":
			tc = &anthropic.ToolChoice{Type: "auto"}
		case choice.Mode == "none":
			tc = &anthropic.ToolChoice{Type: "none"}
		case choice.Mode == "required":
			tc = &anthropic.ToolChoice{Type: "any"}
		case choice.Mode == "" && choice.Type == "function" && choice.Name != "":
			tc = &anthropic.ToolChoice{Type: "tool", Name: choice.Name}
		default:
			return nil, nil, &Error{"tool_choice", "only auto, none, required and a named function are translated"}
		}
	}
	if parallel != nil && !*parallel && len(out) > 0 {
		if tc == nil {
			tc = &anthropic.ToolChoice{Type: "auto"}
		}
		if tc.Type != "none" {
			tc.DisableParallelToolUse = true
		}
	}
	return out, tc, nil
}
