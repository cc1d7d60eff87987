package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// TestResponsesMemory: a Codex-shaped /v1/responses request gets the same
// memory as the other dialects — retrieval from its input (items or a
// string), injection that reaches every kind of deployment (the native
// Responses API passed through, an OpenAI chat and an Anthropic one
// through the hub), receipts, and write-back of the exchange — stream and
// not.
func TestResponsesMemory(t *testing.T) {
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "To list files in this repo use eza, not ls.", nil)
	rs, anth := providertest.NewResponses(t), providertest.NewAnthropic(t)
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: gpt\n    litellm_params: {model: openai/gpt-up, api_base: \"" + rs.URL + "/v1\", api_key: k}\n" +
		"  - model_name: native\n    litellm_params: {model: openai/gpt-native, api_base: \"" + rs.URL + "/v1\", api_key: k}\n" +
		"  - model_name: claude\n    litellm_params: {model: anthropic/claude-up, api_base: \"" + anth.URL + "\", api_key: k}\n"
	hh := serveYAML(t, y, rs.Chat, func(o *Options) {
		o.Memory = &MemoryOptions{Enabled: true, Backend: mem, BackendName: "fake"}
		o.Tools = &ToolOptions{}
	})
	h := &dialectHarness{harness: hh}
	h.srv.models.All("native")[0].Responses = true
	upstream := map[string]func() []providertest.Recorded{"gpt": rs.Chat.Requests, "native": rs.Requests, "claude": anth.Requests}
	stringInput := `{"model":"%s","instructions":"You are Codex.","input":"list files","stream":%s}`
	n := 0
	for _, model := range []string{"native", "gpt", "claude"} {
		for _, stream := range []string{"false", "true"} {
			for _, shape := range []string{codexBody, stringInput} {
				body := strings.Replace(strings.Replace(shape, "%s", model, 1), "%s", stream, 1)
				resp, out := h.send("/v1/responses", body, alice...)
				n++
				if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("X-Memproxy-Memories"), "m1") {
					t.Fatalf("%s stream=%s: %d %v %s", model, stream, resp.StatusCode, resp.Header, out)
				}
				reqs := upstream[model]()
				sent, _ := json.Marshal(reqs[len(reqs)-1].Body)
				if !strings.Contains(string(sent), "use eza, not ls") || !strings.Contains(string(sent), "memproxy-context") {
					t.Errorf("%s stream=%s: the memory did not reach the upstream: %s", model, stream, sent)
				}
				if model == "native" && !strings.Contains(string(sent), `"instructions":"You are Codex."`) {
					t.Errorf("cache_aware changed the instructions: %s", sent)
				}
			}
		}
	}
	h.stop() // drains write-back
	written := 0
	for _, m := range mem.all("u:alice/p:shop")[1:] {
		if !strings.HasPrefix(m.Content, "User: list files\nAssistant: ") || strings.Contains(m.Content, "memproxy-context") ||
			len(m.Content) <= len("User: list files\nAssistant: ") {
			t.Errorf("written back: %q", m.Content)
		}
		written++
	}
	if written != 1 {
		t.Errorf("%d exchanges written back; the same turn sent %d times is one turn, written once", written, n)
	}
	for _, r := range h.rows() {
		if r.MemoryStatus != "injected" || r.MemoryCount < 1 {
			t.Errorf("row: %s %s memory %s %d", r.Path, r.Model, r.MemoryStatus, r.MemoryCount)
		}
	}
}

// TestToolLoopSharesTheModelPath: a tool-loop round goes through the
// relay's model call, so a silent upstream is cut after stream_timeout (in
// the client's dialect, recorded as upstream_timeout) and the router's
// retries are counted, as on the plain path.
func TestToolLoopSharesTheModelPath(t *testing.T) {
	mem := &fakeMemory{}
	oai := providertest.NewOpenAI(t)
	oai.Hold = make(chan struct{})
	defer close(oai.Hold)
	var logs bytes.Buffer
	// gpt is unreachable: every round goes on to its fallback, so the
	// router always makes two attempts.
	y := "general_settings:\n  master_key: " + testMaster + "\nrouter_settings: {num_retries: 0, retry_after: 0, fallbacks: [{gpt: [gpt-b]}]}\nmodel_list:\n" +
		"  - model_name: gpt\n    litellm_params: {model: openai/gpt-up, api_base: \"http://127.0.0.1:1/v1\", api_key: k, stream_timeout: 0.3}\n" +
		"  - model_name: gpt-b\n    litellm_params: {model: openai/gpt-up, api_base: \"" + oai.URL + "/v1\", api_key: k, stream_timeout: 0.3}\n"
	hh := serveYAML(t, y, oai, func(o *Options) {
		o.Memory = &MemoryOptions{Enabled: true, Backend: mem, BackendName: "fake", WriteBack: "off"}
		o.Tools = &ToolOptions{Enabled: true, MaxIterations: 3}
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	h := &dialectHarness{harness: hh}
	for _, c := range []struct{ path, body, want string }{
		{"/v1/chat/completions", `{"model":"gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}`, `"code":"upstream_timeout"`},
		{"/v1/messages", `{"model":"gpt","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, `"type":"error"`},
		{"/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`, `"code":"upstream_timeout"`},
	} {
		resp, out := h.send(c.path, c.body, alice...)
		if !strings.Contains(out, c.want) {
			t.Errorf("%s: %d %s", c.body, resp.StatusCode, out)
		}
	}
	rows := h.rows()
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if r.ErrorType != "upstream_timeout" {
			t.Errorf("row %s: error %q, want upstream_timeout", r.Path, r.ErrorType)
		}
	}
	if !strings.Contains(logs.String(), "upstream retried") {
		t.Errorf("the tool loop's retry went unrecorded:\n%s", logs.String())
	}
}

// TestLargeEchoThroughToolLoop: a 2 MB prompt with a memory scope (so the
// tool loop runs) against the mock model, which echoes it in one SSE line,
// is answered in full: no legitimate request fails on a line length.
func TestLargeEchoThroughToolLoop(t *testing.T) {
	mem := &fakeMemory{}
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n  - model_name: mock\n    litellm_params: {model: mock/echo}\n"
	hh := serveYAML(t, y, nil, func(o *Options) {
		o.Memory = &MemoryOptions{Enabled: true, Backend: mem, BackendName: "fake", WriteBack: "off"}
		o.Tools = &ToolOptions{Enabled: true, MaxIterations: 2}
	})
	h := &dialectHarness{harness: hh}
	big := strings.Repeat("x", 2<<20) // the mock echoes word by word: one word, one line
	for _, stream := range []string{"true", "false"} {
		resp, out := h.send("/v1/chat/completions", `{"model":"mock","stream":`+stream+`,"messages":[{"role":"user","content":"`+big+`"}]}`, alice...)
		if resp.StatusCode != 200 || !strings.Contains(out, big) || strings.Contains(out, `"error"`) {
			t.Errorf("stream=%s: %d %.300s … %s", stream, resp.StatusCode, out, out[max(0, len(out)-300):])
		}
	}
}

// TestAgentTurnMemory: memory works per agent turn. The turn's first call
// retrieves with what the person wrote (the client's wrappers cleaned
// away); its continuation call (a tool result last) gets the same memories
// in the same place even though the store changed; nothing is written for
// the call that asked for a tool; the answer that ends the turn writes it
// once, and the turn sent again is not written twice.
func TestAgentTurnMemory(t *testing.T) {
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "The staging database listens on port 6543.", nil)
	h := memHarness(t, mem, func(o *MemoryOptions) { o.WriteBack = "user_only" })
	h.fake.ToolCall = &providertest.ToolCall{Name: "Read", Input: `{"file_path":"main.go"}`}
	cc := append([]string{"User-Agent", "claude-cli/2.1.332 (external, cli)", "X-Claude-Code-Session-Id", "s-1"}, alice...)
	user := `{"role":"user","content":[{"type":"text","text":"<system-reminder>\nAs you answer, use this context: cwd /src\n</system-reminder>"},{"type":"text","text":"Which port does staging use?"}]}`
	tools := `"tools":[{"type":"function","function":{"name":"Read","parameters":{"type":"object"}}}]`
	first := `{"model":"gpt",` + tools + `,"messages":[` + user + `]}`
	resp, out := h.send("/v1/chat/completions", first, cc...)
	if resp.Header.Get("X-Memproxy-Memories") != "m1" || !strings.Contains(out, "tool_calls") {
		t.Fatalf("first call: %v %s", resp.Header, out)
	}
	mem.Add(context.Background(), "u:alice/p:shop", "Which staging port? See ops.md for staging port docs.", nil)
	cont := `{"model":"gpt",` + tools + `,"messages":[` + user + `,{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"Read","arguments":"{}"}}]},` +
		`{"role":"tool","tool_call_id":"call_1","content":"package main"}]}`
	resp, out = h.send("/v1/chat/completions", cont, cc...)
	if resp.Header.Get("X-Memproxy-Memories") != "m1" || strings.Contains(out, "tool_calls") {
		t.Fatalf("continuation: memories %q (want the turn's m1 again): %s", resp.Header.Get("X-Memproxy-Memories"), out)
	}
	reqs := h.fake.Requests()
	b1, _ := json.Marshal(reqs[0].Body["messages"].([]any)[0])
	b2, _ := json.Marshal(reqs[1].Body["messages"].([]any)[0])
	if string(b1) != string(b2) || !strings.Contains(string(b1), "port 6543") {
		t.Errorf("the turn's human message differs between its calls:\n%s\n%s", b1, b2)
	}
	h.send("/v1/chat/completions", cont, cc...) // the final call re-sent
	h.stop()
	fams, _ := h.srv.metrics.reg.Gather()
	gauges := map[string]bool{}
	for _, f := range fams {
		gauges[f.GetName()] = true
	}
	if !gauges["memproxy_memory_writeback_pending"] || !gauges["memproxy_memory_writeback_stuck"] {
		t.Error("the write-back queue's gauges are not exported")
	}
	got := mem.all("u:alice/p:shop")
	if len(got) != 3 || got[2].Content != "Which port does staging use?" {
		t.Errorf("stored: %+v", got)
	}
}

// TestSideRequestsGetNoMemory: a request the client makes on its own (a
// Claude Code session title, a one-token quota probe) is neither given
// memories nor written back, and its row says side_request.
func TestSideRequestsGetNoMemory(t *testing.T) {
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "Sessions about staging use port 6543.", nil)
	h := memHarness(t, mem, nil)
	cc := append([]string{"User-Agent", "claude-cli/2.1.332 (external, cli)"}, alice...)
	for _, body := range []string{
		`{"model":"claude","max_tokens":50,"system":[{"type":"text","text":"You are naming a coding session. Reply with a short title."}],"messages":[{"role":"user","content":"<session>staging port question</session>"}]}`,
		`{"model":"claude","max_tokens":1,"messages":[{"role":"user","content":"staging quota"}]}`,
	} {
		resp, out := h.send("/v1/messages", body, cc...)
		if resp.StatusCode != 200 || resp.Header.Get("X-Memproxy-Memories") != "" {
			t.Errorf("%s: %d %v %s", body, resp.StatusCode, resp.Header, out)
		}
	}
	h.stop()
	if n := len(mem.all("u:alice/p:shop")); n != 1 {
		t.Errorf("side requests were written back: %d memories", n)
	}
	for _, r := range h.rows() {
		if r.MemoryStatus != "side_request" {
			t.Errorf("row memory_status %q, want side_request", r.MemoryStatus)
		}
	}
}

// TestClientLeavingAfterTheEndWasAnswered: a client that reads a stream to
// its proper end and leaves at once, before the upstream closes its side
// (Codex does), was answered: its row is a 200 and its turn is remembered.
func TestClientLeavingAfterTheEndWasAnswered(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range []string{`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"All done."},"finish_reason":null}]}`,
			`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
			`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`,
			`[DONE]`} {
			_, _ = io.WriteString(w, "data: "+d+"\n\n")
		}
		w.(http.Flusher).Flush()
		select { // the upstream keeps its side open a while after [DONE]
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer close(release)
	mem := &fakeMemory{}
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n  - model_name: gpt\n    litellm_params: {model: openai/gpt-up, api_base: \"" + up.URL + "/v1\", api_key: k}\n"
	h := &dialectHarness{harness: serveYAML(t, y, nil, func(o *Options) {
		o.Memory = &MemoryOptions{Enabled: true, Backend: mem, BackendName: "fake", WriteBack: "user_only"}
		o.Tools = &ToolOptions{}
	})}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.httpURL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt","stream":true,"messages":[{"role":"user","content":"remember that deploys happen on Fridays"}]}`))
	req.Header.Set("Authorization", "Bearer "+testMaster)
	for i := 0; i < len(alice); i += 2 {
		req.Header.Set(alice[i], alice[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "[DONE]") {
		n, err := resp.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("stream ended before [DONE]: %v %s", err, got.String())
		}
	}
	cancel() // the client leaves as soon as it has the end
	resp.Body.Close()
	rows := h.rows()
	if len(rows) != 1 || rows[0].Status != 200 || rows[0].ErrorType != "" || rows[0].CompletionTokens != 2 {
		t.Fatalf("row of an answered stream: %+v", rows)
	}
	if ms := mem.all("u:alice/p:shop"); len(ms) != 1 || ms[0].Content != "remember that deploys happen on Fridays" {
		t.Errorf("the turn was not remembered: %+v", ms)
	}
}
