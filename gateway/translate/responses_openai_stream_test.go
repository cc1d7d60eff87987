package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

var weatherCall = &providertest.ToolCall{Name: "get_weather", Input: `{"location":"San Francisco, CA","unit":"fahrenheit"}`}

// postChat sends a chat request to the fake and returns the body it got,
// up to a cut.
func postChat(t testing.TB, f *providertest.OpenAI, stream bool) []byte {
	t.Helper()
	body := `{"model":"gpt-x","messages":[{"role":"user","content":"Hi"}],` +
		`"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]`
	if stream {
		body += `,"stream":true,"stream_options":{"include_usage":true}`
	}
	body += "}"
	resp, err := http.Post(f.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // a cut stream ends in an error: keep what came
	return b
}

// responsesCases are the chat streams of openAICases (documented chunks:
// tools, text then tool, refusal, length, CRLF and CR line ends) and the
// fake's tool call.
func responsesCases(t *testing.T) []upstreamCase {
	f := providertest.NewOpenAI(t)
	f.ToolCall = weatherCall
	return append(openAICases(t), upstreamCase{"fake_tool", postChat(t, f, true), postChat(t, f, false)})
}

func mkResponses(w io.Writer) Stream { return NewOpenAIChatToResponsesStream(w, "my-model") }

func TestOpenAIChatToResponsesStream(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("random slice seed %d", seed)
	for _, uc := range responsesCases(t) {
		t.Run(uc.name, func(t *testing.T) {
			whole, s, err := translateAll(t, mkResponses, uc.stream, func() int { return len(uc.stream) })
			if err != nil || !s.Done() {
				t.Fatalf("Close = %v, Done = %v\n%s", err, s.Done(), whole)
			}
			checkGolden(t, "testdata/responses_openai/stream/"+uc.name+".golden", whole)
			body, usage, err := OpenAIChatResponseToResponses(uc.body, "my-model")
			if err != nil {
				t.Fatal(err)
			}
			var want openai.ResponseObject
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatal(err)
			}
			sameResponse(t, foldResponses(t, whole).final, &want)
			if s.Usage() != usage {
				t.Errorf("Usage() = %+v, want %+v", s.Usage(), usage)
			}
			for i := 0; i <= len(uc.stream); i++ {
				var out bytes.Buffer
				s := mkResponses(&out)
				_, _ = s.Write(uc.stream[:i])
				_, _ = s.Write(uc.stream[i:])
				if err := s.Close(); err != nil || !bytes.Equal(out.Bytes(), whole) {
					t.Fatalf("split at byte %d: Close = %v, output differs:\n%s", i, err, out.Bytes())
				}
			}
			r := rand.New(rand.NewPCG(seed, 2))
			for range 20 {
				got, _, err := translateAll(t, mkResponses, uc.stream, func() int { return 1 + r.IntN(97) })
				if err != nil || !bytes.Equal(got, whole) {
					t.Fatalf("random slices: Close = %v, output differs:\n%s", err, got)
				}
			}
		})
	}
}

// collapse drops repeats of an event type in a row (the deltas).
func collapse(types []string) string {
	var out []string
	for _, t := range types {
		if len(out) == 0 || out[len(out)-1] != t {
			out = append(out, t)
		}
	}
	return strings.Join(out, " ")
}

// TestOpenAIChatToResponsesStreamOrder pins the event order, and checks
// that the text and arguments reassembled from the deltas are the fake
// upstream's.
func TestOpenAIChatToResponsesStreamOrder(t *testing.T) {
	const (
		head    = "response.created response.in_progress "
		message = "response.output_item.added response.content_part.added response.output_text.delta " +
			"response.output_text.done response.content_part.done response.output_item.done "
		call = "response.output_item.added response.function_call_arguments.delta " +
			"response.function_call_arguments.done response.output_item.done "
	)
	f := providertest.NewOpenAI(t)
	text := postChat(t, f, true)
	f.ToolCall = weatherCall
	tool := postChat(t, f, true)
	textTool := []byte(oaChunk(`{"role":"assistant","content":""}`, "null") + oaChunk(`{"content":"Let me"}`, "null") +
		oaChunk(`{"content":" look."}`, "null") +
		oaChunk(`{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":""}}]}`, "null") +
		oaArgs(0, `{"q":`) + oaArgs(0, `"x"}`) +
		oaChunk(`{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"now","arguments":"{}"}}]}`, "null") +
		oaChunk(`{}`, `"tool_calls"`) + oaUsageChunk + oaDone)
	for _, tc := range []struct {
		name       string
		in         []byte
		want       string
		text, args string
	}{
		{"text", text, head + message + "response.completed", f.Answer(), ""},
		{"tool", tool, head + call + "response.completed", "", weatherCall.Input},
		{"text_tool", textTool, head + message + call + call + "response.completed", "Let me look.", `{"q":"x"}{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := translateAll(t, mkResponses, tc.in, func() int { return 1 })
			if err != nil {
				t.Fatal(err)
			}
			got := foldResponses(t, out)
			if c := collapse(got.types); c != tc.want {
				t.Errorf("events\n got %s\nwant %s", c, tc.want)
			}
			if got.text != tc.text || got.args != tc.args {
				t.Errorf("reassembled text %q, arguments %q; want %q, %q", got.text, got.args, tc.text, tc.args)
			}
		})
	}
}

// TestOpenAIChatToResponsesStreamMatchesFake compares the translation of
// the fake chat stream with the fake Responses upstream's stream of the
// same answer: both are built from OpenAI's documentation, separately.
func TestOpenAIChatToResponsesStreamMatchesFake(t *testing.T) {
	f := providertest.NewResponses(t)
	post := func() []byte {
		body := `{"model":"gpt-x","stream":true,"input":"Hi","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]}`
		resp, err := http.Post(f.URL+"/v1/responses", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	for _, call := range []*providertest.ToolCall{nil, weatherCall} {
		f.ToolCall, f.Chat.ToolCall = call, call
		native := foldResponses(t, post())
		out, _, err := translateAll(t, mkResponses, postChat(t, f.Chat, true), func() int { return 7 })
		if err != nil {
			t.Fatal(err)
		}
		translated := foldResponses(t, out)
		if a, b := strings.Join(native.types, " "), strings.Join(translated.types, " "); a != b {
			t.Errorf("event types\n native %s\ntranslated %s", a, b)
		}
		if native.text != translated.text || native.args != translated.args || jsonOf(t, native.final.Usage) != jsonOf(t, translated.final.Usage) {
			t.Errorf("native %+v, translated %+v", native, translated)
		}
		for i, it := range native.final.Output {
			got := translated.final.Output[i]
			it.ID, got.ID, it.CallID, got.CallID = "", "", "", ""
			if !reflect.DeepEqual(jsonOf(t, it), jsonOf(t, got)) {
				t.Errorf("item %d: native %s, translated %s", i, jsonOf(t, it), jsonOf(t, got))
			}
		}
	}
}

// checkCutResponses asserts that a translated cut stream ends with
// response.failed and never shows a terminal success.
func checkCutResponses(t *testing.T, out []byte) {
	t.Helper()
	evs := parseSSE(t, out)
	if len(evs) == 0 {
		t.Fatal("no output")
	}
	for i, ev := range evs {
		var e responsesEvent
		if err := json.Unmarshal([]byte(ev.data), &e); err != nil || e.SequenceNumber == nil || *e.SequenceNumber != int64(i) {
			t.Fatalf("event %d: %s", i, ev.data)
		}
		switch ev.name {
		case openai.ResponsesEventCompleted, openai.ResponsesEventIncomplete, openai.ResponsesEventFailed:
			if i < len(evs)-1 || ev.name != openai.ResponsesEventFailed {
				t.Fatalf("a cut stream shows %s", ev.name)
			}
			r := e.Response
			if r.Status != "failed" || r.Error == nil || r.Error.Code != "server_error" || r.Error.Message != "upstream stream ended before completion" || r.Usage != nil {
				t.Fatalf("last event = %s", ev.data)
			}
			for _, it := range r.Output {
				if it.Status != "completed" && it.Status != "incomplete" {
					t.Fatalf("failed response shows an item that is not done: %s", ev.data)
				}
			}
		}
	}
	if evs[len(evs)-1].name != openai.ResponsesEventFailed {
		t.Fatalf("last event is %s, not response.failed", evs[len(evs)-1].name)
	}
}

func TestOpenAIChatToResponsesStreamCut(t *testing.T) {
	for _, uc := range responsesCases(t) {
		t.Run(uc.name, func(t *testing.T) {
			end := bytes.Index(uc.stream, []byte("data: [DONE]")) + len("data: [DONE]")
			for i := 0; i < end; i++ {
				out, s, err := translateAll(t, mkResponses, uc.stream[:i], func() int { return 64 })
				if err != ErrIncomplete || s.Done() {
					t.Fatalf("cut at %d: Close = %v, Done = %v", i, err, s.Done())
				}
				checkCutResponses(t, out)
			}
		})
	}
}

func TestOpenAIChatToResponsesStreamCutByFake(t *testing.T) {
	f := providertest.NewOpenAI(t)
	f.CutAfter = 3
	in := postChat(t, f, true)
	out, s, err := translateAll(t, mkResponses, in, func() int { return len(in) })
	if !errors.Is(err, ErrIncomplete) || s.Done() {
		t.Fatalf("Close = %v, Done = %v", err, s.Done())
	}
	checkCutResponses(t, out)
	if !strings.Contains(string(out), `"delta":"Hello"`) {
		t.Errorf("the text before the cut was not forwarded:\n%s", out)
	}
}

func TestOpenAIChatToResponsesStreamErrors(t *testing.T) {
	start := oaChunk(`{"role":"assistant","content":""}`, "null") + oaChunk(`{"content":"Hi"}`, "null")
	tests := []struct {
		name, in  string
		wantError string // the last event's response.error
		wantErr   string // in Close's error
	}{
		{"upstream error chunk", start + `data: {"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}` + "\n\n",
			`{"code":"rate_limit_exceeded","message":"Rate limit reached"}`, "requests: Rate limit reached"},
		{"malformed chunk", start + "data: {\"id\":\n\n",
			`{"code":"server_error","message":"upstream stream could not be translated: malformed chunk: unexpected end of JSON input"}`, "malformed chunk"},
		{"fragment after its item closed", start +
			oaChunk(`{"tool_calls":[{"index":0,"id":"c0","type":"function","function":{"name":"a","arguments":""}}]}`, "null") +
			oaChunk(`{"tool_calls":[{"index":1,"id":"c1","type":"function","function":{"name":"b","arguments":""}}]}`, "null") + oaArgs(0, "{}"),
			`{"code":"server_error","message":"upstream stream could not be translated: fragment for tool call 0 after its item was closed"}`, "after its item"},
		{"nothing at all", "", `{"code":"server_error","message":"upstream stream ended before completion"}`, "ended before completion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := mkResponses(&out)
			_, werr := s.Write([]byte(tt.in))
			err := s.Close()
			if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), tt.wantErr) || s.Done() {
				t.Fatalf("Write = %v, Close = %v, Done = %v", werr, err, s.Done())
			}
			evs := parseSSE(t, out.Bytes())
			var last responsesEvent
			if err := json.Unmarshal([]byte(evs[len(evs)-1].data), &last); err != nil || last.Type != openai.ResponsesEventFailed {
				t.Fatalf("last event %s", evs[len(evs)-1].data)
			}
			if got := jsonOf(t, last.Response.Error); got != tt.wantError {
				t.Errorf("error\n got %s\nwant %s", got, tt.wantError)
			}
			if n := strings.Count(out.String(), "event: response.failed"); n != 1 {
				t.Errorf("%d response.failed events, want 1", n)
			}
			if _, err := s.Write([]byte(start)); err == nil {
				t.Error("Write after failure succeeded")
			}
		})
	}
}

// chained is an Anthropic stream translated to chat chunks, and those to
// Responses events, as the gateway chains them for an Anthropic
// deployment.
type chained struct{ inner, outer Stream }

func newChained(w io.Writer) Stream {
	outer := mkResponses(w)
	return chained{NewAnthropicToOpenAIChatStream(outer, "my-model", true), outer}
}

func (c chained) Write(p []byte) (int, error) { return c.inner.Write(p) }
func (c chained) Close() error {
	err := c.inner.Close()
	return errors.Join(err, c.outer.Close())
}
func (c chained) Usage() llm.Usage { return c.outer.Usage() }
func (c chained) Done() bool       { return c.outer.Done() }

// TestAnthropicThroughChatToResponses chains the stream translators for an
// Anthropic deployment and checks the result against the chained
// non-stream translations; a cut stream still ends in response.failed.
func TestAnthropicThroughChatToResponses(t *testing.T) {
	for _, uc := range anthropicCases(t) {
		t.Run(uc.name, func(t *testing.T) {
			out, s, err := translateAll(t, newChained, uc.stream, func() int { return 13 })
			if err != nil || !s.Done() {
				t.Fatalf("Close = %v, Done = %v\n%s", err, s.Done(), out)
			}
			chat, _, err := AnthropicResponseToOpenAIChat(uc.body, "my-model")
			if err != nil {
				t.Fatal(err)
			}
			body, usage, err := OpenAIChatResponseToResponses(chat, "my-model")
			if err != nil {
				t.Fatal(err)
			}
			var want openai.ResponseObject
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatal(err)
			}
			got := foldResponses(t, out).final
			sameResponse(t, got, &want)
			if s.Usage() != usage {
				t.Errorf("Usage() = %+v, want %+v", s.Usage(), usage)
			}
			cut, s, err := translateAll(t, newChained, uc.stream[:len(uc.stream)/2], func() int { return 13 })
			if !errors.Is(err, ErrIncomplete) || s.Done() {
				t.Fatalf("cut: Close = %v, Done = %v", err, s.Done())
			}
			evs := parseSSE(t, cut)
			if last := evs[len(evs)-1]; last.name != openai.ResponsesEventFailed || strings.Count(string(cut), "event: response.failed") != 1 {
				t.Fatalf("cut stream ends with %s", last.data)
			}
		})
	}
}

func BenchmarkOpenAIChatToResponsesStream200(b *testing.B) {
	benchStream(b, openAIStream200(), mkResponses)
}

func ExampleNewOpenAIChatToResponsesStream() {
	var out bytes.Buffer
	s := NewOpenAIChatToResponsesStream(&out, "my-model")
	_, _ = s.Write([]byte(oaChunk(`{"content":"Hi"}`, "null") + oaChunk(`{}`, `"stop"`) + oaDone))
	fmt.Println(s.Close(), s.Done())
	for _, line := range strings.Split(out.String(), "\n") {
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			fmt.Println(name)
		}
	}
	// Output:
	// <nil> true
	// response.created
	// response.in_progress
	// response.output_item.added
	// response.content_part.added
	// response.output_text.delta
	// response.output_text.done
	// response.content_part.done
	// response.output_item.done
	// response.completed
}
