package gateway

import (
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// TestRetryOnAnotherDeploymentThenFallback: two deployments share a name;
// the failing one is skipped for the healthy one, and a model whose only
// deployment fails falls back to another model — all before the client
// sees a byte, streams included.
func TestRetryOnAnotherDeploymentThenFallback(t *testing.T) {
	bad, good, fb := providertest.NewOpenAI(t), providertest.NewOpenAI(t), providertest.NewAnthropic(t)
	bad.Status = 503
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: gpt\n    litellm_params: {model: openai/gpt-a, api_base: \"" + bad.URL + "/v1\", api_key: k1}\n" +
		"  - model_name: gpt\n    litellm_params: {model: openai/gpt-b, api_base: \"" + good.URL + "/v1\", api_key: k2}\n" +
		"  - model_name: flaky\n    litellm_params: {model: openai/flaky, api_base: \"" + bad.URL + "/v1\", api_key: k1}\n" +
		"  - model_name: claude\n    litellm_params: {model: anthropic/claude-up, api_base: \"" + fb.URL + "\", api_key: k3}\n" +
		"router_settings:\n  num_retries: 2\n  retry_after: 0.001\n  fallbacks:\n    - flaky: [claude]\n"
	h := serveYAML(t, y, good, nil)
	dh := &dialectHarness{harness: h}

	for i := 0; i < 4; i++ {
		resp, out := dh.send("/v1/chat/completions", `{"model":"gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 200 || streamText(t, out) != good.Answer() {
			t.Fatalf("try %d: %d %s", i, resp.StatusCode, out)
		}
	}
	resp, out := dh.send("/v1/chat/completions", `{"model":"flaky","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(out, fb.Answer()) {
		t.Fatalf("fallback: %d %s", resp.StatusCode, out)
	}
	rows := h.rows()
	if len(rows) != 5 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows[:4] {
		if r.UpstreamModel != "gpt-b" || r.Status != 200 {
			t.Errorf("row %+v: the answer came from gpt-b", r)
		}
	}
	if rows[4].Provider != "anthropic" || rows[4].UpstreamModel != "claude-up" {
		t.Errorf("fallback row: %+v", rows[4])
	}
}
