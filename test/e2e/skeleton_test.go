package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

func modelConfig(upstream string) string {
	return `model_list:
  - model_name: gpt-e2e
    litellm_params:
      model: openai/gpt-upstream
      api_base: ` + upstream + `/v1
      api_key: sk-upstream-secret
  - model_name: mock
    litellm_params:
      model: mock/echo
`
}

func chat(t *testing.T, url, body, userAgent string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-dummy-from-the-ide")
	req.Header.Set("User-Agent", userAgent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp, readAll(t, resp.Body)
}

// TestWalkingSkeleton: IDE → memedge → gRPC → memgateway → upstream and back,
// with and without streaming, a bad request, and the usage rows.
func TestWalkingSkeleton(t *testing.T) {
	fake := providertest.NewOpenAI(t)
	g := startGateway(t, modelConfig(fake.URL))
	e := newEdge(t, g, "alice")
	url := e.start("shop")

	if again := e.start("shop"); again != url {
		t.Errorf("second start moved the project: %s then %s", url, again)
	}

	resp, body := chat(t, url, `{"model":"gpt-e2e","messages":[{"role":"user","content":"hello"}]}`, "OpenAI/JS 4.104.0")
	if resp.StatusCode != 200 || !strings.Contains(body, `"content":"`+fake.Answer()+`"`) {
		t.Fatalf("non-streaming: %d %s", resp.StatusCode, body)
	}
	up := fake.Requests()[0]
	if up.Header.Get("Authorization") != "Bearer sk-upstream-secret" || up.Body["model"] != "gpt-upstream" {
		t.Errorf("upstream saw Authorization %q model %v", up.Header.Get("Authorization"), up.Body["model"])
	}

	// Streaming, with the upstream held after its first word: the client
	// must have that word before the upstream finishes.
	fake.Hold = make(chan struct{})
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-e2e","stream":true,"messages":[{"role":"user","content":"hello"}]}`))
	req.Header.Set("User-Agent", "claude-cli/2.0.14 (external, cli)")
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(sresp.Body)
	var first strings.Builder
	for !strings.Contains(first.String(), `"content":"Hello"`) {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before the first word: %q %v", first.String(), err)
		}
		first.WriteString(line)
	}
	close(fake.Hold)
	rest := readAll(t, br)
	sresp.Body.Close()
	if !strings.HasSuffix(rest, "data: [DONE]\n\n") {
		t.Errorf("stream did not end with [DONE]: %q", rest)
	}

	// Bad input comes back as OpenAI error JSON through the edge.
	resp, body = chat(t, url, `{"model":"no-such-model","messages":[]}`, "curl/8.5.0")
	var e404 struct {
		Error struct{ Code string } `json:"error"`
	}
	if resp.StatusCode != 404 || json.Unmarshal([]byte(body), &e404) != nil || e404.Error.Code != "model_not_found" {
		t.Errorf("unknown model: %d %s", resp.StatusCode, body)
	}
	resp, body = chat(t, url, `{"model":"gpt-e2e","messages":[],"metadata":{"api_base":"http://169.254.169.254"}}`, "curl/8.5.0")
	if resp.StatusCode != 400 || !strings.Contains(body, "forbidden_parameter") {
		t.Errorf("nested api_base: %d %s", resp.StatusCode, body)
	}
	if n := len(fake.Requests()); n != 2 {
		t.Errorf("upstream got %d requests, want 2 (bad requests must not reach it)", n)
	}

	var rows []map[string]any
	waitFor(t, "4 usage rows", func() bool { rows = g.usage("project=shop"); return len(rows) == 4 })
	want := []struct {
		client string
		status float64
		stream bool
	}{{"curl", 400, false}, {"curl", 404, false}, {"claude-code", 200, true}, {"openai-js", 200, false}}
	for i, w := range want {
		r := rows[i]
		if r["user"] != "alice" || r["project"] != "shop" || r["client"] != w.client || r["status"] != w.status ||
			r["stream"] != w.stream || r["ingress"] != "tunnel" {
			t.Errorf("row %d: %v, want client %s status %v stream %v", i, r, w.client, w.status, w.stream)
		}
	}
	if rows[3]["prompt_tokens"] != float64(providertest.PromptTokens) || rows[3]["completion_tokens"] != float64(providertest.CompletionTokens) {
		t.Errorf("tokens of the first request: %v", rows[3])
	}
}

// TestEdgeWithoutGateway: an edge whose gateway has never answered (wrong
// address, gateway not started) gets a 502 naming the gateway's address.
// (Once a gateway has answered, its absence is an outage: 503, see
// TestGatewayRestart.)
func TestEdgeWithoutGateway(t *testing.T) {
	g := prepareGateway(t, modelConfig("http://127.0.0.1:9")) // never started
	e := newEdge(t, g, "bob")
	url := e.start("solo")
	resp, body := chat(t, url, `{"model":"mock","messages":[{"role":"user","content":"x"}]}`, "curl/8")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, g.grpcAddr) {
		t.Errorf("gateway never reached: %d %s", resp.StatusCode, body)
	}
}
