package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
	"github.com/memproxy/memproxy/gateway/track"
)

func decodeError(t *testing.T, body string) (msg, typ, code string) {
	t.Helper()
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body is not OpenAI error JSON: %v: %s", err, body)
	}
	if e.Error.Code != nil {
		code = *e.Error.Code
	}
	return e.Error.Message, e.Error.Type, code
}

func TestChatNonStreaming(t *testing.T) {
	h := newHarness(t, "")
	resp, body := h.post(`{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"temperature":0.2}`,
		"User-Agent", "OpenAIClientImpl/Java 1.0", "X-Memory-Project", "shop")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var c struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil || len(c.Choices) != 1 || c.Choices[0].Message.Content != h.fake.Answer() {
		t.Fatalf("unexpected answer %s (%v)", body, err)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id header")
	}
	reqs := h.fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream got %d requests", len(reqs))
	}
	up := reqs[0]
	if up.Body["model"] != "gpt-upstream" || up.Body["temperature"] != 0.2 {
		t.Errorf("upstream body: model %v temperature %v", up.Body["model"], up.Body["temperature"])
	}
	if got := up.Header.Get("Authorization"); got != "Bearer sk-upstream-secret" {
		t.Errorf("upstream Authorization = %q", got)
	}
	rows := h.rows()
	if len(rows) != 1 {
		t.Fatalf("%d usage rows", len(rows))
	}
	r := rows[0]
	if r.User != "secretary-dev" || r.Project != "shop" || r.Client != "pycharm" || r.Model != "gpt-test" ||
		r.UpstreamModel != "gpt-upstream" || r.Status != 200 || r.Stream || r.Ingress != "http" {
		t.Errorf("row identity/route: %+v", r)
	}
	if r.PromptTokens != providertest.PromptTokens || r.CompletionTokens != providertest.CompletionTokens || r.CachedTokens != providertest.CachedTokens {
		t.Errorf("row tokens: %+v", r)
	}
	if r.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("row request id %q, header %q", r.RequestID, resp.Header.Get("X-Request-Id"))
	}
}

func TestChatStreaming(t *testing.T) {
	h := newHarness(t, "")
	resp, body := h.post(`{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := streamText(t, body); got != h.fake.Answer() {
		t.Errorf("streamed text %q, want %q", got, h.fake.Answer())
	}
	if !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("stream does not end with [DONE]: %q", body[max(0, len(body)-60):])
	}
	rows := h.rows()
	if len(rows) != 1 || !rows[0].Stream || rows[0].CompletionTokens != providertest.CompletionTokens || rows[0].ErrorType != "" {
		t.Fatalf("rows: %+v", rows)
	}
	if rows[0].TTFBMS <= 0 || rows[0].TTFBMS > rows[0].LatencyMS {
		t.Errorf("ttfb %.3f latency %.3f", rows[0].TTFBMS, rows[0].LatencyMS)
	}
}

// streamText joins the content deltas of an OpenAI SSE body.
func streamText(t *testing.T, body string) string {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(body, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("bad chunk %q: %v", data, err)
		}
		for _, ch := range c.Choices {
			b.WriteString(ch.Delta.Content)
		}
	}
	return b.String()
}

// TestStreamFirstChunkBeforeUpstreamFinishes holds the upstream after its
// first content chunk: the client must already have it.
func TestStreamFirstChunkBeforeUpstreamFinishes(t *testing.T) {
	h := newHarness(t, "")
	h.fake.Hold = make(chan struct{})
	req, _ := http.NewRequest(http.MethodPost, h.httpURL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+testMaster)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	got := readEvents(t, br, 2) // role chunk + first word, while the upstream is held
	if !strings.Contains(got, `"content":"Hello"`) {
		t.Fatalf("first events %q", got)
	}
	close(h.fake.Hold)
	rest, _ := io.ReadAll(br)
	if !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Fatalf("rest of stream %q", rest)
	}
}

func readEvents(t *testing.T, br *bufio.Reader, n int) string {
	t.Helper()
	var b strings.Builder
	for n > 0 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading stream: %v (so far %q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\n" {
			n--
		}
	}
	return b.String()
}

// TestClientDisconnectCancelsUpstream: the fake upstream waits on its own
// request context, so this test hangs if the gateway does not cancel it.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	h := newHarness(t, "")
	h.fake.Hold = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.httpURL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+testMaster)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readEvents(t, bufio.NewReader(resp.Body), 2)
	cancel()
	resp.Body.Close()
	select {
	case <-h.fake.Cancelled():
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request was not cancelled after the client left")
	}
	rows := h.rows()
	if len(rows) != 1 || rows[0].Status != track.StatusClientClosed || rows[0].ErrorType != "client_cancelled" {
		t.Fatalf("rows: %+v", rows)
	}
	// What was delivered is logged (estimated), not 0 tokens.
	if rows[0].CompletionTokens != 1 || rows[0].PromptTokens == 0 {
		t.Errorf("a client that left after one token: %d prompt, %d completion tokens", rows[0].PromptTokens, rows[0].CompletionTokens)
	}
}

func TestStreamCutByUpstream(t *testing.T) {
	h := newHarness(t, "")
	h.fake.CutAfter = 3
	_, body := h.post(`{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if strings.Contains(body, "[DONE]") || strings.Contains(body, `"finish_reason":"stop"`) {
		t.Fatalf("a cut stream must not look finished: %q", body)
	}
	last := strings.TrimSpace(body[strings.LastIndex(strings.TrimSpace(body), "data: "):])
	_, _, code := decodeError(t, strings.TrimPrefix(last, "data: "))
	if code != "stream_cut" {
		t.Errorf("last event %q", last)
	}
	rows := h.rows()
	if len(rows) != 1 || rows[0].ErrorType != "upstream_stream_cut" {
		t.Fatalf("rows: %+v", rows)
	}
}

func TestBadInput(t *testing.T) {
	h := newHarness(t, "  max_request_size_mb: 0.01")
	big := `{"model":"gpt-test","messages":[{"role":"user","content":"` + strings.Repeat("x", 20<<10) + `"}]}`
	cases := []struct {
		name, body string
		header     []string
		status     int
		code       string
	}{
		{"malformed JSON", `{"model":`, nil, 400, "invalid_json"},
		{"unknown model", `{"model":"nope","messages":[]}`, nil, 404, "model_not_found"},
		{"missing key", `{"model":"gpt-test","messages":[]}`, []string{"Authorization", ""}, 401, "missing_api_key"},
		{"wrong key", `{"model":"gpt-test","messages":[]}`, []string{"Authorization", "Bearer sk-wrong"}, 401, "invalid_api_key"},
		{"x-api-key works too", `{"model":"nope","messages":[]}`, []string{"Authorization", "", "X-Api-Key", testMaster}, 404, "model_not_found"},
		{"too large", big, nil, 413, "request_too_large"},
		{"api_base", `{"model":"gpt-test","messages":[],"api_base":"http://evil.example"}`, nil, 400, "forbidden_parameter"},
		{"nested base_url", `{"model":"gpt-test","messages":[],"metadata":{"x":[{"base_url":"http://evil"}]}}`, nil, 400, "forbidden_parameter"},
		{"nested api_key", `{"model":"gpt-test","messages":[],"extra_body":{"api_key":"sk-mine"}}`, nil, 400, "forbidden_parameter"},
		{"missing model", `{"messages":[]}`, nil, 400, "missing_model"},
	}
	for _, c := range cases {
		resp, body := h.post(c.body, c.header...)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, resp.StatusCode, c.status, body)
			continue
		}
		if _, _, code := decodeError(t, body); code != c.code {
			t.Errorf("%s: code %q, want %q", c.name, code, c.code)
		}
	}
	if n := len(h.fake.Requests()); n != 0 {
		t.Errorf("the upstream was contacted %d times by bad requests", n)
	}
	if rows := h.rows(); len(rows) != len(cases) {
		t.Errorf("%d usage rows for %d requests", len(rows), len(cases))
	}
}

// TestContentLengthMismatch sends fewer bytes than Content-Length declares
// and closes its side, as a broken client would.
func TestContentLengthMismatch(t *testing.T) {
	h := newHarness(t, "")
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.httpURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"model":"gpt-test"}`
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		testMaster, len(body)+50, body)
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if _, _, code := decodeError(t, string(b)); code != "content_length_mismatch" {
		t.Errorf("code %q", code)
	}
	if rows := h.rows(); len(rows) != 1 || rows[0].Status != 400 {
		t.Errorf("rows: %+v", rows)
	}
}

func TestUpstreamErrorPassedThrough(t *testing.T) {
	for _, status := range []int{429, 500, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			h := newHarness(t, "")
			h.fake.Status = status
			resp, body := h.post(`{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`)
			if resp.StatusCode != status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
			}
			msg, _, code := decodeError(t, body)
			if msg != "fake upstream failure" || code != "fake_failure" {
				t.Errorf("error %q code %q", msg, code)
			}
			if rows := h.rows(); len(rows) != 1 || rows[0].Status != status || rows[0].ErrorType == "" {
				t.Errorf("rows: %+v", rows)
			}
		})
	}
}

func TestUpstreamNonOpenAIErrorWrapped(t *testing.T) {
	h := newHarness(t, "")
	h.fake.Status, h.fake.ErrorBody = 502, "<html>bad gateway</html>"
	resp, body := h.post(`{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`)
	msg, typ, _ := decodeError(t, body)
	if resp.StatusCode != 502 || typ != "api_error" || !strings.Contains(msg, "502") {
		t.Errorf("status %d type %q msg %q", resp.StatusCode, typ, msg)
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cfg := testConfig(t, "http://"+addr, "")
	srv, err := New(context.Background(), Options{Config: cfg, DataDir: t.TempDir(), MasterKey: testMaster})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(`{"model":"gpt-test","messages":[]}`))
	req.Header.Set("Authorization", "Bearer "+testMaster)
	srv.Handler().ServeHTTP(rec, req)
	msg, _, code := decodeError(t, rec.Body.String())
	if rec.Code != 502 || code != "upstream_unreachable" || strings.Contains(msg, addr) {
		t.Errorf("status %d code %q msg %q (must not reveal the upstream address)", rec.Code, code, msg)
	}
}
