package providertest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/api/gemini"
)

// Gemini is a fake Gemini API upstream whose API root is URL+"/v1beta". It
// answers POST /v1beta/models/{model}:generateContent with a
// GenerateContentResponse, and :streamGenerateContent with the same
// answer in parts: server-sent events (data: {GenerateContentResponse},
// CRLF line ends as Google sends them) with ?alt=sse, else one JSON array.
// The last event carries the finishReason and the full usageMetadata;
// there is no end marker. It refuses, with Google's error envelope, a
// request without an API key (x-goog-api-key or ?key=, as Google accepts
// both) and a body Gemini would refuse: not JSON, an unknown field (Gemini
// parses proto JSON strictly, including Schema keywords), no contents, a
// content without parts or with a bad role, parameters of type object
// with no properties. Set its fields before sending requests.
type Gemini struct {
	URL string

	// Words are the text pieces of the answer, one per stream event
	// (default DefaultWords).
	Words []string
	// ToolCall, when non-nil, answers with this functionCall part (args
	// Input) and finishReason STOP, unless the last content holds a
	// functionResponse, which gets the text answer.
	ToolCall *ToolCall
	// Thought, when non-empty, puts a thought part (thought: true) first,
	// and reports GeminiThoughtsTokens of the completion as thoughts.
	Thought string
	// Signature, when non-empty, is the thoughtSignature of the
	// functionCall part, and, as Gemini 3 does, a request is refused when
	// a model functionCall part in its history lacks it.
	Signature string
	// Status, when non-zero, answers every request with this status and
	// ErrorBody (default: Google's error envelope).
	Status    int
	ErrorBody string
	// Hold, when non-nil, pauses every stream after its first event until
	// Hold is closed.
	Hold chan struct{}
	// CutAfter, when > 0, drops the connection after that many stream
	// events, before the one with the finishReason.
	CutAfter int

	srv *httptest.Server
	recorder
}

// The fake's response id, and the part of CompletionTokens it reports as
// thoughtsTokenCount when Thought is set.
const (
	GeminiResponseID     = "fakeGeminiResponse01"
	GeminiThoughtsTokens = 2
)

// NewGemini starts a fake closed at the end of the test.
func NewGemini(t testing.TB) *Gemini {
	f := &Gemini{Words: DefaultWords, recorder: newRecorder()}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Answer is the full text of the fake's answer.
func (f *Gemini) Answer() string { return strings.Join(f.Words, "") }

func geminiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(gemini.MarshalError(status, msg))
}

func (f *Gemini) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.record(Recorded{Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	rest, _ := strings.CutPrefix(r.URL.Path, "/v1beta/models/")
	model, method, _ := strings.Cut(rest, ":")
	switch {
	case r.Method != http.MethodPost || model == "" || (method != "generateContent" && method != "streamGenerateContent"):
		geminiError(w, http.StatusNotFound, "The requested URL "+r.URL.Path+" was not found on this server.")
		return
	case r.Header.Get("x-goog-api-key") == "" && r.URL.Query().Get("key") == "":
		geminiError(w, http.StatusForbidden, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
		return
	case f.Status != 0:
		eb := f.ErrorBody
		if eb == "" {
			eb = string(gemini.MarshalError(f.Status, "fake upstream failure"))
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, eb)
		return
	}
	if msg := f.invalid(raw, body); msg != "" {
		geminiError(w, http.StatusBadRequest, msg)
		return
	}
	toolResult := lastIsFunctionResponse(body)
	if method == "generateContent" {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_, _ = io.WriteString(w, f.whole(model, toolResult))
		return
	}
	events := f.events(model, toolResult)
	if r.URL.Query().Get("alt") != "sse" {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_, _ = io.WriteString(w, "["+strings.Join(events, ",\r\n")+"]")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	for i, ev := range events {
		if f.CutAfter > 0 && i == f.CutAfter {
			panic(http.ErrAbortHandler) // drop the connection mid-stream
		}
		if _, err := io.WriteString(w, "data: "+ev+"\r\n\r\n"); err != nil {
			f.noteCancel()
			return
		}
		fl.Flush()
		if i == 0 && f.Hold != nil {
			select {
			case <-f.Hold:
			case <-r.Context().Done():
				f.noteCancel()
				return
			}
		}
	}
}

// invalid returns the message Gemini would refuse the body with, or "".
func (f *Gemini) invalid(raw []byte, body map[string]any) string {
	if body == nil {
		return "Invalid JSON payload received. Unexpected token."
	}
	if msg := checkShape(body, requestShape, ""); msg != "" {
		return msg
	}
	contents, _ := body["contents"].([]any)
	if len(contents) == 0 {
		return "* GenerateContentRequest.contents: contents is not specified\n"
	}
	for i, c := range contents {
		c, _ := c.(map[string]any)
		at := fmt.Sprintf("GenerateContentRequest.contents[%d]", i)
		if parts, _ := c["parts"].([]any); len(parts) == 0 {
			return "* " + at + ".parts: contents.parts must not be empty.\n"
		}
		if role, _ := c["role"].(string); role != "" && role != "user" && role != "model" {
			return "Please use a valid role: user, model."
		}
		if f.Signature != "" && c["role"] == "model" && !signed(c, f.Signature) {
			return fmt.Sprintf("Function call is missing a thought_signature in functionCall parts. This is required for tools "+
				"to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, "+
				"position %d. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.", i+1)
		}
	}
	tools, _ := body["tools"].([]any)
	for i, t := range tools {
		t, _ := t.(map[string]any)
		decls, _ := t["functionDeclarations"].([]any)
		for j, d := range decls {
			d, _ := d.(map[string]any)
			p, _ := d["parameters"].(map[string]any)
			if props, _ := p["properties"].(map[string]any); p != nil && strings.EqualFold(fmt.Sprint(p["type"]), "object") && len(props) == 0 {
				return fmt.Sprintf("* GenerateContentRequest.tools[%d].function_declarations[%d].parameters.properties: should be non-empty for OBJECT type\n", i, j)
			}
		}
	}
	return ""
}

// signed reports whether the first functionCall part of a model content
// carries the signature.
func signed(c map[string]any, sig string) bool {
	parts, _ := c["parts"].([]any)
	for _, p := range parts {
		p, _ := p.(map[string]any)
		if p["functionCall"] != nil {
			return p["thoughtSignature"] == sig
		}
	}
	return true
}

func lastIsFunctionResponse(body map[string]any) bool {
	contents, _ := body["contents"].([]any)
	if len(contents) == 0 {
		return false
	}
	c, _ := contents[len(contents)-1].(map[string]any)
	parts, _ := c["parts"].([]any)
	for _, p := range parts {
		if p, _ := p.(map[string]any); p["functionResponse"] != nil {
			return true
		}
	}
	return false
}

// parts are the fake's answer parts, as JSON.
func (f *Gemini) parts(toolResult bool) []string {
	var out []string
	if f.Thought != "" {
		out = append(out, `{"text":`+quote(f.Thought)+`,"thought":true}`)
	}
	if f.ToolCall != nil && !toolResult {
		sig := ""
		if f.Signature != "" {
			sig = `,"thoughtSignature":` + quote(f.Signature)
		}
		return append(out, fmt.Sprintf(`{"functionCall":{"name":%s,"args":%s}%s}`, quote(f.ToolCall.Name), f.ToolCall.Input, sig))
	}
	for _, word := range f.Words {
		out = append(out, `{"text":`+quote(word)+`}`)
	}
	return out
}

func (f *Gemini) usage() string {
	thoughts := ""
	candidates := CompletionTokens
	if f.Thought != "" {
		thoughts = fmt.Sprintf(`,"thoughtsTokenCount":%d`, GeminiThoughtsTokens)
		candidates -= GeminiThoughtsTokens
	}
	return fmt.Sprintf(`{"promptTokenCount":%d,"candidatesTokenCount":%d,"totalTokenCount":%d,"cachedContentTokenCount":%d,`+
		`"promptTokensDetails":[{"modality":"TEXT","tokenCount":%d}]%s}`,
		PromptTokens, candidates, PromptTokens+CompletionTokens, CachedTokens, PromptTokens, thoughts)
}

func response(candidate, usage, model string) string {
	return fmt.Sprintf(`{"candidates":[%s],"usageMetadata":%s,"modelVersion":%s,"responseId":%q}`,
		candidate, usage, quote(model), GeminiResponseID)
}

func candidate(parts []string, finish string) string {
	if finish != "" {
		finish = `,"finishReason":"` + finish + `"`
	}
	return `{"content":{"parts":[` + strings.Join(parts, ",") + `],"role":"model"}` + finish + `,"index":0}`
}

// whole is the non-streaming answer.
func (f *Gemini) whole(model string, toolResult bool) string {
	return response(candidate(f.parts(toolResult), "STOP"), f.usage(), model)
}

// events is the streamed answer: a part per event, the last text part with
// the finishReason (a function call is followed by an event with an empty
// text part and the finishReason), partial usage until then.
func (f *Gemini) events(model string, toolResult bool) []string {
	parts := f.parts(toolResult)
	partial := fmt.Sprintf(`{"promptTokenCount":%d,"totalTokenCount":%d,"promptTokensDetails":[{"modality":"TEXT","tokenCount":%d}]}`,
		PromptTokens, PromptTokens, PromptTokens)
	if len(parts) == 0 || strings.HasPrefix(parts[len(parts)-1], `{"functionCall"`) || strings.HasSuffix(parts[len(parts)-1], `"thought":true}`) {
		parts = append(parts, `{"text":""}`)
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		if i == len(parts)-1 {
			out[i] = response(candidate([]string{p}, "STOP"), f.usage(), model)
		} else {
			out[i] = response(candidate([]string{p}, ""), partial, model)
		}
	}
	return out
}

// shape is what Gemini's proto JSON parser accepts at a place: an object's
// known fields, a list or map of one shape, a scalar kind, or anything
// (free-form Struct and Value fields such as args and response).
type shape struct {
	fields map[string]*shape
	list   *shape
	mapOf  *shape
	kind   string // "string", "number", "bool", "any"
}

var (
	str     = &shape{kind: "string"}
	num     = &shape{kind: "number"}
	boolean = &shape{kind: "bool"}
	anyJSON = &shape{kind: "any"}
)

func obj(fields map[string]*shape) *shape { return &shape{fields: fields} }
func listOf(s *shape) *shape              { return &shape{list: s} }

// requestShape is GenerateContentRequest as Google's REST reference
// documents it (the fields the fake knows; others are refused as the API
// refuses unknown ones).
var requestShape = func() *shape {
	schema := &shape{}
	schema.fields = map[string]*shape{
		"type": str, "format": str, "title": str, "description": str, "nullable": boolean, "enum": listOf(str),
		"maxItems": num, "minItems": num, "properties": {mapOf: schema}, "required": listOf(str),
		"minProperties": num, "maxProperties": num, "minLength": num, "maxLength": num, "pattern": str,
		"example": anyJSON, "anyOf": listOf(schema), "propertyOrdering": listOf(str), "default": anyJSON,
		"items": schema, "minimum": num, "maximum": num,
	}
	content := obj(map[string]*shape{"role": str, "parts": listOf(obj(map[string]*shape{
		"text": str, "thought": boolean, "thoughtSignature": str,
		"inlineData":       obj(map[string]*shape{"mimeType": str, "data": str}),
		"fileData":         obj(map[string]*shape{"mimeType": str, "fileUri": str}),
		"functionCall":     obj(map[string]*shape{"id": str, "name": str, "args": anyJSON}),
		"functionResponse": obj(map[string]*shape{"id": str, "name": str, "response": anyJSON}),
		"executableCode":   anyJSON, "codeExecutionResult": anyJSON, "videoMetadata": anyJSON,
	}))})
	decl := obj(map[string]*shape{"name": str, "description": str, "parameters": schema, "parametersJsonSchema": anyJSON,
		"response": schema, "responseJsonSchema": anyJSON, "behavior": str})
	return obj(map[string]*shape{
		"contents": listOf(content), "systemInstruction": content, "cachedContent": str,
		"tools": listOf(obj(map[string]*shape{"functionDeclarations": listOf(decl), "googleSearch": anyJSON,
			"codeExecution": anyJSON, "urlContext": anyJSON})),
		"toolConfig": obj(map[string]*shape{"functionCallingConfig": obj(map[string]*shape{
			"mode": str, "allowedFunctionNames": listOf(str)})}),
		"safetySettings": listOf(obj(map[string]*shape{"category": str, "threshold": str})),
		"generationConfig": obj(map[string]*shape{
			"stopSequences": listOf(str), "responseMimeType": str, "responseSchema": schema, "responseJsonSchema": anyJSON,
			"responseModalities": listOf(str), "candidateCount": num, "maxOutputTokens": num, "temperature": num,
			"topP": num, "topK": num, "seed": num, "presencePenalty": num, "frequencyPenalty": num,
			"responseLogprobs": boolean, "logprobs": num, "mediaResolution": str,
			"thinkingConfig": obj(map[string]*shape{"includeThoughts": boolean, "thinkingBudget": num, "thinkingLevel": str}),
		}),
	})
}()

// checkShape returns the message Gemini gives for the first place where v
// does not fit sh, or "". Field names may be camelCase or snake_case, as
// proto JSON allows.
func checkShape(v any, sh *shape, path string) string {
	at := func() string {
		if path == "" {
			return ""
		}
		return " at '" + path + "'"
	}
	bad := func() string { return fmt.Sprintf("Invalid JSON payload received. Invalid value%s: %v", at(), v) }
	switch {
	case sh.kind == "any":
		return ""
	case sh.kind == "string":
		if _, ok := v.(string); !ok {
			return bad()
		}
	case sh.kind == "number":
		switch v.(type) {
		case float64, string: // int64 fields take strings too
		default:
			return bad()
		}
	case sh.kind == "bool":
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case sh.list != nil:
		l, ok := v.([]any)
		if !ok {
			return bad()
		}
		for i, e := range l {
			if msg := checkShape(e, sh.list, fmt.Sprintf("%s[%d]", path, i)); msg != "" {
				return msg
			}
		}
	default:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			e := m[k]
			sub := sh.mapOf
			if sub == nil {
				if sub = sh.fields[camel(k)]; sub == nil {
					return fmt.Sprintf("Invalid JSON payload received. Unknown name %q%s: Cannot find field.", k, at())
				}
			}
			p := k
			if path != "" {
				p = path + "." + k
			}
			if msg := checkShape(e, sub, p); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// camel turns a snake_case proto field name into its JSON name.
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}
