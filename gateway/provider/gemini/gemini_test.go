package gemini

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	apigemini "github.com/memproxy/memproxy/gateway/api/gemini"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
	"github.com/memproxy/memproxy/gateway/translate"
)

const body = `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}`

func do(t *testing.T, ctx context.Context, a *Adapter, req *provider.Request) (*provider.Response, []byte) {
	t.Helper()
	resp, err := a.Do(ctx, req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestRequestToUpstream(t *testing.T) {
	tests := []struct {
		name     string
		base     string // appended to the fake's URL
		model    string
		stream   bool
		wantPath string
	}{
		{"generate", "/v1beta", "gemini-2.5-flash", false, "/v1beta/models/gemini-2.5-flash:generateContent"},
		{"stream", "/v1beta/", "gemini-2.5-flash", true, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"},
		{"models prefix", "/v1beta", "models/gemini-3-pro-preview", true, "/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := providertest.NewGemini(t)
			a := New(Options{BaseURL: f.URL + tt.base, Model: tt.model, APIKey: "AIza-test",
				Header: http.Header{"X-Supermemory-Api-Key": {"sm-key"}, "X-Both": {"operator"}}})
			caller := http.Header{"Authorization": {"Bearer client-key-for-the-gateway"}, "X-Goog-Api-Key": {"client-supplied"},
				"X-Both": {"caller"}, "X-Caller": {"c"}}
			resp, b := do(t, t.Context(), a, &provider.Request{Op: provider.OpChat, Body: []byte(body), Stream: tt.stream, Header: caller})
			if resp.Status != 200 {
				t.Fatalf("status %d: %s", resp.Status, b)
			}
			if ct := resp.Header.Get("Content-Type"); tt.stream != (ct == "text/event-stream") {
				t.Errorf("Content-Type %q for stream=%v", ct, tt.stream)
			}
			reqs := f.Requests()
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests", len(reqs))
			}
			r := reqs[0]
			if r.Path != tt.wantPath {
				t.Errorf("path %q, want %q", r.Path, tt.wantPath)
			}
			if strings.Contains(r.Path, "key=") || strings.Contains(r.Path, "AIza") {
				t.Errorf("the API key is in the URL: %s", r.Path)
			}
			want := map[string][]string{
				"X-Goog-Api-Key": {"AIza-test"}, "Authorization": nil, "X-Supermemory-Api-Key": {"sm-key"},
				"X-Both": {"operator"}, "X-Caller": {"c"}, "Content-Type": {"application/json"},
			}
			for k, v := range want {
				if got := r.Header[k]; strings.Join(got, ",") != strings.Join(v, ",") {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if r.Body["contents"] == nil {
				t.Errorf("body not passed: %v", r.Body)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	a := New(Options{Model: "m"})
	if a.base != DefaultBaseURL {
		t.Errorf("base %q, want %q", a.base, DefaultBaseURL)
	}
	f := providertest.NewGemini(t)
	noKey := New(Options{BaseURL: f.URL + "/v1beta", Model: "m", Header: http.Header{"X-Router-Key": {"r"}}})
	resp, b := do(t, t.Context(), noKey, &provider.Request{Op: provider.OpChat, Body: []byte(body)})
	if msg, status, ok := apigemini.ParseError(b); resp.Status != 403 || !ok || status != "PERMISSION_DENIED" || msg == "" {
		t.Errorf("without a key: %d %s", resp.Status, b)
	}
	if h := f.Requests()[0].Header; h.Get("X-Goog-Api-Key") != "" || h.Get("X-Router-Key") != "r" {
		t.Errorf("headers without a key: %v", h)
	}
}

func TestRefusals(t *testing.T) {
	a := New(Options{BaseURL: "http://127.0.0.1:1", Model: "m"})
	for _, op := range []string{provider.OpMessages, provider.OpEmbeddings, provider.OpResponses, provider.OpCountTokens} {
		if _, err := a.Do(t.Context(), &provider.Request{Op: op, Body: []byte(body)}); !errors.Is(err, provider.ErrUnsupported) {
			t.Errorf("op %s: err = %v, want ErrUnsupported", op, err)
		}
	}
	for _, op := range []string{provider.OpEmbedContent, provider.OpBatchEmbedContents} {
		if _, err := a.Do(t.Context(), &provider.Request{Op: op, Body: []byte(body), Stream: true}); !errors.Is(err, provider.ErrUnsupported) {
			t.Errorf("streamed %s: err = %v, want ErrUnsupported (embeddings do not stream)", op, err)
		}
	}
	noModel := New(Options{BaseURL: "http://127.0.0.1:1"})
	if _, err := noModel.Do(t.Context(), &provider.Request{Op: provider.OpChat, Body: []byte(body)}); !errors.Is(err, ErrNoModel) {
		t.Errorf("no model: err = %v", err)
	}
}

// Gemini's errors come back as they are, for the gateway to map.
func TestUpstreamError(t *testing.T) {
	f := providertest.NewGemini(t)
	a := New(Options{BaseURL: f.URL + "/v1beta", Model: "m", APIKey: "k"})
	f.Status = http.StatusTooManyRequests
	resp, b := do(t, t.Context(), a, &provider.Request{Op: provider.OpChat, Body: []byte(body), Stream: true})
	if msg, status, ok := apigemini.ParseError(b); resp.Status != 429 || !ok || status != "RESOURCE_EXHAUSTED" || msg != "fake upstream failure" {
		t.Errorf("%d %s", resp.Status, b)
	}
	f.Status = 0
	resp, b = do(t, t.Context(), a, &provider.Request{Op: provider.OpChat, Body: []byte(`{"model":"m","messages":[]}`)})
	if msg, status, ok := apigemini.ParseError(b); resp.Status != 400 || !ok || status != "INVALID_ARGUMENT" || !strings.Contains(msg, `Unknown name "messages"`) {
		t.Errorf("an OpenAI body: %d %s", resp.Status, b)
	}
}

// TestCancel checks that cancelling the request's context ends the call
// mid-stream, and the upstream sees its client leave.
func TestCancel(t *testing.T) {
	f := providertest.NewGemini(t)
	f.Hold = make(chan struct{})
	defer close(f.Hold)
	a := New(Options{BaseURL: f.URL + "/v1beta", Model: "m", APIKey: "k"})
	ctx, cancel := context.WithCancel(t.Context())
	resp, err := a.Do(ctx, &provider.Request{Op: provider.OpChat, Body: []byte(body), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, `data: {"candidates"`) {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	select {
	case <-f.Cancelled():
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream did not see the call end")
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("reading a cancelled stream succeeded")
	}
}

// TestEndToEnd runs an OpenAI request through the translation, the
// adapter and the fake, streamed and not, and back.
func TestEndToEnd(t *testing.T) {
	f := providertest.NewGemini(t)
	a := New(Options{BaseURL: f.URL + "/v1beta", Model: "gemini-2.5-flash", APIKey: "k"})
	in, err := translate.OpenAIChatToGemini([]byte(`{"model":"my-gemini","stream":true,"stream_options":{"include_usage":true},` +
		`"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":64}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, b := do(t, t.Context(), a, &provider.Request{Op: provider.OpChat, Body: in})
	out, usage, err := translate.GeminiResponseToOpenAIChat(b, "my-gemini")
	if err != nil || resp.Status != 200 || !strings.Contains(string(out), `"content":"Hello from the fake upstream."`) {
		t.Fatalf("non-stream: %d %s %v", resp.Status, out, err)
	}
	if usage.PromptTokens != providertest.PromptTokens || usage.CompletionTokens != providertest.CompletionTokens || usage.CachedTokens != providertest.CachedTokens {
		t.Errorf("usage %+v", usage)
	}
	resp, err = a.Do(t.Context(), &provider.Request{Op: provider.OpChat, Body: in, Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	s := translate.NewGeminiToOpenAIChatStream(&buf, "my-gemini", true)
	if _, err := io.Copy(s, resp.Body); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil || s.Usage() != usage {
		t.Fatalf("stream: Close = %v, usage %+v\n%s", err, s.Usage(), buf.Bytes())
	}
	var text strings.Builder
	for _, word := range providertest.DefaultWords {
		if !strings.Contains(buf.String(), `"delta":{"content":"`+word+`"}`) {
			t.Errorf("word %q missing from the stream", word)
		}
		text.WriteString(word)
	}
	if !strings.HasSuffix(buf.String(), "data: [DONE]\n\n") || f.Answer() != text.String() {
		t.Errorf("stream:\n%s", buf.Bytes())
	}
}
