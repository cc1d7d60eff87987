package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// OpenAI chunks in the format of OpenAI's API reference ("The chat
// completion chunk object", tool_calls streamed as argument fragments, and
// stream_options.include_usage).
const oaHead = `{"id":"chatcmpl-9xZqF3b2","object":"chat.completion.chunk","created":1718345013,` +
	`"model":"gpt-4.1-2025-04-14","system_fingerprint":"fp_9cb5d38cf7","choices":`

const oaUsage = `{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,` +
	`"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},` +
	`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`

func oaChunk(delta, finish string) string {
	return "data: " + oaHead + `[{"index":0,"delta":` + delta + `,"logprobs":null,"finish_reason":` + finish + `}],"usage":null}` + "\n\n"
}

func oaArgs(i int, frag string) string {
	return oaChunk(fmt.Sprintf(`{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}`, i, quote(frag)), "null")
}

var (
	oaUsageChunk = "data: " + oaHead + `[],"usage":` + oaUsage + "}\n\n"
	oaDone       = "data: [DONE]\n\n"
)

func oaBody(message, finish, usage string) []byte {
	return []byte(`{"id":"chatcmpl-9xZqF3b2","object":"chat.completion","created":1718345013,"model":"gpt-4.1-2025-04-14",` +
		`"choices":[{"index":0,"message":` + message + `,"logprobs":null,"finish_reason":"` + finish + `"}]` + usage + `}`)
}

func openAICases(t *testing.T) []upstreamCase {
	t.Helper()
	f := providertest.NewOpenAI(t)
	post := func(body string) []byte {
		resp, err := http.Post(f.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	fake := upstreamCase{"fake_text",
		post(`{"model":"gpt-x","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`),
		post(`{"model":"gpt-x","messages":[{"role":"user","content":"Hi"}]}`)}
	usage := `,"usage":` + oaUsage
	tools := strings.Join([]string{
		oaChunk(`{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function",`+
			`"function":{"name":"get_weather","arguments":""}}],"refusal":null}`, "null"),
		oaArgs(0, `{"`), oaArgs(0, `location`), oaArgs(0, `":"`), oaArgs(0, `Boston, MA`), oaArgs(0, `"}`),
		oaChunk(`{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"now","arguments":""}}]}`, "null"),
		oaChunk(`{}`, `"tool_calls"`), oaUsageChunk, oaDone}, "")
	toolsBody := oaBody(`{"role":"assistant","content":null,"refusal":null,"tool_calls":[`+
		`{"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Boston, MA\"}"}},`+
		`{"id":"call_2","type":"function","function":{"name":"now","arguments":""}}]}`, "tool_calls", usage)
	textTool := strings.Join([]string{
		oaChunk(`{"role":"assistant","content":"","refusal":null}`, "null"),
		oaChunk(`{"content":"Let me"}`, "null"), oaChunk(`{"content":" look."}`, "null"),
		oaChunk(`{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\": \"x\"}"}}]}`, "null"),
		oaChunk(`{}`, `"tool_calls"`), oaUsageChunk, oaDone}, "")
	textToolBody := oaBody(`{"role":"assistant","content":"Let me look.","tool_calls":[`+
		`{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"x\"}"}}]}`, "tool_calls", usage)
	refusal := strings.Join([]string{
		oaChunk(`{"role":"assistant","content":null,"refusal":""}`, "null"),
		oaChunk(`{"refusal":"I'm sorry"}`, "null"), oaChunk(`{"refusal":", no."}`, "null"),
		oaChunk(`{}`, `"stop"`), oaUsageChunk, oaDone}, "")
	refusalBody := oaBody(`{"role":"assistant","content":null,"refusal":"I'm sorry, no."}`, "stop", usage)
	length := strings.Join([]string{
		oaChunk(`{"role":"assistant","content":""}`, "null"), oaChunk(`{"content":"The answer begins"}`, "null"),
		oaChunk(`{}`, `"length"`), oaDone}, "")
	lengthBody := oaBody(`{"role":"assistant","content":"The answer begins"}`, "length", "")
	crlf := strings.ReplaceAll(textTool, "\n", "\r\n")
	cr := strings.ReplaceAll(tools, "\n", "\r")
	return []upstreamCase{fake,
		{"tools", []byte(tools), toolsBody},
		{"text_tool", []byte(textTool), textToolBody},
		{"refusal", []byte(refusal), refusalBody},
		{"length_no_usage", []byte(length), lengthBody},
		{"crlf", []byte(crlf), textToolBody},
		{"cr", []byte(cr), toolsBody},
	}
}

// foldAnthropic checks the event grammar of a translated Anthropic stream
// (names match types, block indices count up from 0, one block open at a
// time, deltas of the block's kind, message_delta then message_stop last)
// and folds it into the final message, as the SDKs do.
func foldAnthropic(t *testing.T, out []byte) []byte {
	t.Helper()
	evs := parseSSE(t, out)
	var m *anthropic.MessageResponse
	var partial []string
	open, sawDelta := -1, false
	for i, e := range evs {
		var ev anthropic.StreamEvent
		if err := json.Unmarshal([]byte(e.data), &ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.Type != e.name {
			t.Fatalf("event %d: name %q, type %q", i, e.name, ev.Type)
		}
		if (i == 0) != (ev.Type == anthropic.EventMessageStart) || (i == len(evs)-1) != (ev.Type == anthropic.EventMessageStop) {
			t.Fatalf("event %d is %s", i, ev.Type)
		}
		switch ev.Type {
		case anthropic.EventMessageStart:
			m = ev.Message
			if m.Content == nil || len(m.Content) != 0 || m.StopReason != nil {
				t.Fatalf("message_start message = %s", e.data)
			}
		case anthropic.EventContentBlockStart:
			if open >= 0 || ev.Index != len(m.Content) || sawDelta {
				t.Fatalf("event %d: block %d starts with block %d open", i, ev.Index, open)
			}
			open = ev.Index
			m.Content = append(m.Content, *ev.ContentBlock)
			partial = append(partial, "")
		case anthropic.EventContentBlockDelta:
			if ev.Index != open {
				t.Fatalf("event %d: delta for block %d with block %d open", i, ev.Index, open)
			}
			b := &m.Content[open]
			switch {
			case b.Type == anthropic.BlockText && ev.Delta.Type == anthropic.DeltaText:
				b.Text += ev.Delta.Text
			case b.Type == anthropic.BlockToolUse && ev.Delta.Type == anthropic.DeltaInputJSON:
				partial[open] += ev.Delta.PartialJSON
			default:
				t.Fatalf("event %d: %s delta for a %s block", i, ev.Delta.Type, b.Type)
			}
		case anthropic.EventContentBlockStop:
			if ev.Index != open {
				t.Fatalf("event %d: stop for block %d with block %d open", i, ev.Index, open)
			}
			if b := &m.Content[open]; b.Type == anthropic.BlockToolUse {
				b.Input = json.RawMessage(partial[open])
				if partial[open] == "" {
					b.Input = json.RawMessage(`{}`)
				}
			}
			open = -1
		case anthropic.EventMessageDelta:
			if open >= 0 || sawDelta {
				t.Fatalf("event %d: message_delta with block %d open", i, open)
			}
			sawDelta = true
			m.StopReason, m.StopSequence = ev.Delta.StopReason, ev.Delta.StopSequence
			ev.Usage.Apply(&m.Usage)
		case anthropic.EventMessageStop:
			if !sawDelta {
				t.Fatal("message_stop without message_delta")
			}
		default:
			t.Fatalf("event %d: unexpected %s", i, e.data)
		}
	}
	for i := range m.Content {
		m.Content[i].Raw = nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenAIChatToAnthropicStream(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("random slice seed %d", seed)
	mk := func(w io.Writer) Stream { return NewOpenAIChatToAnthropicStream(w, "my-gpt") }
	for _, uc := range openAICases(t) {
		t.Run(uc.name, func(t *testing.T) {
			whole, s, err := translateAll(t, mk, uc.stream, func() int { return len(uc.stream) })
			if err != nil || !s.Done() {
				t.Fatalf("Close = %v, Done = %v\n%s", err, s.Done(), whole)
			}
			checkGolden(t, "testdata/anthropic_openai/stream/"+uc.name+".golden", whole)
			want, usage, err := OpenAIChatResponseToAnthropic(uc.body, "my-gpt")
			if err != nil {
				t.Fatal(err)
			}
			if got := foldAnthropic(t, whole); !jsonEqual(t, got, want) {
				t.Errorf("stream folds to\n%s\nnon-stream translation is\n%s", got, want)
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
			r := rand.New(rand.NewPCG(seed, 1))
			for range 20 {
				got, _, err := translateAll(t, mk, uc.stream, func() int { return 1 + r.IntN(97) })
				if err != nil || !bytes.Equal(got, whole) {
					t.Fatalf("random slices: Close = %v, output differs:\n%s", err, got)
				}
			}
		})
	}
}

// checkCutAnthropic asserts that a translated cut stream ends in an error
// event and never finishes the message.
func checkCutAnthropic(t *testing.T, out []byte) {
	t.Helper()
	evs := parseSSE(t, out)
	if len(evs) == 0 {
		t.Fatal("no output")
	}
	for _, ev := range evs[:len(evs)-1] {
		if ev.name == anthropic.EventMessageDelta || ev.name == anthropic.EventMessageStop || ev.name == anthropic.EventError {
			t.Fatalf("a cut stream shows %s", ev.name)
		}
	}
	last := evs[len(evs)-1]
	want := `{"type":"error","error":{"type":"api_error","message":"upstream stream ended before completion"}}`
	if last.name != "error" || last.data != want {
		t.Fatalf("last event = %+v, want error %s", last, want)
	}
}

func TestOpenAIChatToAnthropicStreamCut(t *testing.T) {
	for _, uc := range openAICases(t) {
		t.Run(uc.name, func(t *testing.T) {
			end := bytes.Index(uc.stream, []byte("data: [DONE]")) + len("data: [DONE]")
			for i := 0; i < end; i++ {
				out, s, err := translateAll(t, func(w io.Writer) Stream { return NewOpenAIChatToAnthropicStream(w, "my-gpt") },
					uc.stream[:i], func() int { return 64 })
				if err != ErrIncomplete || s.Done() {
					t.Fatalf("cut at %d: Close = %v, Done = %v", i, err, s.Done())
				}
				checkCutAnthropic(t, out)
				if t.Failed() {
					t.Fatalf("cut at byte %d of %d", i, len(uc.stream))
				}
			}
		})
	}
}

func TestOpenAIChatToAnthropicStreamCutByFake(t *testing.T) {
	f := providertest.NewOpenAI(t)
	f.CutAfter = 3
	resp, err := http.Post(f.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-x","stream":true,"messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out, s, err := translateAll(t, func(w io.Writer) Stream { return NewOpenAIChatToAnthropicStream(w, "my-gpt") },
		in, func() int { return 5 })
	if err != ErrIncomplete || s.Done() {
		t.Fatalf("Close = %v, Done = %v", err, s.Done())
	}
	checkCutAnthropic(t, out)
	if !strings.Contains(string(out), `"text":" from"`) {
		t.Errorf("the text before the cut was not forwarded:\n%s", out)
	}
}

func TestOpenAIChatToAnthropicStreamErrors(t *testing.T) {
	role := oaChunk(`{"role":"assistant","content":""}`, "null")
	tests := []struct {
		name, in string
		wantLast string // the exact last event
		wantErr  string // in Close's error
	}{
		{"upstream error chunk", role + `data: {"error":{"message":"Rate limit reached","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}` + "\n\n",
			`{"type":"error","error":{"type":"rate_limit_error","message":"Rate limit reached"}}`, "rate_limit_error: Rate limit reached"},
		{"upstream server error", role + `data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}` + "\n\n",
			`{"type":"error","error":{"type":"api_error","message":"boom"}}`, "server_error: boom"},
		{"malformed chunk", role + "data: {\"id\":\n\n",
			`{"type":"error","error":{"type":"api_error","message":"upstream stream could not be translated: malformed chunk: unexpected end of JSON input"}}`,
			"malformed chunk"},
		{"fragment for a closed tool call", oaChunk(`{"tool_calls":[{"index":0,"id":"c0","type":"function","function":{"name":"a","arguments":""}}]}`, "null") +
			oaChunk(`{"tool_calls":[{"index":1,"id":"c1","type":"function","function":{"name":"b","arguments":""}}]}`, "null") + oaArgs(0, `{}`),
			`{"type":"error","error":{"type":"api_error","message":"upstream stream could not be translated: fragment for tool call 0 after its block was closed"}}`,
			"after its block was closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := NewOpenAIChatToAnthropicStream(&out, "my-gpt")
			_, werr := s.Write([]byte(tt.in))
			err := s.Close()
			if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), tt.wantErr) || s.Done() || werr == nil {
				t.Fatalf("Write = %v, Close = %v, Done = %v", werr, err, s.Done())
			}
			evs := parseSSE(t, out.Bytes())
			if last := evs[len(evs)-1]; last.name != "error" || last.data != tt.wantLast {
				t.Errorf("last event\n got %s %s\nwant error %s", last.name, last.data, tt.wantLast)
			}
			if n := strings.Count(out.String(), "event: error"); n != 1 {
				t.Errorf("%d error events, want 1", n)
			}
		})
	}
}
