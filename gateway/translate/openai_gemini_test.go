package translate

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/api/gemini"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

var geminiRequestCases = []goldenCase{
	{name: "basic"},
	{name: "images"},
	{name: "tools"},
	{name: "tool_choice_named"},
	{name: "tool_choice_none"},
	{name: "tool_choice_required"},
	{name: "tool_choice_without_tools"},
	{name: "json_object"},
	{name: "json_schema"},
	{name: "reasoning"},
	{name: "merge"},
	{name: "err_n", errField: "n"},
	{name: "err_logprobs", errField: "logprobs"},
	{name: "err_top_logprobs", errField: "top_logprobs"},
	{name: "err_unknown_field", errField: "frobnicate"},
	{name: "err_not_object", errField: "body"},
	{name: "err_audio", errField: "audio"},
	{name: "err_reasoning_effort", errField: "reasoning_effort"},
	{name: "err_bad_arguments", errField: "messages[1].tool_calls[0].function.arguments"},
	{name: "err_array_arguments", errField: "messages[1].tool_calls[0].function.arguments"},
	{name: "err_unknown_tool_id", errField: "messages[1].tool_call_id"},
	{name: "err_tool_no_id", errField: "messages[1].tool_call_id"},
	{name: "err_image_http", errField: "messages[0].content[0].image_url.url"},
	{name: "err_image_not_base64", errField: "messages[0].content[1].image_url.url"},
	{name: "err_input_audio", errField: "messages[0].content[1].type"},
	{name: "err_system_image", errField: "messages[0].content[0].type"},
	{name: "err_function_role", errField: "messages[1].role"},
	{name: "err_custom_tool", errField: "tools[0].type"},
	{name: "err_allowed_tools", errField: "tool_choice"},
	{name: "err_schema_recursive", errField: "tools[0].function.parameters.properties.root.$ref.properties.children.items.$ref"},
	{name: "err_schema_allof", errField: "response_format.json_schema.schema.properties.a.allOf"},
	{name: "err_parameters_not_object", errField: "tools[0].function.parameters.type"},
	{name: "err_json_schema_missing", errField: "response_format.json_schema.schema"},
	{name: "err_wrong_type", errField: "messages[0]"},
	{name: "err_assistant_function_call", errField: "messages[1].function_call"},
	{name: "err_no_contents", errField: "messages"},
}

func TestOpenAIChatToGemini(t *testing.T) {
	runGolden(t, "testdata/gemini_request", geminiRequestCases, func(in []byte) ([]byte, llm.Usage, error) {
		out, err := OpenAIChatToGemini(in)
		return out, llm.Usage{}, err
	})
}

// TestOpenAIChatToGeminiAccepted sends every translated request to the
// fake Gemini, which refuses what the API refuses (unknown fields, Schema
// keywords Gemini lacks, empty parts, object parameters without
// properties), through both endpoints.
func TestOpenAIChatToGeminiAccepted(t *testing.T) {
	f := providertest.NewGemini(t)
	for _, tc := range geminiRequestCases {
		if tc.errField != "" {
			continue
		}
		in, err := os.ReadFile(filepath.Join("testdata/gemini_request", tc.name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		out, err := OpenAIChatToGemini(in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, method := range []string{":generateContent", ":streamGenerateContent?alt=sse"} {
			req, _ := http.NewRequest(http.MethodPost, f.URL+"/v1beta/models/gemini-2.5-flash"+method, bytes.NewReader(out))
			req.Header.Set("x-goog-api-key", "test-key")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s%s: the fake Gemini refused the translation: %d %s\n%s", tc.name, method, resp.StatusCode, b.Bytes(), out)
			}
		}
	}
}

// TestFakeGeminiRefuses checks that the acceptance test above can fail:
// the fake refuses what Gemini refuses.
func TestFakeGeminiRefuses(t *testing.T) {
	f := providertest.NewGemini(t)
	tests := []struct{ name, body, want string }{
		{"openai body", `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`, `Unknown name "messages"`},
		{"stream field", `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"stream":true}`, `Unknown name "stream"`},
		{"additionalProperties", `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"tools":[{"functionDeclarations":[{"name":"f",` +
			`"parameters":{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}}]}]}`, `Unknown name "additionalProperties"`},
		{"numeric enum", `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"responseSchema":{"type":"integer","enum":[1]}}}`, "Invalid value"},
		{"empty properties", `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"tools":[{"functionDeclarations":[{"name":"f",` +
			`"parameters":{"type":"object","properties":{}}}]}]}`, "should be non-empty for OBJECT type"},
		{"no contents", `{"contents":[]}`, "contents is not specified"},
		{"empty parts", `{"contents":[{"role":"user","parts":[]}]}`, "must not be empty"},
		{"bad role", `{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}`, "valid role"},
		{"not JSON", `{`, "Invalid JSON payload"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, f.URL+"/v1beta/models/g:generateContent", strings.NewReader(tt.body))
		req.Header.Set("x-goog-api-key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		msg, status, ok := gemini.ParseError(b.Bytes())
		if resp.StatusCode != 400 || !ok || status != "INVALID_ARGUMENT" || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: %d %s, want 400 INVALID_ARGUMENT containing %q", tt.name, resp.StatusCode, b.Bytes(), tt.want)
		}
	}
}

func TestGeminiResponseToOpenAIChat(t *testing.T) {
	defer func(old func() string) { geminiID = old }(geminiID)
	geminiID = func() string { return "generated" }
	cases := []goldenCase{
		{name: "text", usage: llm.Usage{PromptTokens: 2095, CompletionTokens: 36, CachedTokens: 1800, ReasoningTokens: 25}},
		{name: "tool_calls", usage: llm.Usage{PromptTokens: 472, CompletionTokens: 89}},
		{name: "tool_only", usage: llm.Usage{PromptTokens: 30, CompletionTokens: 12, CachedTokens: 10}},
		{name: "max_tokens", usage: llm.Usage{PromptTokens: 10, CompletionTokens: 16}},
		{name: "safety", usage: llm.Usage{PromptTokens: 10}},
		{name: "prompt_blocked", usage: llm.Usage{PromptTokens: 8}},
		{name: "malformed_call", usage: llm.Usage{PromptTokens: 45}},
		{name: "no_response_id", usage: llm.Usage{PromptTokens: 1, CompletionTokens: 1}},
		{name: "err_inline_data", errField: "candidates[0].content.parts[1]"},
		{name: "err_no_candidates", errField: "candidates"},
		{name: "err_error_body", errField: "error"},
	}
	runGolden(t, "testdata/gemini_response", cases, func(in []byte) ([]byte, llm.Usage, error) {
		return GeminiResponseToOpenAIChat(in, "my-gemini")
	})
}

// TestGeminiSignatureRoundTrip checks that a thought signature survives
// the trip through a tool call id, also past the Anthropic chain, which
// rewrites ids outside [A-Za-z0-9_-].
func TestGeminiSignatureRoundTrip(t *testing.T) {
	for n := range 64 {
		raw := make([]byte, n*7)
		_, _ = rand.Read(raw)
		sig := base64.StdEncoding.EncodeToString(raw)
		id := geminiCallID(n, sig)
		if toolUseID(id) != id {
			t.Fatalf("id %q is changed by the Anthropic chain", id)
		}
		want := sig
		if n == 0 {
			want = "" // no signature, plain call_0
		}
		if got := geminiSignature(id); got != want {
			t.Fatalf("signature %q came back as %q (id %q)", sig, got, id)
		}
	}
	for _, id := range []string{"call_x_ts_AAAA", "toolu_01_ts_AAAA", "call_1_ts_!!", "call_1", "call__ts_AAAA"} {
		if got := geminiSignature(id); got != "" {
			t.Errorf("geminiSignature(%q) = %q, want none", id, got)
		}
	}
	if id := geminiCallID(3, "not base64!"); id != "call_3" {
		t.Errorf("a signature that is not base64 gave id %q", id)
	}
}

// TestGeminiToolLoop runs a tool round trip against the fake, which, like
// Gemini 3, refuses history whose functionCall lost its signature.
func TestGeminiToolLoop(t *testing.T) {
	f := providertest.NewGemini(t)
	f.ToolCall = &providertest.ToolCall{Name: "get_weather", Input: `{"city":"Paris"}`}
	f.Signature = "c2lnbmF0dXJlLWJ5dGVz/+8="
	post := func(body []byte) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, f.URL+"/v1beta/models/gemini-3-pro-preview:generateContent", bytes.NewReader(body))
		req.Header.Set("x-goog-api-key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("fake answered %d %s to\n%s", resp.StatusCode, b.Bytes(), body)
		}
		return b.Bytes()
	}
	first := `{"model":"m","messages":[{"role":"user","content":"Weather in Paris?"}],` +
		`"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`
	in, err := OpenAIChatToGemini([]byte(first))
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := GeminiResponseToOpenAIChat(post(in), "m")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Choices []struct {
			Message      json.RawMessage `json:"message"`
			FinishReason string          `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(out, &c); err != nil || c.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("first answer %s", out)
	}
	var m struct {
		ToolCalls []struct {
			ID string `json:"id"`
		} `json:"tool_calls"`
	}
	_ = json.Unmarshal(c.Choices[0].Message, &m)
	second := first[:len(first)-len(`}`)]
	second = strings.Replace(second, `"content":"Weather in Paris?"}]`, `"content":"Weather in Paris?"},`+string(c.Choices[0].Message)+
		`,{"role":"tool","tool_call_id":"`+m.ToolCalls[0].ID+`","content":"18C"}]`, 1) + "}"
	in2, err := OpenAIChatToGemini([]byte(second))
	if err != nil {
		t.Fatalf("%v\n%s", err, second)
	}
	out2, _, err := GeminiResponseToOpenAIChat(post(in2), "m")
	if err != nil || !strings.Contains(string(out2), `"content":"Hello from the fake upstream."`) {
		t.Fatalf("second answer %s, %v", out2, err)
	}
	lost := strings.Replace(second, m.ToolCalls[0].ID, "call_0", 2)
	in3, _ := OpenAIChatToGemini([]byte(lost))
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/v1beta/models/g:generateContent", bytes.NewReader(in3))
	req.Header.Set("x-goog-api-key", "k")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("the fake accepted a functionCall without its signature")
	}
}
