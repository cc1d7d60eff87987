package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

func limitsHarness(t *testing.T, extra string) *dialectHarness {
	t.Helper()
	oai := providertest.NewOpenAI(t)
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: gpt\n    litellm_params: {model: openai/gpt-4o, api_base: \"" + oai.URL + "/v1\", api_key: k}\n" + extra
	h := serveYAML(t, y, oai, nil)
	return &dialectHarness{harness: h}
}

func TestProjectRateLimit(t *testing.T) {
	h := limitsHarness(t, "limits:\n  projects:\n    shop: {rpm: 2}\n")
	body := `{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`
	for i := 0; i < 2; i++ {
		if resp, out := h.send("/v1/chat/completions", body, alice...); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, out)
		}
	}
	resp, out := h.send("/v1/chat/completions", body, alice...)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(out, "rate_limit_rpm") {
		t.Errorf("third request: %d %v %s", resp.StatusCode, resp.Header, out)
	}
	resp, out = h.send("/v1/messages", `{"model":"gpt","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, alice...)
	if resp.StatusCode != 429 || !strings.Contains(out, `"type":"rate_limit_error"`) {
		t.Errorf("Anthropic dialect: %d %s", resp.StatusCode, out)
	}
	if resp, _ := h.send("/v1/chat/completions", body, "X-Memory-User-Id", "alice", "X-Memory-Project", "billing"); resp.StatusCode != 200 {
		t.Errorf("another project is not limited: %d", resp.StatusCode)
	}
	rows := h.rows()
	if len(rows) != 5 || rows[2].Status != 429 || rows[2].ErrorType != "rate_limit_error" {
		t.Errorf("rows: %d, third %+v", len(rows), rows[2])
	}
}

func TestResponseCache(t *testing.T) {
	h := limitsHarness(t, "litellm_settings:\n  cache: true\n")
	body := `{"model":"gpt","messages":[{"role":"user","content":"hi"}],"temperature":0}`
	same := `{"temperature":0, "messages":[{"role":"user","content":"hi"}],"model":"gpt"}`
	_, first := h.send("/v1/chat/completions", body, alice...)
	resp, second := h.send("/v1/chat/completions", same, alice...) // key order does not matter
	for i := 0; resp.Header.Get("X-Memproxy-Cache") != "hit" && i < 50; i++ {
		time.Sleep(10 * time.Millisecond) // the cache is written off the request path
		resp, second = h.send("/v1/chat/completions", same, alice...)
	}
	if resp.Header.Get("X-Memproxy-Cache") != "hit" || second != first {
		t.Fatalf("no cache hit: %v %s", resp.Header, second)
	}
	resp, _ = h.send("/v1/chat/completions", body, "X-Memory-User-Id", "bob", "X-Memory-Project", "shop")
	if resp.Header.Get("X-Memproxy-Cache") == "hit" {
		t.Error("another scope got alice's cached answer")
	}
	// Streams are cached as streams.
	sbody := `{"model":"gpt","stream":true,"messages":[{"role":"user","content":"stream me"}]}`
	_, s1 := h.send("/v1/chat/completions", sbody, alice...)
	var s2 string
	for i := 0; i < 50; i++ {
		r, out := h.send("/v1/chat/completions", sbody, alice...)
		if r.Header.Get("X-Memproxy-Cache") == "hit" {
			s2 = out
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s2 != s1 || !strings.HasSuffix(s2, "data: [DONE]\n\n") {
		t.Errorf("cached stream differs:\n%s\n%s", s1, s2)
	}
	hits := 0
	for _, r := range h.rows() {
		if r.CacheHit {
			hits++
			if r.Cost == nil || *r.Cost != 0 {
				t.Errorf("cache hit with cost %v", r.Cost)
			}
		}
	}
	if hits < 2 {
		t.Errorf("%d cache hits logged", hits)
	}
}
