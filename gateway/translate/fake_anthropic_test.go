package translate

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// The fake Anthropic upstream is tested here, where its answers are used:
// its replies must be what the translators expect of the real API.

func TestFakeAnthropicErrors(t *testing.T) {
	f := providertest.NewAnthropic(t)
	tests := []struct {
		name    string
		hdr     map[string]string
		status  int
		setup   func()
		wantTyp string
	}{
		{"no api key", map[string]string{"anthropic-version": "2023-06-01"}, 401, nil, "authentication_error"},
		{"no version", map[string]string{"x-api-key": "k"}, 400, nil, "invalid_request_error"},
		{"configured failure", anthropicHeaders, 529, func() { f.Status = 529 }, "api_error"},
		{"configured body", anthropicHeaders, 529, func() {
			f.Status, f.ErrorBody = 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
		}, "overloaded_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.Status, f.ErrorBody = 0, ""
			if tt.setup != nil {
				tt.setup()
			}
			status, body := postAnthropic(t, f, false, tt.hdr)
			var e anthropic.ErrorBody
			if err := json.Unmarshal(body, &e); err != nil || status != tt.status || e.Type != "error" || e.Error.Type != tt.wantTyp || e.Error.Message == "" {
				t.Fatalf("status %d body %s, want %d and an Anthropic %s", status, body, tt.status, tt.wantTyp)
			}
		})
	}
	if n := len(f.Requests()); n != len(tests) {
		t.Errorf("Requests() has %d, want %d", n, len(tests))
	}
	if got := f.Requests()[0].Body["max_tokens"]; got != float64(256) {
		t.Errorf("recorded max_tokens = %v", got)
	}
}

func TestFakeAnthropicNonStream(t *testing.T) {
	f := providertest.NewAnthropic(t)
	f.Thinking = &providertest.Thinking{Text: "hmm", Signature: "sig"}
	_, body := postAnthropic(t, f, false, anthropicHeaders)
	want := `{"id":"msg_01FakeUpstream","type":"message","role":"assistant","model":"claude-x","content":[` +
		`{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":"Hello from the fake upstream."}],` +
		`"stop_reason":"end_turn","stop_sequence":null,` +
		`"usage":{"input_tokens":8,"cache_creation_input_tokens":0,"cache_read_input_tokens":3,"output_tokens":5}}`
	if string(body) != want {
		t.Errorf("body\n got %s\nwant %s", body, want)
	}
	_, u, err := AnthropicResponseToOpenAIChat(body, "m")
	if want := (llm.Usage{PromptTokens: providertest.PromptTokens, CompletionTokens: providertest.CompletionTokens,
		CachedTokens: providertest.CachedTokens}); err != nil || u != want {
		t.Errorf("usage = %+v, %v; want %+v", u, err, want)
	}
}

// TestFakeAnthropicHold checks that a held stream stops after its first
// content_block_delta and notices its client leaving.
func TestFakeAnthropicHold(t *testing.T) {
	f := providertest.NewAnthropic(t)
	f.Hold = make(chan struct{})
	defer close(f.Hold)
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.URL+"/v1/messages",
		strings.NewReader(`{"model":"c","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"Hi"}]}`))
	req.Header.Set("x-api-key", "k")
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	var names []string
	for len(names) == 0 || names[len(names)-1] != "content_block_delta" {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %v: %v", names, err)
		}
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "event: "); ok {
			names = append(names, name)
		}
	}
	if got := strings.Join(names, ","); got != "message_start,content_block_start,ping,content_block_delta" {
		t.Errorf("events before the hold = %s", got)
	}
	cancel()
	select {
	case <-f.Cancelled():
	case <-time.After(10 * time.Second):
		t.Fatal("the fake did not notice the client leaving")
	}
}
