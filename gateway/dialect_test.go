package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// dialectHarness runs a gateway with an OpenAI deployment ("gpt"), an
// Anthropic one ("claude") and the mock.
type dialectHarness struct {
	*harness
	anth *providertest.Anthropic
}

func newDialectHarness(t *testing.T) *dialectHarness {
	t.Helper()
	oai := providertest.NewOpenAI(t)
	anth := providertest.NewAnthropic(t)
	y := `general_settings:
  master_key: ` + testMaster + `
model_list:
  - model_name: gpt
    litellm_params: {model: openai/gpt-up, api_base: "` + oai.URL + `/v1", api_key: sk-oai}
  - model_name: claude
    litellm_params: {model: anthropic/claude-up, api_base: "` + anth.URL + `", api_key: sk-ant-up}
  - model_name: mock
    litellm_params: {model: mock/echo}
`
	h := serveYAML(t, y, oai, nil)
	return &dialectHarness{harness: h, anth: anth}
}

// send posts body to path with the master key and extra headers.
func (h *dialectHarness) send(path, body string, header ...string) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.httpURL+path, strings.NewReader(body))
	req.Header.Set("x-api-key", testMaster)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestAnthropicPassthroughKeepsBytesAndHeaders(t *testing.T) {
	h := newDialectHarness(t)
	h.anth.Thinking = &providertest.Thinking{Text: "Let me think.", Signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}
	body := `{"model":"claude","max_tokens":100,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}],"x_unknown_field":{"kept":true}}`
	resp, out := h.send("/v1/messages", body, "anthropic-version", "2023-06-01", "anthropic-beta", "interleaved-thinking-2025-05-14")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	if !strings.Contains(out, `"signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"`) {
		t.Errorf("thinking signature not passed through: %s", out)
	}
	up := h.anth.Requests()[0]
	if up.Header.Get("X-Api-Key") != "sk-ant-up" || up.Header.Get("Anthropic-Version") != "2023-06-01" ||
		up.Header.Get("Anthropic-Beta") != "interleaved-thinking-2025-05-14" || up.Header.Get("Authorization") != "" {
		t.Errorf("upstream headers: %v", up.Header)
	}
	if up.Body["model"] != "claude-up" || up.Body["x_unknown_field"] == nil {
		t.Errorf("upstream body: %v", up.Body)
	}
	rows := h.rows()
	if len(rows) != 1 || rows[0].PromptTokens != providertest.PromptTokens || rows[0].CachedTokens != providertest.CachedTokens {
		t.Errorf("rows: %+v", rows)
	}
}

func TestAnthropicStreamPassthrough(t *testing.T) {
	h := newDialectHarness(t)
	_, out := h.send("/v1/messages", `{"model":"claude","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	for _, ev := range []string{"event: message_start", "event: content_block_delta", "event: message_stop"} {
		if !strings.Contains(out, ev) {
			t.Errorf("stream lacks %q: %s", ev, out)
		}
	}
	rows := h.rows()
	if len(rows) != 1 || rows[0].CompletionTokens == 0 || rows[0].ErrorType != "" {
		t.Errorf("rows: %+v", rows)
	}
}

func TestOpenAIClientToAnthropicDeployment(t *testing.T) {
	h := newDialectHarness(t)
	resp, out := h.send("/v1/chat/completions", `{"model":"claude","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}`)
	var c struct {
		Object  string
		Choices []struct {
			Message      struct{ Content string }
			FinishReason string `json:"finish_reason"`
		}
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &c) != nil || c.Object != "chat.completion" ||
		len(c.Choices) != 1 || c.Choices[0].Message.Content != h.anth.Answer() || c.Choices[0].FinishReason != "stop" {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	up := h.anth.Requests()[0]
	if up.Body["system"] == nil || up.Body["max_tokens"] == nil {
		t.Errorf("translated request: %v", up.Body)
	}
	_, sout := h.send("/v1/chat/completions", `{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if got := streamText(t, sout); got != h.anth.Answer() || !strings.HasSuffix(sout, "data: [DONE]\n\n") {
		t.Errorf("translated stream text %q: %s", got, sout)
	}
	if strings.Contains(sout, `"choices":[]`) {
		t.Errorf("usage chunk shown to a client that did not ask: %s", sout)
	}
}

func TestAnthropicClientToOpenAIDeployments(t *testing.T) {
	h := newDialectHarness(t)
	for _, model := range []string{"gpt", "mock"} {
		resp, out := h.send("/v1/messages", `{"model":"`+model+`","max_tokens":50,"system":"be brief","messages":[{"role":"user","content":"say hi"}]}`,
			"anthropic-version", "2023-06-01")
		var m struct {
			Type    string
			Role    string
			Content []struct{ Type, Text string }
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &m) != nil || m.Type != "message" || len(m.Content) == 0 {
			t.Fatalf("%s: %d %s", model, resp.StatusCode, out)
		}
		_, sout := h.send("/v1/messages", `{"model":"`+model+`","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"say hi"}]}`)
		if !strings.Contains(sout, "event: message_start") || !strings.HasSuffix(strings.TrimSpace(sout), `data: {"type":"message_stop"}`) {
			t.Errorf("%s: translated stream: %s", model, sout)
		}
	}
	if up := h.fake.Requests(); len(up) != 2 || up[0].Body["messages"] == nil {
		t.Errorf("OpenAI upstream requests: %+v", up)
	}
}

func TestIncludeUsageAddedAndHidden(t *testing.T) {
	h := newDialectHarness(t)
	_, out := h.send("/v1/chat/completions", `{"model":"gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if strings.Contains(out, `"choices":[]`) {
		t.Errorf("the gateway's own usage chunk reached the client: %s", out)
	}
	so, _ := h.fake.Requests()[0].Body["stream_options"].(map[string]any)
	if so["include_usage"] != true {
		t.Errorf("upstream was not asked for usage: %v", h.fake.Requests()[0].Body)
	}
	rows := h.rows()
	if len(rows) != 1 || rows[0].CompletionTokens != providertest.CompletionTokens {
		t.Errorf("rows: %+v", rows)
	}
}

func TestMessagesErrorsInAnthropicFormat(t *testing.T) {
	h := newDialectHarness(t)
	resp, out := h.send("/v1/messages", `{"model":"nope","max_tokens":5,"messages":[]}`)
	var e struct {
		Type  string
		Error struct{ Type, Message string }
	}
	if resp.StatusCode != 404 || json.Unmarshal([]byte(out), &e) != nil || e.Type != "error" || e.Error.Type != "not_found_error" {
		t.Errorf("%d %s", resp.StatusCode, out)
	}
	h.anth.Status = 529
	resp, out = h.send("/v1/messages", `{"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != 529 || !strings.Contains(out, `"type":"error"`) {
		t.Errorf("upstream overload: %d %s", resp.StatusCode, out)
	}
}

func TestCountTokensModelsAndEmbeddings(t *testing.T) {
	h := newDialectHarness(t)
	resp, out := h.send("/v1/messages/count_tokens", `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || resp.Header.Get("X-Memproxy-Token-Count") != "" || h.anth.Requests()[0].Path != "/v1/messages/count_tokens" {
		t.Errorf("exact count from Anthropic: %d %s %v", resp.StatusCode, out, resp.Header)
	}
	resp, out = h.send("/v1/messages/count_tokens", `{"model":"gpt","messages":[{"role":"user","content":"hello there, how are you"}]}`)
	var c struct {
		InputTokens int `json:"input_tokens"`
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-Memproxy-Token-Count") != "estimated" || json.Unmarshal([]byte(out), &c) != nil || c.InputTokens < 5 {
		t.Errorf("estimated count: %d %s %v", resp.StatusCode, out, resp.Header)
	}
	for _, model := range []string{"gpt", "mock"} {
		resp, out = h.send("/v1/embeddings", `{"model":"`+model+`","input":"hello"}`)
		var e struct {
			Data []struct{ Embedding []float64 }
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &e) != nil || len(e.Data) != 1 || len(e.Data[0].Embedding) == 0 {
			t.Errorf("embeddings via %s: %d %s", model, resp.StatusCode, out)
		}
	}
	resp, out = h.send("/v1/embeddings", `{"model":"claude","input":"hello"}`)
	if resp.StatusCode != 400 {
		t.Errorf("embeddings on Anthropic: %d %s", resp.StatusCode, out)
	}
	req, _ := http.NewRequest(http.MethodGet, h.httpURL+"/v1/models", nil)
	req.Header.Set("x-api-key", testMaster)
	req.Header.Set("anthropic-version", "2023-06-01")
	mresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ml struct {
		Data    []struct{ Type, ID string }
		HasMore bool `json:"has_more"`
	}
	json.NewDecoder(mresp.Body).Decode(&ml)
	mresp.Body.Close()
	if len(ml.Data) != 3 || ml.Data[0].Type != "model" || ml.Data[1].ID != "claude" {
		t.Errorf("Anthropic model list: %+v", ml)
	}
}
