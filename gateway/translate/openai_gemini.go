package translate

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/gemini"
	"github.com/memproxy/memproxy/gateway/api/openai"
)

// OpenAIChatToGemini translates an OpenAI chat-completion request body
// into a Gemini generateContent request body. The model and streaming are
// not in the body: the adapter names the model in the URL and picks
// generateContent or streamGenerateContent. Input that cannot be
// translated returns an *Error naming the field; unknown fields are
// refused; JSON null counts as absent.
//
// Messages. System and developer messages, wherever they stand, become
// systemInstruction text parts, in order. User → "user" contents,
// assistant → "model" contents; consecutive contents of one role merge;
// empty text and messages left without parts are dropped. image_url data:
// URLs → inlineData {mimeType, data}; https URLs → fileData {fileUri,
// mimeType from the extension} (Gemini fetches public and signed HTTPS
// URLs); other URLs, audio and file parts are refused. Assistant refusals
// become text; tool_calls → functionCall {name, args} parts after the text
// (arguments a JSON object, "" meaning {}), with the thought signature the
// id carries (see GeminiResponseToOpenAIChat). Tool messages → "user"
// functionResponse {name, response} parts, named after the earlier call
// with that id (an unknown id is refused); response is the output if it is
// a JSON object, else {"output": text} (the key Google's reference gives
// for a function's output). Names and tool call ids are not sent.
//
// Tools → functionDeclarations {name, description, parameters}, the schema
// converted by gemini.ParametersFromJSONSchema (which lists the keywords
// it drops, such as additionalProperties and $schema; "strict" is dropped
// too). tool_choice → functionCallingConfig: auto → AUTO, none → NONE,
// required → ANY, a named function → ANY with allowedFunctionNames [name];
// without tools it is not sent. parallel_tool_calls has no counterpart.
//
// generationConfig: temperature, top_p → topP, max_completion_tokens (or
// max_tokens) → maxOutputTokens, stop → stopSequences, seed,
// presence_penalty, frequency_penalty; response_format json_object →
// responseMimeType application/json, json_schema → that and
// responseSchema; reasoning_effort → thinkingConfig (reasoningBudgets).
// n must be 1. Refused: logprobs, top_logprobs, audio, non-text
// modalities, logit_bias, functions, function_call, web_search_options.
// Dropped: stream, stream_options, user, parallel_tool_calls, metadata,
// store, service_tier, prompt_cache_key, prompt_cache_retention,
// safety_identifier, verbosity, prediction.
func OpenAIChatToGemini(body []byte) ([]byte, error) {
	return Chain(body, OpenAIChatToGeminiStep())
}

// OpenAIChatToGeminiStep is OpenAIChatToGemini, for Chain.
func OpenAIChatToGeminiStep() Step { return Step{openAIChatToGemini} }

func openAIChatToGemini(body []byte, st *stash) ([]byte, error) {
	raw, keys, err := fields(body)
	if err != nil {
		return nil, err
	}
	gc := &gemini.GenerationConfig{}
	for _, k := range keys {
		if err := geminiField(k, st.decoded(raw[k]), gc); err != nil {
			return nil, err
		}
	}
	var req openai.ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, decodeErr[openai.ChatMessage](err, raw)
	}
	out := gemini.GenerateContentRequest{}
	if out.SystemInstruction, out.Contents, err = geminiContents(req.Messages, st); err != nil {
		return nil, err
	}
	if len(out.Contents) == 0 {
		return nil, &Error{"messages", "Gemini needs a user or assistant message with content"}
	}
	gc.Temperature, gc.TopP = req.Temperature, req.TopP
	switch {
	case req.MaxCompletionTokens != nil:
		gc.MaxOutputTokens = req.MaxCompletionTokens
	case req.MaxTokens != nil:
		gc.MaxOutputTokens = req.MaxTokens
	}
	if req.Stop != nil && (req.Stop.List != nil || req.Stop.Text != "") {
		gc.StopSequences = req.Stop.Sequences()
	}
	if b, _ := json.Marshal(gc); string(b) != "{}" {
		out.GenerationConfig = gc
	}
	if out.Tools, out.ToolConfig, err = geminiTools(req.Tools, req.ToolChoice, st); err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// reasoningBudgets maps reasoning_effort to a thinkingBudget: low, medium
// and high are the 1K, 8K and 24K tokens of Google's own OpenAI
// compatibility layer, none turns thinking off (0), minimal is 512 (the
// smallest budget every Gemini 2.5 model accepts), xhigh is 24K (the most
// Gemini 2.5 Flash accepts). A budget rather than a thinkingLevel because
// Gemini 2.5 refuses thinkingLevel while Gemini 3 still accepts budgets,
// and the translation does not know the model.
var reasoningBudgets = map[string]int{"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576}

// geminiField checks one top-level OpenAI field, writing the generation
// parameters that only it carries into gc.
func geminiField(k string, v json.RawMessage, gc *gemini.GenerationConfig) error {
	if isNull(v) {
		return nil
	}
	bad := func(msg string) error { return &Error{k, msg} }
	if msg, refused := geminiRefused[k]; refused {
		return bad(msg)
	}
	num := func(dst **float64) error {
		var f float64
		if json.Unmarshal(v, &f) != nil {
			return bad("must be a number")
		}
		*dst = &f
		return nil
	}
	switch k {
	case "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
		"tools", "tool_choice":
		return nil // read from openai.ChatRequest
	case "stream", "stream_options", "user", "parallel_tool_calls", "metadata", "store", "service_tier",
		"prompt_cache_key", "prompt_cache_retention", "safety_identifier", "verbosity", "prediction":
		return nil // dropped: no counterpart, and no change to the answer's shape
	case "n":
		if string(v) != "1" {
			return bad("Gemini returns a single candidate through this gateway (candidateCount 1)")
		}
	case "seed":
		var n int64
		if json.Unmarshal(v, &n) != nil {
			return bad("must be an integer")
		}
		gc.Seed = &n
	case "presence_penalty":
		return num(&gc.PresencePenalty)
	case "frequency_penalty":
		return num(&gc.FrequencyPenalty)
	case "reasoning_effort":
		var e string
		_ = json.Unmarshal(v, &e)
		b, ok := reasoningBudgets[e]
		if !ok {
			return bad("reasoning effort " + string(v) + " is not one of none, minimal, low, medium, high, xhigh")
		}
		gc.ThinkingConfig = &gemini.ThinkingConfig{ThinkingBudget: &b}
	case "response_format":
		return geminiResponseFormat(v, gc)
	case "logprobs", "top_logprobs":
		if string(v) != "false" && string(v) != "0" {
			return bad("log probabilities are not translated")
		}
	case "modalities":
		var m []string
		if json.Unmarshal(v, &m) != nil || len(m) != 1 || m[0] != "text" {
			return bad("only text answers are translated")
		}
	case "logit_bias":
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil || len(m) > 0 {
			return bad("Gemini has no logit bias")
		}
	default:
		return bad("unknown field")
	}
	return nil
}

// geminiRefused are the fields refused whatever their value.
var geminiRefused = map[string]string{
	"audio":              "audio output is not translated",
	"functions":          "the deprecated functions API is not translated; use tools",
	"function_call":      "the deprecated functions API is not translated; use tools",
	"web_search_options": "web search is not translated",
}

// geminiResponseFormat maps response_format: json_object asks for JSON
// (responseMimeType application/json), json_schema adds the schema as
// responseSchema; its name, description and strict have no counterpart.
func geminiResponseFormat(v json.RawMessage, gc *gemini.GenerationConfig) error {
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if json.Unmarshal(v, &rf) != nil {
		return &Error{"response_format", "must be an object with a type"}
	}
	switch rf.Type {
	case "text":
		return nil
	case "json_object":
		gc.ResponseMimeType = "application/json"
		return nil
	case "json_schema":
		if rf.JSONSchema == nil || isNull(rf.JSONSchema.Schema) {
			return &Error{"response_format.json_schema.schema", "required"}
		}
		s, err := geminiSchema(gemini.SchemaFromJSONSchema, rf.JSONSchema.Schema, "response_format.json_schema.schema")
		if err != nil {
			return err
		}
		gc.ResponseMimeType, gc.ResponseSchema = "application/json", s
		return nil
	}
	return &Error{"response_format.type", "response format " + quote(rf.Type) + " is not translated"}
}

// geminiSchema converts the JSON Schema at field with conv, naming the
// failing subschema in the *Error.
func geminiSchema(conv func(json.RawMessage) (json.RawMessage, error), raw json.RawMessage, field string) (json.RawMessage, error) {
	s, err := conv(raw)
	if se, ok := errors.AsType[*gemini.SchemaError](err); ok {
		if se.Path != "" {
			field += "." + se.Path
		}
		return nil, &Error{field, se.Msg}
	}
	return s, err
}

// geminiContents splits OpenAI messages into the system instruction and
// the user/model turns, merging consecutive turns of the same role.
func geminiContents(msgs []openai.ChatMessage, st *stash) (*gemini.Content, []gemini.Content, error) {
	var (
		system []gemini.Part
		out    []gemini.Content
		names  = map[string]string{} // tool call id → function name
	)
	for i, m := range msgs {
		field := "messages[" + strconv.Itoa(i) + "]"
		var (
			parts []gemini.Part
			err   error
		)
		role := gemini.RoleUser
		switch m.Role {
		case "system", "developer":
			p, err := geminiParts(m.Content, field+".content", false)
			if err != nil {
				return nil, nil, err
			}
			system = append(system, p...)
			continue
		case "user":
			parts, err = geminiParts(m.Content, field+".content", true)
		case "assistant":
			role = gemini.RoleModel
			parts, err = geminiModelParts(m, field, names, st)
		case "tool":
			parts, err = geminiToolResult(m, field, names, st)
		default:
			return nil, nil, &Error{field + ".role", "role " + quote(m.Role) + " has no Gemini counterpart"}
		}
		if err != nil {
			return nil, nil, err
		}
		if len(parts) == 0 {
			continue // Gemini refuses a turn without parts; an empty one says nothing
		}
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Parts = append(out[n-1].Parts, parts...)
			continue
		}
		out = append(out, gemini.Content{Role: role, Parts: parts})
	}
	if len(system) == 0 {
		return nil, out, nil
	}
	return &gemini.Content{Parts: system}, out, nil
}

// geminiParts turns message content into parts: text (empty text is
// dropped) and, when media is set (user messages), images.
func geminiParts(c *openai.ChatContent, field string, media bool) ([]gemini.Part, error) {
	if c == nil {
		return nil, &Error{field, "required"}
	}
	if c.Parts == nil {
		if c.Text == "" {
			return nil, nil
		}
		return []gemini.Part{{Text: c.Text}}, nil
	}
	var out []gemini.Part
	for j, p := range c.Parts {
		pf := field + "[" + strconv.Itoa(j) + "]"
		switch {
		case p.Type == "text":
			if p.Text != "" {
				out = append(out, gemini.Part{Text: p.Text})
			}
		case p.Type == "image_url" && media:
			if p.ImageURL == nil {
				return nil, &Error{pf + ".image_url", "required"}
			}
			part, err := gemini.PartFromURL(p.ImageURL.URL)
			if err != nil {
				return nil, &Error{pf + ".image_url.url", err.Error()}
			}
			out = append(out, part)
		case media:
			return nil, &Error{pf + ".type", "content part " + quote(p.Type) + " is not translated to Gemini"}
		default:
			return nil, &Error{pf + ".type", "only text parts are allowed here"}
		}
	}
	return out, nil
}

// geminiModelParts turns an assistant message into model parts: text,
// then one functionCall per tool call, carrying back the thought signature
// its id holds.
func geminiModelParts(m openai.ChatMessage, field string, names map[string]string, st *stash) ([]gemini.Part, error) {
	if !isNull(m.FunctionCall) {
		return nil, &Error{field + ".function_call", "the deprecated functions API is not translated; use tools"}
	}
	if !isNull(m.Audio) {
		return nil, &Error{field + ".audio", "audio is not translated"}
	}
	var out []gemini.Part
	text := func(s string) {
		if s != "" {
			out = append(out, gemini.Part{Text: s})
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
				return nil, &Error{field + ".content[" + strconv.Itoa(j) + "].type", "assistant content part " + quote(p.Type) + " is not translated"}
			}
		}
	}
	if m.Refusal != nil {
		text(*m.Refusal)
	}
	for j, tc := range m.ToolCalls {
		tf := field + ".tool_calls[" + strconv.Itoa(j) + "]"
		if tc.Type != "function" {
			return nil, &Error{tf + ".type", "only function tool calls are translated"}
		}
		args, err := toolInput(st.arguments(tc.Function.Arguments), tf+".function.arguments")
		if err != nil {
			return nil, err
		}
		names[tc.ID] = tc.Function.Name
		out = append(out, gemini.Part{FunctionCall: &gemini.FunctionCall{Name: tc.Function.Name, Args: args},
			ThoughtSignature: geminiSignature(tc.ID)})
	}
	return out, nil
}

// geminiToolResult turns a tool message into a functionResponse part,
// named after the earlier call with its id. The response is the output
// when it is a JSON object, else {"output": text}, the key Google's
// reference names for a function's output.
func geminiToolResult(m openai.ChatMessage, field string, names map[string]string, st *stash) ([]gemini.Part, error) {
	if m.ToolCallID == "" {
		return nil, &Error{field + ".tool_call_id", "required"}
	}
	name, ok := names[m.ToolCallID]
	if !ok {
		return nil, &Error{field + ".tool_call_id", "no earlier assistant tool call has this id; Gemini needs the function's name"}
	}
	parts, err := geminiParts(m.Content, field+".content", false)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	for _, p := range parts {
		sb.WriteString(p.Text)
	}
	text := sb.String()
	full := text // the whole text, when it may be a JSON object
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") || strings.HasPrefix(t, string(markLead)) {
		full = st.text(text)
	}
	resp, err := toolInput(full, "")
	if err != nil || strings.TrimSpace(full) == "" {
		resp, _ = json.Marshal(map[string]string{"output": text})
	}
	return []gemini.Part{{FunctionResponse: &gemini.FunctionResponse{Name: name, Response: resp}}}, nil
}

// geminiTools maps function tools to one Tool of declarations, and
// tool_choice to the function calling mode: auto → AUTO, none → NONE,
// required → ANY, a named function → ANY allowing only it.
func geminiTools(tools []openai.Tool, choice *openai.ToolChoice, st *stash) ([]gemini.Tool, *gemini.ToolConfig, error) {
	var decls []gemini.FunctionDeclaration
	for i, t := range tools {
		tf := "tools[" + strconv.Itoa(i) + "]"
		if t.Type != "function" {
			return nil, nil, &Error{tf + ".type", "only function tools are translated"}
		}
		d := gemini.FunctionDeclaration{Name: t.Function.Name, Description: t.Function.Description}
		if !isNull(t.Function.Parameters) {
			var err error
			if d.Parameters, err = geminiSchema(gemini.ParametersFromJSONSchema, st.decoded(t.Function.Parameters), tf+".function.parameters"); err != nil {
				return nil, nil, err
			}
		}
		decls = append(decls, d)
	}
	if len(decls) == 0 {
		return nil, nil, nil // tool_choice without tools changes nothing
	}
	var fc *gemini.FunctionCallingConfig
	if choice != nil {
		switch {
		case choice.Mode == "auto":
			fc = &gemini.FunctionCallingConfig{Mode: gemini.ModeAuto}
		case choice.Mode == "none":
			fc = &gemini.FunctionCallingConfig{Mode: gemini.ModeNone}
		case choice.Mode == "required":
			fc = &gemini.FunctionCallingConfig{Mode: gemini.ModeAny}
		case choice.Mode == "" && choice.Type == "function" && choice.Name != "":
			fc = &gemini.FunctionCallingConfig{Mode: gemini.ModeAny, AllowedFunctionNames: []string{choice.Name}}
		default:
			return nil, nil, &Error{"tool_choice", "only auto, none, required and a named function are translated"}
		}
	}
	out := []gemini.Tool{{FunctionDeclarations: decls}}
	if fc == nil {
		return out, nil, nil
	}
	return out, &gemini.ToolConfig{FunctionCallingConfig: fc}, nil
}
