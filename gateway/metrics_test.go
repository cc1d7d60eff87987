package gateway

import (
	"bufio"
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
	"github.com/memproxy/memproxy/gateway/usage"
	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
)

// series is one sample of the text exposition format: a metric name and
// its labels, canonically written.
type series string

func seriesOf(name string, labels map[string]string) series {
	var b strings.Builder
	b.WriteString(name)
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strconv.Quote(labels[k]))
	}
	if len(labels) > 0 {
		b.WriteByte('}')
	}
	return series(b.String())
}

// parseExposition reads Prometheus' text format (version 0.0.4) into
// samples. Our label values hold no commas, quotes or escapes.
func parseExposition(t *testing.T, r io.Reader) map[series]float64 {
	t.Helper()
	out := map[series]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		key, val := line[:sp], line[sp+1:]
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("bad sample %q: %v", line, err)
		}
		name, rest, hasLabels := strings.Cut(key, "{")
		labels := map[string]string{}
		if hasLabels {
			for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
				k, q, _ := strings.Cut(kv, "=")
				uq, err := strconv.Unquote(q)
				if err != nil {
					t.Fatalf("bad label in %q", line)
				}
				labels[k] = uq
			}
		}
		out[seriesOf(name, labels)] = v
	}
	return out
}

// pricedHarness is newHarness with prices on gpt-test, so requests cost.
func pricedHarness(t *testing.T) *harness {
	t.Helper()
	fake := providertest.NewOpenAI(t)
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: gpt-test\n    litellm_params: {model: openai/gpt-upstream, api_base: \"" + fake.URL + "/v1\", api_key: k,\n" +
		"      input_cost_per_token: 0.000001, output_cost_per_token: 0.000004}\n" +
		"  - model_name: mock\n    litellm_params: {model: mock/echo}\n"
	cfg, err := config.Parse("t.yaml", []byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(context.Background(), Options{Config: cfg, DataDir: t.TempDir(), MasterKey: testMaster,
		UsageQueue: usage.QueueOptions{FlushInterval: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, hl, gl) }()
	h := &harness{t: t, srv: srv, fake: fake, httpURL: "http://" + hl.Addr().String(), grpcAddr: gl.Addr().String()}
	h.stop = func() {
		if !h.stopped {
			h.stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	t.Cleanup(func() { h.stop(); srv.Close() })
	return h
}

func getMetrics(t *testing.T, url string, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestMetricsCountRequests(t *testing.T) {
	h := pricedHarness(t)
	for range 2 {
		if resp, body := h.post(chatBody, "User-Agent", "OpenAIClientImpl/Java 1.0"); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	if resp, _ := h.post(`{"model":"made-up-by-the-client","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode/100 != 4 {
		t.Fatalf("unknown model answered %d", resp.StatusCode)
	}
	if resp, _ := h.post(chatBody, "Authorization", ""); resp.StatusCode != 401 {
		t.Fatalf("no key answered %d", resp.StatusCode)
	}
	for _, client := range []string{"claude-code", "an-edge-rule-of-its-own"} {
		if code, body := forward(t, h, testMaster, &pb.Identity{Project: "shop", Client: client}, "/v1/chat/completions", chatBody); code != 200 {
			t.Fatalf("tunnel %d %s", code, body)
		}
	}

	// The API port serves the page to the master key only.
	if resp := getMetrics(t, h.httpURL+"/metrics", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /metrics without a key: %d", resp.StatusCode)
	}
	userKey, _ := mintKey(t, h, auth.KeyRecord{User: "alice"})
	if resp := getMetrics(t, h.httpURL+"/metrics", userKey); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /metrics with a user's key: %d", resp.StatusCode)
	}
	if resp := getMetrics(t, h.httpURL+"/metrics", testMaster); resp.StatusCode != 200 ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /metrics with the master key: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	rows := h.rows() // stops the gateway: every request has been counted
	var cost float64
	for _, r := range rows {
		if r.Cost != nil {
			cost += *r.Cost
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testMaster)
	h.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	got := parseExposition(t, rec.Body)

	const route = "/v1/chat/completions"
	req4 := func(model, class, client, ingress string) series {
		return seriesOf("memproxy_requests_total", map[string]string{"route": route, "model": model, "status_class": class, "client": client, "ingress": ingress})
	}
	tokens := func(kind string) series {
		return seriesOf("memproxy_tokens_total", map[string]string{"model": "gpt-test", "kind": kind})
	}
	perRoute := func(name string) series {
		return seriesOf(name, map[string]string{"route": route, "model": "gpt-test"})
	}
	want := map[series]float64{
		req4("gpt-test", "2xx", "pycharm", "http"):       2,
		req4("other", "4xx", "unknown", "http"):          1, // the client's made-up model is no label
		req4("none", "4xx", "unknown", "http"):           1, // refused before naming a model
		req4("gpt-test", "2xx", "claude-code", "tunnel"): 1,
		req4("gpt-test", "2xx", "other", "tunnel"):       1, // an edge's own client name is no label
		tokens("prompt"):     4 * 11,
		tokens("completion"): 4 * 5,
		tokens("cached"):     4 * 3,
		perRoute("memproxy_request_duration_seconds_count"): 4,
		perRoute("memproxy_ttfb_seconds_count"):             4,
		seriesOf("memproxy_tool_rounds_total", nil):         0,
		seriesOf("memproxy_usage_queue_depth", nil):         0,
		seriesOf("memproxy_usage_journal_bytes", nil):       0,
	}
	want[seriesOf("memproxy_cost_usd_total", map[string]string{"model": "gpt-test"})] = cost
	for s, v := range want {
		g, ok := got[s]
		if !ok {
			t.Errorf("missing %s", s)
		} else if diff := g - v; diff > 1e-12 || diff < -1e-12 {
			t.Errorf("%s = %v, want %v", s, g, v)
		}
	}
	if cost <= 0 {
		t.Errorf("priced requests cost %v", cost)
	}
	for s := range got {
		if strings.HasPrefix(string(s), "memproxy_requests_total") && want[s] == 0 {
			t.Errorf("unexpected series %s = %v", s, got[s])
		}
		if strings.Contains(string(s), "made-up") || strings.Contains(string(s), "an-edge-rule") {
			t.Errorf("client-chosen label value: %s", s)
		}
	}
	if got[seriesOf("go_goroutines", nil)] == 0 {
		t.Error("the Go runtime collector is missing")
	}
}

func TestMetricsMemoryRetrievals(t *testing.T) {
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "The shop project deploys with make ship.", nil)
	h := memHarness(t, mem, nil)
	for _, q := range []string{"how does the project deploy?", "nothing matches zzz"} {
		if resp, out := h.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"`+q+`"}]}`, alice...); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
	}
	h.stop()
	rec := httptest.NewRecorder()
	h.srv.metricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	got := parseExposition(t, rec.Body)
	for st, n := range map[string]float64{"injected": 1, "empty": 1} {
		if s := seriesOf("memproxy_memory_retrievals_total", map[string]string{"status": st}); got[s] != n {
			t.Errorf("%s = %v, want %v", s, got[s], n)
		}
	}
}

func TestServeMetricsOpenListener(t *testing.T) {
	h := pricedHarness(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.srv.ServeMetrics(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	resp := getMetrics(t, base+"/metrics", "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "memproxy_usage_queue_depth 0") {
		t.Errorf("open /metrics: %d\n%s", resp.StatusCode, body)
	}
	if resp := getMetrics(t, base+"/v1/models", testMaster); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the metrics listener serves the API: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeMetrics: %v", err)
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]string{200: "2xx", 201: "2xx", 302: "3xx", 404: "4xx", 429: "4xx", 499: "499", 502: "5xx", 0: "other", 999: "other"} {
		if got := statusClass(code); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", code, got, want)
		}
	}
}
