package mock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider"
)

func do(t *testing.T, ctx context.Context, body string) *provider.Response {
	t.Helper()
	resp, err := Adapter{}.Do(ctx, &provider.Request{Op: provider.OpChat, Body: []byte(body), Stream: strings.Contains(body, `"stream":true`)})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// completionBody is the non-streaming answer, as OpenAI documents it.
type completionBody struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
		TotalTokens      int64 `json:"total_tokens"`
	} `json:"usage"`
}

func TestNonStreamAnswer(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"echo string content, last user message",
			`{"model":"echo","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"first"},` +
				`{"role":"assistant","content":"ok"},{"role":"user","content":"say this back"},{"role":"assistant","content":"later"}]}`,
			"say this back"},
		{"echo array-of-parts content",
			`{"model":"echo","messages":[{"role":"user","content":[{"type":"text","text":"hello "},` +
				`{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":"world"}]}]}`,
			"hello world"},
		{"echo without a user message",
			`{"model":"echo","messages":[{"role":"system","content":"only system"}]}`,
			"This is a mock response from echo."},
		{"echo null content",
			`{"model":"echo","messages":[{"role":"user","content":null}]}`,
			""},
		{"mock_response overrides echo",
			`{"model":"echo","mock_response":"forced","messages":[{"role":"user","content":"ignored"}]}`,
			"forced"},
		{"empty mock_response is still an override",
			`{"model":"gpt-4o","mock_response":"","messages":[{"role":"user","content":"x"}]}`,
			""},
		{"other model: fixed sentence",
			`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
			"This is a mock response from gpt-4o-mini."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, t.Context(), tt.body)
			if resp.Status != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
			}
			raw, _ := io.ReadAll(resp.Body)
			var c completionBody
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatalf("body %s: %v", raw, err)
			}
			var req struct{ Model string }
			_ = json.Unmarshal([]byte(tt.body), &req)
			if c.Object != "chat.completion" || c.Model != req.Model || !strings.HasPrefix(c.ID, "chatcmpl-") || c.Created == 0 {
				t.Errorf("envelope = %s", raw)
			}
			if len(c.Choices) != 1 || c.Choices[0].Message.Role != "assistant" || c.Choices[0].FinishReason != "stop" {
				t.Fatalf("choices = %s", raw)
			}
			if got := c.Choices[0].Message.Content; got != tt.want {
				t.Errorf("content = %q, want %q", got, tt.want)
			}
			u := c.Usage
			if u.CompletionTokens != tokens(tt.want) || u.TotalTokens != u.PromptTokens+u.CompletionTokens || u.PromptTokens < 7 {
				t.Errorf("usage = %+v for answer %q", u, tt.want)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	for s, want := range map[string]int64{"": 0, "a": 1, "abcd": 1, "abcde": 2, "abcdefgh": 2, "abcdefghi": 3} {
		if got := tokens(s); got != want {
			t.Errorf("tokens(%q) = %d, want %d", s, got, want)
		}
	}
	// 3 for the reply framing, 4 per message, plus the text.
	msgs := []message{{Role: "system", Content: json.RawMessage(`"abcd"`)}, {Role: "user", Content: json.RawMessage(`"abcde"`)}}
	if got := promptTokens(msgs); got != 3+4+1+4+2 {
		t.Errorf("promptTokens = %d, want 14", got)
	}
}

// chunkBody is one chat.completion.chunk, with Usage kept raw so that the
// test sees whether "usage" was absent, null or an object.
type chunkBody struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Model   string          `json:"model"`
	Usage   json.RawMessage `json:"usage"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

// readEvents parses an SSE stream into its data payloads, checking the
// framing: only "data: " lines, each event ended by a blank line.
func readEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			return out
		}
		if err != nil {
			t.Fatalf("reading stream: %v (partial line %q)", err, line)
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not a data line", line)
		}
		if blank, _ := br.ReadString('\n'); blank != "\n" {
			t.Fatalf("event %q not followed by a blank line but %q", line, blank)
		}
		out = append(out, strings.TrimSuffix(data, "\n"))
	}
}

func TestStream(t *testing.T) {
	const answer = "the quick  brown fox "
	for _, includeUsage := range []bool{false, true} {
		name := map[bool]string{false: "without usage", true: "with include_usage"}[includeUsage]
		t.Run(name, func(t *testing.T) {
			body := `{"model":"m1","stream":true,"mock_response":"` + answer + `","messages":[{"role":"user","content":"hello there"}]`
			if includeUsage {
				body += `,"stream_options":{"include_usage":true}`
			}
			resp := do(t, t.Context(), body+"}")
			if resp.Status != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" {
				t.Fatalf("status %d, header %v", resp.Status, resp.Header)
			}
			events := readEvents(t, resp.Body)
			if n := len(events); n == 0 || events[n-1] != "[DONE]" {
				t.Fatalf("last event is not [DONE]: %q", events)
			}
			events = events[:len(events)-1]
			var chunks []chunkBody
			for _, ev := range events {
				var c chunkBody
				if err := json.Unmarshal([]byte(ev), &c); err != nil {
					t.Fatalf("event %q: %v", ev, err)
				}
				if c.Object != "chat.completion.chunk" || c.Model != "m1" || c.ID != chunks0ID(chunks, c.ID) {
					t.Errorf("event %q: wrong envelope", ev)
				}
				chunks = append(chunks, c)
			}
			if includeUsage {
				last := chunks[len(chunks)-1]
				if len(last.Choices) != 0 || !strings.Contains(events[len(events)-1], `"choices":[]`) {
					t.Errorf("usage chunk has choices: %s", events[len(events)-1])
				}
				var u struct {
					Prompt     int64 `json:"prompt_tokens"`
					Completion int64 `json:"completion_tokens"`
					Total      int64 `json:"total_tokens"`
				}
				if err := json.Unmarshal(last.Usage, &u); err != nil {
					t.Fatalf("usage %s: %v", last.Usage, err)
				}
				// 3 + (4 + tokens("hello there")=3) = 10; tokens(answer) = (21+3)/4 = 6.
				if u.Prompt != 10 || u.Completion != 6 || u.Total != 16 {
					t.Errorf("usage = %+v, want 10/6/16", u)
				}
				chunks = chunks[:len(chunks)-1]
				events = events[:len(events)-1]
			}
			for i, c := range chunks {
				want := ""
				if includeUsage {
					want = "null"
				}
				if string(c.Usage) != want {
					t.Errorf("chunk %d usage = %q, want %q: %s", i, c.Usage, want, events[i])
				}
				if len(c.Choices) != 1 || c.Choices[0].Index != 0 {
					t.Fatalf("chunk %d choices: %s", i, events[i])
				}
			}
			if c := chunks[0].Choices[0]; c.Delta.Role != "assistant" || c.Delta.Content == nil || *c.Delta.Content != "" {
				t.Errorf("first chunk is not the role chunk: %s", events[0])
			}
			fin := chunks[len(chunks)-1].Choices[0]
			if fin.FinishReason == nil || *fin.FinishReason != "stop" || fin.Delta.Content != nil {
				t.Errorf("last choice chunk is not the finish chunk: %s", events[len(chunks)-1])
			}
			var text strings.Builder
			for i, c := range chunks {
				if i < len(chunks)-1 && c.Choices[0].FinishReason != nil {
					t.Errorf("chunk %d has a finish_reason: %s", i, events[i])
				}
				if c.Choices[0].Delta.Content != nil {
					text.WriteString(*c.Choices[0].Delta.Content)
				}
			}
			if text.String() != answer {
				t.Errorf("concatenated deltas = %q, want %q", text.String(), answer)
			}
			// Role chunk, one per piece ("the ", "quick ", " ", "brown ", "fox "), finish chunk.
			if len(chunks) != 7 {
				t.Errorf("%d choice chunks, want 7", len(chunks))
			}
		})
	}
}

// chunks0ID returns the id every chunk must share: the first chunk's.
func chunks0ID(prev []chunkBody, id string) string {
	if len(prev) == 0 {
		return id
	}
	return prev[0].ID
}

func TestSplitWords(t *testing.T) {
	for _, s := range []string{"", "one", "a b", " lead", "trail ", "two  spaces", "   "} {
		got := splitWords(s)
		if strings.Join(got, "") != s {
			t.Errorf("splitWords(%q) = %q does not join back", s, got)
		}
		for i, w := range got {
			if w == "" || (i < len(got)-1 && !strings.HasSuffix(w, " ")) {
				t.Errorf("splitWords(%q) = %q: piece %d", s, got, i)
			}
		}
	}
}

func TestStreamCancelStopsReader(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	resp := do(t, ctx, `{"model":"m","stream":true,"mock_response":"a b c d e f","messages":[{"role":"user","content":"x"}]}`)
	buf := make([]byte, 4096)
	n, err := resp.Body.Read(buf)
	if err != nil || !bytes.HasPrefix(buf[:n], []byte("data: {")) {
		t.Fatalf("first Read = %q, %v", buf[:n], err)
	}
	cancel()
	for range 3 {
		if n, err := resp.Body.Read(buf); n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("Read after cancel = %d, %v; want 0, context.Canceled", n, err)
		}
	}
}

func TestCancelledBeforeDo(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	resp, err := Adapter{}.Do(ctx, &provider.Request{Op: provider.OpChat, Body: []byte(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)})
	if resp != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Do = %v, %v; want nil, context.Canceled", resp, err)
	}
}

func TestBadRequests(t *testing.T) {
	tests := []struct {
		name, body, msgPrefix string
	}{
		{"empty messages", `{"model":"echo","messages":[]}`, "messages: must contain at least one message"},
		{"missing messages", `{"model":"echo"}`, "messages: must contain at least one message"},
		{"streaming, empty messages", `{"model":"echo","stream":true,"messages":[]}`, "messages: must contain at least one message"},
		{"invalid JSON", `{"model":`, "invalid JSON: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, t.Context(), tt.body)
			if resp.Status != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("status %d, Content-Type %q; want 400 application/json", resp.Status, resp.Header.Get("Content-Type"))
			}
			raw, _ := io.ReadAll(resp.Body)
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("body %s: %v", raw, err)
			}
			if !strings.HasPrefix(e.Error.Message, tt.msgPrefix) || e.Error.Type != "invalid_request_error" ||
				e.Error.Param != nil || e.Error.Code != nil || !bytes.Contains(raw, []byte(`"param":null`)) || !bytes.Contains(raw, []byte(`"code":null`)) {
				t.Errorf("error body = %s", raw)
			}
		})
	}
}

func TestUnsupportedOp(t *testing.T) {
	for _, op := range []string{provider.OpMessages, "", "completions"} {
		resp, err := Adapter{}.Do(t.Context(), &provider.Request{Op: op, Body: []byte(`{}`)})
		if resp != nil || !errors.Is(err, provider.ErrUnsupported) {
			t.Errorf("Do(op %q) = %v, %v; want nil, ErrUnsupported", op, resp, err)
		}
	}
}

// The gateway reads usage from the stream with openai.StreamObserver; the
// mock's stream must satisfy it exactly as a real upstream's does.
func TestStreamThroughObserver(t *testing.T) {
	resp := do(t, t.Context(), `{"model":"echo","stream":true,"stream_options":{"include_usage":true},`+
		`"messages":[{"role":"user","content":"count these words please"}]}`)
	var o openai.StreamObserver
	if _, err := io.Copy(&o, resp.Body); err != nil {
		t.Fatal(err)
	}
	// prompt 3 + 4 + (24+3)/4 = 13; completion (24+3)/4 = 6.
	want := llm.Usage{PromptTokens: 13, CompletionTokens: 6}
	if o.Usage != want || !o.SawUsage || !o.SawDone || o.FinishReason != "stop" {
		t.Errorf("observer = %+v, want usage %+v, done, stop", o, want)
	}
}

func TestEmbeddingsDeterministic(t *testing.T) {
	get := func(input string, extra ...string) []float64 {
		resp, err := Adapter{}.Do(t.Context(), &provider.Request{Op: provider.OpEmbeddings, Body: []byte(`{"model":"e","input":` + input + strings.Join(extra, "") + `}`)})
		if err != nil || resp.Status != 200 {
			t.Fatalf("Do: %v %v", resp, err)
		}
		var e struct {
			Data []struct{ Embedding []float64 }
		}
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || len(e.Data) == 0 {
			t.Fatalf("decode: %v", err)
		}
		return e.Data[0].Embedding
	}
	a, b, c := get(`"hello"`), get(`["hello"]`), get(`"other"`)
	if len(a) != 8 || fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("vectors: %v %v %v", a, b, c)
	}
	if d := get(`"hello"`, `,"dimensions":32`); len(d) != 32 || fmt.Sprint(d[:8]) != fmt.Sprint(a) {
		t.Errorf("dimensions 32: %d values %v; want 32 starting as the 8-value vector", len(d), d)
	}
	resp, err := Adapter{}.Do(t.Context(), &provider.Request{Op: provider.OpEmbeddings, Body: []byte(`{"model":"e","input":"x","dimensions":-1}`)})
	if err != nil || resp.Status != http.StatusBadRequest {
		t.Errorf("dimensions -1: %v %v; want 400", resp, err)
	}
}
