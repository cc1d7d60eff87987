package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

const geminiBody = `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"maxOutputTokens":256}}`

// postGemini asks the fake Gemini for its answer, streamed (alt=sse) or
// not, and returns the body it got, up to a cut.
func postGemini(t testing.TB, f *providertest.Gemini, stream bool) []byte {
	t.Helper()
	u := f.URL + "/v1beta/models/gemini-2.5-flash:generateContent"
	if stream {
		u = f.URL + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
	}
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(geminiBody))
	req.Header.Set("x-goog-api-key", "test-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // a cut stream ends in an error: keep what came
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("fake answered %d: %s", resp.StatusCode, b)
	}
	return b
}

func geminiCases(t *testing.T) []upstreamCase {
	t.Helper()
	f := providertest.NewGemini(t)
	get := func(name string, set func()) upstreamCase {
		f.Words, f.ToolCall, f.Thought, f.Signature = providertest.DefaultWords, nil, "", ""
		set()
		return upstreamCase{name, postGemini(t, f, true), postGemini(t, f, false)}
	}
	tool := &providertest.ToolCall{Name: "get_weather", Input: `{"location":"San Francisco, CA","unit":"fahrenheit"}`}
	docStream, err := os.ReadFile("testdata/gemini_stream/parallel_calls.sse")
	if err != nil {
		t.Fatal(err)
	}
	docBody, err := os.ReadFile("testdata/gemini_response/tool_calls.json")
	if err != nil {
		t.Fatal(err)
	}
	return []upstreamCase{
		get("text", func() {}),
		get("escapes", func() { f.Words = []string{"é \"q\"", " <b>&", "\n\ttab", " \u2028", " 😀", ""} }),
		get("no_words", func() { f.Words = nil }),
		get("tool", func() { f.ToolCall = tool }),
		get("thought_text", func() { f.Thought = "The user greets me." }),
		get("thought_tool", func() { f.Thought, f.ToolCall, f.Signature = "Use the tool.", tool, "c2lnbmF0dXJl+/8=" }),
		{"parallel_calls", docStream, docBody},
	}
}

// reassembleGemini checks the shape of a translated stream, chunk by
// chunk, and folds it into the answer it carries. A tool call comes whole
// in one fragment.
func reassembleGemini(t *testing.T, out []byte, includeUsage bool) openAIAnswer {
	t.Helper()
	evs := parseSSE(t, out)
	if len(evs) < 3 || evs[len(evs)-1].data != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]:\n%s", out)
	}
	var a openAIAnswer
	var content strings.Builder
	sawContent, id := false, ""
	for i, ev := range evs[:len(evs)-1] {
		var c openai.ChatChunk
		if err := json.Unmarshal([]byte(ev.data), &c); err != nil || ev.name != "" {
			t.Fatalf("chunk %d (%q): %v", i, ev.name, err)
		}
		var keys map[string]json.RawMessage
		_ = json.Unmarshal([]byte(ev.data), &keys)
		if id == "" {
			id = c.ID
		}
		if c.ID != id || c.Object != "chat.completion.chunk" || c.Created != created || c.Model != "my-gemini" {
			t.Errorf("chunk %d head = %q %q %d %q", i, c.ID, c.Object, c.Created, c.Model)
		}
		if _, has := keys["usage"]; has != includeUsage {
			t.Errorf("chunk %d: has usage key = %v, want %v", i, has, includeUsage)
		}
		if a.Finish != "" && len(c.Choices) > 0 {
			t.Errorf("chunk %d comes after the finish chunk", i)
		}
		if len(c.Choices) == 0 {
			if !includeUsage || c.Usage == nil || i != len(evs)-2 {
				t.Errorf("chunk %d: empty choices without being the last, usage chunk", i)
			}
			a.Usage = c.Usage
			continue
		}
		d := c.Choices[0].Delta
		if (i == 0) != (d.Role == "assistant") {
			t.Errorf("chunk %d: role %q", i, d.Role)
		}
		if d.Content != nil && i > 0 {
			content.WriteString(*d.Content)
			sawContent = true
		}
		for _, tc := range d.ToolCalls {
			if tc.Index != len(a.Calls) || tc.ID == "" || tc.Type != "function" || tc.Function.Name == "" || tc.Function.Arguments == "" {
				t.Errorf("chunk %d: tool call %+v is not whole or out of order", i, tc)
			}
			a.Calls = append(a.Calls, openai.ToolCall{ID: tc.ID, Type: tc.Type, Function: tc.Function})
		}
		if f := c.Choices[0].FinishReason; f != nil {
			a.Finish = *f
		}
	}
	if a.Finish == "" {
		t.Error("no finish chunk")
	}
	if sawContent {
		s := content.String()
		a.Content = &s
	}
	return a
}

// wantGeminiAnswer is the non-stream translation of body, in the same form.
func wantGeminiAnswer(t *testing.T, body []byte) (openAIAnswer, llm.Usage) {
	t.Helper()
	out, usage, err := GeminiResponseToOpenAIChat(body, "my-gemini")
	if err != nil {
		t.Fatal(err)
	}
	var c openai.ChatCompletion
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatal(err)
	}
	m := c.Choices[0].Message
	if m.Content != nil && *m.Content == "" {
		m.Content = nil // a stream says nothing for no text
	}
	return openAIAnswer{m.Content, m.ToolCalls, c.Choices[0].FinishReason, c.Usage}, usage
}

func TestGeminiToOpenAIChatStream(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("random slice seed %d", seed)
	for _, uc := range geminiCases(t) {
		for _, inc := range []bool{true, false} {
			mk := func(w io.Writer) Stream { return NewGeminiToOpenAIChatStream(w, "my-gemini", inc) }
			t.Run(fmt.Sprintf("%s/include_usage=%v", uc.name, inc), func(t *testing.T) {
				whole, s, err := translateAll(t, mk, uc.stream, func() int { return len(uc.stream) })
				if err != nil || !s.Done() {
					t.Fatalf("Close = %v, Done = %v\n%s", err, s.Done(), whole)
				}
				if inc {
					checkGolden(t, "testdata/gemini_stream/"+uc.name+".golden", whole)
				}
				want, usage := wantGeminiAnswer(t, uc.body)
				if !inc {
					want.Usage = nil
				}
				got := reassembleGemini(t, whole, inc)
				sameAnswer(t, got, want)
				if !reflect.DeepEqual(got.Calls, want.Calls) {
					t.Errorf("tool calls %+v, non-stream %+v", got.Calls, want.Calls)
				}
				if s.Usage() != usage {
					t.Errorf("Usage() = %+v, want %+v", s.Usage(), usage)
				}
				for i := 0; i <= len(uc.stream); i++ {
					var out bytes.Buffer
					s := mk(&out)
					_, _ = s.Write(uc.stream[:i])
					_, _ = s.Write(uc.stream[i:])
					if err := s.Close(); err != nil || !bytes.Equal(out.Bytes(), whole) {
						t.Fatalf("split at byte %d: Close = %v, output differs:\n%s", i, err, out.Bytes())
					}
				}
				r := rand.New(rand.NewPCG(seed, 0))
				for range 20 {
					got, _, err := translateAll(t, mk, uc.stream, func() int { return 1 + r.IntN(97) })
					if err != nil || !bytes.Equal(got, whole) {
						t.Fatalf("random slices: Close = %v, output differs:\n%s", err, got)
					}
				}
			})
		}
	}
}

func TestGeminiToOpenAIChatStreamCut(t *testing.T) {
	for _, uc := range geminiCases(t) {
		t.Run(uc.name, func(t *testing.T) {
			// A prefix is complete once it holds the whole line of the
			// event with the finishReason.
			at := bytes.Index(uc.stream, []byte(`"finishReason"`))
			end := at + bytes.IndexAny(uc.stream[at:], "\r\n")
			for i := 0; i < end; i++ {
				out, s, err := translateAll(t, func(w io.Writer) Stream { return NewGeminiToOpenAIChatStream(w, "my-gemini", true) },
					uc.stream[:i], func() int { return 64 })
				if !errors.Is(err, ErrIncomplete) || s.Done() {
					t.Fatalf("cut at %d: Close = %v, Done = %v", i, err, s.Done())
				}
				checkCutOpenAI(t, out, string(llm.ErrUpstreamCut))
				if t.Failed() {
					t.Fatalf("cut at byte %d of %d", i, len(uc.stream))
				}
			}
		})
	}
}

func TestGeminiToOpenAIChatStreamCutByFake(t *testing.T) {
	f := providertest.NewGemini(t)
	f.CutAfter = 2
	in := postGemini(t, f, true)
	out, s, err := translateAll(t, func(w io.Writer) Stream { return NewGeminiToOpenAIChatStream(w, "my-gemini", false) },
		in, func() int { return len(in) })
	if !errors.Is(err, ErrIncomplete) || s.Done() {
		t.Fatalf("Close = %v, Done = %v", err, s.Done())
	}
	checkCutOpenAI(t, out, string(llm.ErrUpstreamCut))
	if !strings.Contains(string(out), `"content":"Hello"`) || !strings.Contains(string(out), `"content":" from"`) {
		t.Errorf("the text before the cut was not forwarded:\n%s", out)
	}
}

func TestGeminiToOpenAIChatStreamEnds(t *testing.T) {
	const ok = `{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0}],"responseId":"r1"}`
	tests := []struct {
		name, in string
		done     bool
		wantLast string // the exact last event's data
		wantErr  string // in Close's error, or in the output when done
	}{
		{"prompt blocked", `data: {"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4},"responseId":"r1"}` + "\n\n",
			true, "[DONE]", `"content":""},"logprobs":null,"finish_reason":null}]}` + "\n\n" +
				`data: {"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1700000000,"model":"my-gemini","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"content_filter"}]}`},
		{"usage-only event", "data: " + ok + "\n\ndata: {\"usageMetadata\":{\"promptTokenCount\":4},\"responseId\":\"r1\"}\n\n" +
			`data: {"candidates":[{"content":{"parts":[{"text":"!"}],"role":"model"},"finishReason":"STOP"}],"responseId":"r1"}` + "\n\n",
			true, "[DONE]", `"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}` + "\n\n" +
				`data: {"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1700000000,"model":"my-gemini","choices":[{"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null}]}`},
		{"upstream error event", "data: " + ok + "\n\ndata: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\n\n",
			false, `{"error":{"message":"The model is overloaded.","type":"api_error","param":null,"code":"UNAVAILABLE"}}`, "UNAVAILABLE: The model is overloaded."},
		{"malformed event", "data: " + ok + "\n\ndata: {\"candidates\":[\n\n", false,
			`{"error":{"message":"upstream stream could not be translated: malformed event: unexpected end of JSON input","type":"server_error","param":null,"code":"upstream_stream_cut"}}`,
			"malformed event"},
		{"inline data part", "data: " + ok + "\n\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"AA==\"}}]}}]}\n\n", false,
			`{"error":{"message":"upstream stream could not be translated: cannot translate candidates[0].content.parts[0]: inlineData parts have no OpenAI chat counterpart","type":"server_error","param":null,"code":"upstream_stream_cut"}}`,
			"inlineData"},
		{"no finish", "data: " + ok + "\n\n", false,
			`{"error":{"message":"upstream stream ended before completion","type":"server_error","param":null,"code":"upstream_stream_cut"}}`, "ended before completion"},
		{"nothing at all", "", false,
			`{"error":{"message":"upstream stream ended before completion","type":"server_error","param":null,"code":"upstream_stream_cut"}}`, "ended before completion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := NewGeminiToOpenAIChatStream(&out, "my-gemini", false)
			_, werr := s.Write([]byte(tt.in))
			err := s.Close()
			if tt.done != (err == nil) || s.Done() != tt.done || (!tt.done && (!errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), tt.wantErr))) {
				t.Fatalf("Write = %v, Close = %v, Done = %v", werr, err, s.Done())
			}
			evs := parseSSE(t, out.Bytes())
			if got := evs[len(evs)-1].data; got != tt.wantLast {
				t.Errorf("last event\n got %s\nwant %s", got, tt.wantLast)
			}
			if tt.done {
				if !strings.Contains(out.String(), tt.wantErr) || s.Usage().PromptTokens != 4 || strings.Count(out.String(), `"finish_reason":"`) != 1 {
					t.Errorf("output lacks %s, or usage %+v is not the last:\n%s", tt.wantErr, s.Usage(), out.String())
				}
				return
			}
			if n := strings.Count(out.String(), `{"error"`); n != 1 {
				t.Errorf("%d error events, want 1", n)
			}
			if _, err := s.Write([]byte("data: " + ok + "\n\n")); err == nil {
				t.Error("Write after failure succeeded")
			}
		})
	}
}

func BenchmarkOpenAIChatToGemini(b *testing.B) {
	in, err := os.ReadFile("testdata/gemini_request/tools.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := OpenAIChatToGemini(in); err != nil {
			b.Fatal(err)
		}
	}
}

// geminiStream200 is an upstream stream of 200 text events and a finish.
func geminiStream200() []byte {
	var sb strings.Builder
	ev := func(text, finish string) {
		sb.WriteString(`data: {"candidates": [{"content": {"parts": [{"text": ` + quote(text) + `}],"role": "model"}` + finish +
			`,"index": 0}],"usageMetadata": {"promptTokenCount": 25,"totalTokenCount": 25},"modelVersion": "gemini-2.5-flash","responseId": "r1"}` + "\r\n\r\n")
	}
	for i := range 200 {
		ev(fmt.Sprintf(` word%d, "quoted"`, i), "")
	}
	ev("", `,"finishReason": "STOP"`)
	return []byte(sb.String())
}

func BenchmarkGeminiToOpenAIChatStream200(b *testing.B) {
	benchStream(b, geminiStream200(), func(w io.Writer) Stream { return NewGeminiToOpenAIChatStream(w, "m", true) })
}
