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

// upstreamCase is an upstream stream and the non-stream body of the same
// answer.
type upstreamCase struct {
	name         string
	stream, body []byte
}

// postAnthropic sends a Messages request to the fake and returns the body
// it got, up to a cut.
func postAnthropic(t testing.TB, f *providertest.Anthropic, stream bool, hdr map[string]string) (int, []byte) {
	t.Helper()
	body := fmt.Sprintf(`{"model":"claude-x","max_tokens":256,"stream":%v,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"Hi"}]}`, stream)
	req, err := http.NewRequest(http.MethodPost, f.URL+"/v1/messages", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("content-type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // a cut stream ends in an error: keep what came
	return resp.StatusCode, b
}

var anthropicHeaders = map[string]string{"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}

func anthropicCases(t *testing.T) []upstreamCase {
	t.Helper()
	f := providertest.NewAnthropic(t)
	get := func(name string, set func()) upstreamCase {
		f.Words, f.ToolCall, f.Thinking = providertest.DefaultWords, nil, nil
		set()
		_, s := postAnthropic(t, f, true, anthropicHeaders)
		_, b := postAnthropic(t, f, false, anthropicHeaders)
		return upstreamCase{name, s, b}
	}
	tool := &providertest.ToolCall{Name: "get_weather", Input: `{"location":"San Francisco, CA","unit":"fahrenheit"}`}
	think := &providertest.Thinking{Text: "The user greets me.", Signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}
	docStream, err := os.ReadFile("testdata/openai_anthropic/stream/docs_tool_use.sse")
	if err != nil {
		t.Fatal(err)
	}
	docBody, err := os.ReadFile("testdata/openai_anthropic/response/tool_use.json")
	if err != nil {
		t.Fatal(err)
	}
	return []upstreamCase{
		get("text", func() {}),
		get("escapes", func() { f.Words = []string{"é \"q\"", " <b>&", "\n\ttab", " \u2028", " 😀", ""} }),
		get("tool", func() { f.ToolCall = tool }),
		get("thinking_text", func() { f.Thinking = think }),
		get("thinking_tool", func() { f.Thinking, f.ToolCall = think, tool }),
		get("tool_no_input", func() { f.ToolCall = &providertest.ToolCall{Name: "now", Input: `{}`} }),
		{"docs_tool_use", docStream, docBody},
	}
}

// openAIAnswer is a chat completion reassembled from its chunks.
type openAIAnswer struct {
	Content *string
	Calls   []openai.ToolCall
	Finish  string
	Usage   *openai.WireUsage
}

// reassembleOpenAI checks the shape of a translated OpenAI stream, chunk
// by chunk, and folds it into the answer it carries.
func reassembleOpenAI(t *testing.T, out []byte, includeUsage bool) openAIAnswer {
	t.Helper()
	evs := parseSSE(t, out)
	if len(evs) < 3 || evs[len(evs)-1].data != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]:\n%s", out)
	}
	var a openAIAnswer
	var content strings.Builder
	sawContent, id := false, ""
	for i, ev := range evs[:len(evs)-1] {
		if ev.name != "" {
			t.Errorf("event %d has a name %q; OpenAI streams have none", i, ev.name)
		}
		var c openai.ChatChunk
		if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		var keys map[string]json.RawMessage
		_ = json.Unmarshal([]byte(ev.data), &keys)
		if id == "" {
			id = c.ID
		}
		if c.ID != id || c.Object != "chat.completion.chunk" || c.Created != created || c.Model != "my-claude" {
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
		if c.Usage != nil {
			t.Errorf("chunk %d: usage on a choice chunk", i)
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
			switch {
			case tc.Index == len(a.Calls):
				if tc.ID == "" || tc.Type != "function" || tc.Function.Name == "" || tc.Function.Arguments != "" {
					t.Errorf("chunk %d: first fragment of call %d = %+v", i, tc.Index, tc)
				}
				a.Calls = append(a.Calls, openai.ToolCall{ID: tc.ID, Type: tc.Type, Function: tc.Function})
			case tc.Index == len(a.Calls)-1 && tc.ID == "" && tc.Function.Name == "":
				a.Calls[tc.Index].Function.Arguments += tc.Function.Arguments
			default:
				t.Errorf("chunk %d: tool call fragment %+v out of order", i, tc)
			}
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

// wantOpenAIAnswer is the non-stream translation of body, in the same form.
func wantOpenAIAnswer(t *testing.T, body []byte) (openAIAnswer, llm.Usage) {
	t.Helper()
	out, usage, err := AnthropicResponseToOpenAIChat(body, "my-claude")
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

func sameAnswer(t *testing.T, got, want openAIAnswer) {
	t.Helper()
	if !reflect.DeepEqual(got.Content, want.Content) || got.Finish != want.Finish || !reflect.DeepEqual(got.Usage, want.Usage) {
		t.Errorf("stream folds to content %v finish %q usage %+v; non-stream %v %q %+v",
			deref(got.Content), got.Finish, got.Usage, deref(want.Content), want.Finish, want.Usage)
	}
	if len(got.Calls) != len(want.Calls) {
		t.Fatalf("stream has %d tool calls, non-stream %d", len(got.Calls), len(want.Calls))
	}
	for i := range got.Calls {
		g, w := got.Calls[i], want.Calls[i]
		if g.ID != w.ID || g.Function.Name != w.Function.Name || !jsonEqual(t, []byte(g.Function.Arguments), []byte(w.Function.Arguments)) {
			t.Errorf("tool call %d = %+v, non-stream %+v", i, g, w)
		}
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func translateAll(t testing.TB, mk func(io.Writer) Stream, in []byte, size func() int) ([]byte, Stream, error) {
	t.Helper()
	var out bytes.Buffer
	s := mk(&out)
	err := feed(t, s, in, size)
	return out.Bytes(), s, err
}

func TestAnthropicToOpenAIChatStream(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("random slice seed %d", seed)
	for _, uc := range anthropicCases(t) {
		for _, inc := range []bool{true, false} {
			mk := func(w io.Writer) Stream { return NewAnthropicToOpenAIChatStream(w, "my-claude", inc) }
			t.Run(fmt.Sprintf("%s/include_usage=%v", uc.name, inc), func(t *testing.T) {
				whole, s, err := translateAll(t, mk, uc.stream, func() int { return len(uc.stream) })
				if err != nil || !s.Done() {
					t.Fatalf("Close = %v, Done = %v\n%s", err, s.Done(), whole)
				}
				if inc {
					checkGolden(t, "testdata/openai_anthropic/stream/"+uc.name+".golden", whole)
				}
				want, usage := wantOpenAIAnswer(t, uc.body)
				if !inc {
					want.Usage = nil
				}
				sameAnswer(t, reassembleOpenAI(t, whole, inc), want)
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

// checkCutOpenAI asserts that a translated cut stream ends in an error
// event and shows no finish.
func checkCutOpenAI(t *testing.T, out []byte, wantCode string) {
	t.Helper()
	evs := parseSSE(t, out)
	if len(evs) == 0 {
		t.Fatal("no output")
	}
	for _, ev := range evs[:len(evs)-1] {
		if ev.data == "[DONE]" || strings.Contains(ev.data, `"finish_reason":"`) || strings.Contains(ev.data, `"error"`) {
			t.Fatalf("a cut stream shows %s", ev.data)
		}
	}
	var e openai.ErrorBody
	if err := json.Unmarshal([]byte(evs[len(evs)-1].data), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("last event is not an error: %s", evs[len(evs)-1].data)
	}
	if code := deref(e.Error.Code); wantCode != "" && code != wantCode {
		t.Errorf("error code = %v, want %s", code, wantCode)
	}
}

func TestAnthropicToOpenAIChatStreamCut(t *testing.T) {
	for _, uc := range anthropicCases(t) {
		t.Run(uc.name, func(t *testing.T) {
			// A prefix is complete once it holds the whole message_stop data.
			end := bytes.Index(uc.stream, []byte(`data: {"type":"message_stop"}`)) + len(`data: {"type":"message_stop"}`)
			for i := 0; i < end; i++ {
				out, s, err := translateAll(t, func(w io.Writer) Stream { return NewAnthropicToOpenAIChatStream(w, "my-claude", true) },
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

func TestAnthropicToOpenAIChatStreamCutByFake(t *testing.T) {
	f := providertest.NewAnthropic(t)
	f.CutAfter = 4
	_, in := postAnthropic(t, f, true, anthropicHeaders)
	out, s, err := translateAll(t, func(w io.Writer) Stream { return NewAnthropicToOpenAIChatStream(w, "my-claude", false) },
		in, func() int { return len(in) })
	if !errors.Is(err, ErrIncomplete) || s.Done() {
		t.Fatalf("Close = %v, Done = %v", err, s.Done())
	}
	checkCutOpenAI(t, out, string(llm.ErrUpstreamCut))
	if !strings.Contains(string(out), `"content":"Hello"`) {
		t.Errorf("the text before the cut was not forwarded:\n%s", out)
	}
}

func TestAnthropicToOpenAIChatStreamErrors(t *testing.T) {
	const start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\"," +
		"\"model\":\"c\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
	tests := []struct {
		name, in string
		wantLast string // the exact last event's data
		wantErr  string // in Close's error
	}{
		{"upstream error event", start + "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
			`{"error":{"message":"Overloaded","type":"overloaded_error","param":null,"code":null}}`, "overloaded_error: Overloaded"},
		{"malformed event", start + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\n\n",
			`{"error":{"message":"upstream stream could not be translated: malformed content_block_delta event: unexpected end of JSON input","type":"server_error","param":null,"code":"upstream_stream_cut"}}`,
			"malformed content_block_delta event"},
		{"delta before message_start", "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
			`{"error":{"message":"upstream stream could not be translated: event before message_start","type":"server_error","param":null,"code":"upstream_stream_cut"}}`,
			"event before message_start"},
		{"json delta to a text block", start + "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n",
			`{"error":{"message":"upstream stream could not be translated: input_json_delta for content block 0, which is not a tool_use","type":"server_error","param":null,"code":"upstream_stream_cut"}}`,
			"not a tool_use"},
		{"nothing at all", "", `{"error":{"message":"upstream stream ended before completion","type":"server_error","param":null,"code":"upstream_stream_cut"}}`,
			"ended before completion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := NewAnthropicToOpenAIChatStream(&out, "my-claude", false)
			_, werr := s.Write([]byte(tt.in))
			err := s.Close()
			if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), tt.wantErr) || s.Done() {
				t.Fatalf("Write = %v, Close = %v, Done = %v", werr, err, s.Done())
			}
			evs := parseSSE(t, out.Bytes())
			if got := evs[len(evs)-1].data; got != tt.wantLast {
				t.Errorf("last event\n got %s\nwant %s", got, tt.wantLast)
			}
			if n := strings.Count(out.String(), `{"error"`); n != 1 {
				t.Errorf("%d error events, want 1", n)
			}
			if _, err := s.Write([]byte(start)); err == nil {
				t.Error("Write after failure succeeded")
			}
		})
	}
}
