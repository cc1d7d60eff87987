package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// codexBody is a request shaped like Codex CLI's.
const codexBody = `{"model":"%s","instructions":"You are Codex.","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"list files"}]}],` +
	`"tools":[{"type":"function","name":"shell","description":"run","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}},"strict":false},{"type":"local_shell"}],` +
	`"tool_choice":"auto","parallel_tool_calls":false,"store":false,"stream":%s,"include":[],"prompt_cache_key":"abc"}`

func respHarness(t *testing.T) (*dialectHarness, *providertest.Responses) {
	t.Helper()
	rs, anth := providertest.NewResponses(t), providertest.NewAnthropic(t)
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: gpt\n    litellm_params: {model: openai/gpt-up, api_base: \"" + rs.URL + "/v1\", api_key: k}\n" +
		"  - model_name: native\n    litellm_params: {model: openai/gpt-native, api_base: \"" + rs.URL + "/v1\", api_key: k}\n" +
		"  - model_name: claude\n    litellm_params: {model: anthropic/claude-up, api_base: \"" + anth.URL + "\", api_key: k}\n" +
		"  - model_name: mock\n    litellm_params: {model: mock/echo}\n"
	h := serveYAML(t, y, rs.Chat, nil)
	h.srv.models.All("native")[0].Responses = true // as for api.openai.com
	return &dialectHarness{harness: h, anth: anth}, rs
}

func outputText(t *testing.T, body string) string {
	t.Helper()
	var r struct {
		Object string
		Status string
		Output []struct {
			Type    string
			Content []struct{ Type, Text string }
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Object != "response" || r.Status != "completed" {
		t.Fatalf("not a completed response: %v %s", err, body)
	}
	var b strings.Builder
	for _, o := range r.Output {
		for _, c := range o.Content {
			if c.Type == "output_text" {
				b.WriteString(c.Text)
			}
		}
	}
	return b.String()
}

func TestResponsesAPIEveryDeployment(t *testing.T) {
	h, rs := respHarness(t)
	for _, model := range []string{"gpt", "claude", "native"} {
		_, out := h.send("/v1/responses", strings.ReplaceAll(strings.Replace(codexBody, "%s", model, 1), "%s", "false"))
		if got := outputText(t, out); got != providertest.Answer() {
			t.Errorf("%s: text %q", model, got)
		}
		_, sout := h.send("/v1/responses", strings.ReplaceAll(strings.Replace(codexBody, "%s", model, 1), "%s", "true"))
		for _, ev := range []string{"event: response.created", "event: response.output_text.delta", "event: response.completed"} {
			if !strings.Contains(sout, ev) {
				t.Errorf("%s stream lacks %s: %s", model, ev, sout)
			}
		}
	}
	// The translated requests: instructions became a system message, the
	// local_shell tool was dropped; the native one went through as it was.
	chat := h.fake.Requests()[0].Body
	msgs, _ := json.Marshal(chat["messages"])
	tools, _ := json.Marshal(chat["tools"])
	if !strings.Contains(string(msgs), `{"content":"You are Codex.","role":"system"}`) || strings.Contains(string(tools), "local_shell") {
		t.Errorf("translated chat request: %s %s", msgs, tools)
	}
	if n := len(rs.Requests()); n != 2 || rs.Requests()[0].Body["model"] != "gpt-native" {
		t.Errorf("native Responses upstream got %d requests: %+v", n, rs.Requests())
	}
	rows := h.rows()
	if len(rows) != 6 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if r.Path != "/v1/responses" || r.Status != 200 || r.CompletionTokens == 0 {
			t.Errorf("row %+v", r)
		}
	}
}
