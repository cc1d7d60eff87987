package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/llm"
)

// streamSpec describes a chat-completion stream in the format of OpenAI's
// API reference ("The chat completion chunk object", and stream_options
// include_usage: every chunk carries "usage":null and a last chunk with empty
// choices carries the usage).
type streamSpec struct {
	words        []string
	finish       string // finish_reason of the last choice chunk; "" for none
	includeUsage bool
	done         bool   // end with data: [DONE]
	eol          string // line ending, "\n" by default
}

const chunkHead = `{"id":"chatcmpl-9xZqF3b2","object":"chat.completion.chunk","created":1718345013,` +
	`"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_9cb5d38cf7","choices":`

const wireUsage = `{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,` +
	`"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},` +
	`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`

var wantUsage = llm.Usage{PromptTokens: 1117, CompletionTokens: 46, CachedTokens: 1024}

func (s streamSpec) events() []string {
	eol := s.eol
	if eol == "" {
		eol = "\n"
	}
	usageNull := ""
	if s.includeUsage {
		usageNull = `,"usage":null`
	}
	ev := func(data string) string { return "data: " + data + eol + eol }
	choice := func(delta, finish string) string {
		return ev(chunkHead + `[{"index":0,"delta":` + delta + `,"logprobs":null,"finish_reason":` + finish + `}]` + usageNull + `}`)
	}
	out := []string{choice(`{"role":"assistant","content":"","refusal":null}`, "null")}
	for _, w := range s.words {
		out = append(out, choice(`{"content":`+quote(w)+`}`, "null"))
	}
	if s.finish != "" {
		out = append(out, choice(`{}`, quote(s.finish)))
	}
	if s.includeUsage {
		out = append(out, ev(chunkHead+`[],"usage":`+wireUsage+`}`))
	}
	if s.done {
		out = append(out, ev("[DONE]"))
	}
	return out
}

func (s streamSpec) bytes() []byte { return []byte(strings.Join(s.events(), "")) }

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

var words = []string{"The", " \"finish_reason\"", " field", " says", " why:", " usage", " \\n", " ends", " it", "."}

// observe feeds b to a fresh observer in slices of the sizes size returns.
func observe(t testing.TB, b []byte, size func() int) *StreamObserver {
	t.Helper()
	var o StreamObserver
	in, orig := b, bytes.Clone(b)
	for len(b) > 0 {
		n := min(size(), len(b))
		if got, err := o.Write(b[:n]); got != n || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v", n, got, err)
		}
		b = b[n:]
	}
	if !bytes.Equal(in, orig) {
		t.Fatal("Write modified its input")
	}
	return &o
}

type want struct {
	usage    llm.Usage
	sawUsage bool
	done     bool
	finish   string
}

func checkObserver(t *testing.T, o *StreamObserver, w want) {
	t.Helper()
	if o.Usage != w.usage || o.SawUsage != w.sawUsage || o.SawDone != w.done || o.FinishReason != w.finish {
		t.Errorf("observer = {Usage:%+v SawUsage:%v SawDone:%v FinishReason:%q}, want {Usage:%+v SawUsage:%v SawDone:%v FinishReason:%q}",
			o.Usage, o.SawUsage, o.SawDone, o.FinishReason, w.usage, w.sawUsage, w.done, w.finish)
	}
}

func TestStreamObserverSlices(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("random slice seed %d", seed)
	tests := []struct {
		name string
		spec streamSpec
		want want
	}{
		{"usage and done", streamSpec{words: words, finish: "stop", includeUsage: true, done: true},
			want{wantUsage, true, true, "stop"}},
		{"CRLF", streamSpec{words: words, finish: "length", includeUsage: true, done: true, eol: "\r\n"},
			want{wantUsage, true, true, "length"}},
		{"no usage asked", streamSpec{words: words, finish: "stop", done: true},
			want{llm.Usage{}, false, true, "stop"}},
		{"no DONE", streamSpec{words: words, finish: "stop", includeUsage: true},
			want{wantUsage, true, false, "stop"}},
		{"no finish, no DONE", streamSpec{words: words[:3]},
			want{llm.Usage{}, false, false, ""}},
	}
	for _, tt := range tests {
		stream := tt.spec.bytes()
		t.Run(tt.name+"/whole", func(t *testing.T) {
			checkObserver(t, observe(t, stream, func() int { return len(stream) }), tt.want)
		})
		t.Run(tt.name+"/events", func(t *testing.T) {
			var o StreamObserver
			for _, ev := range tt.spec.events() {
				_, _ = o.Write([]byte(ev))
			}
			checkObserver(t, &o, tt.want)
		})
		for _, size := range []int{1, 7} {
			t.Run(fmt.Sprintf("%s/%d-byte", tt.name, size), func(t *testing.T) {
				checkObserver(t, observe(t, stream, func() int { return size }), tt.want)
			})
		}
		t.Run(tt.name+"/random", func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0))
			for range 20 {
				checkObserver(t, observe(t, stream, func() int { return 1 + r.IntN(64) }), tt.want)
			}
		})
		t.Run(tt.name+"/every-boundary", func(t *testing.T) {
			t.Parallel()
			for i := 0; i <= len(stream); i++ {
				var o StreamObserver
				_, _ = o.Write(stream[:i])
				_, _ = o.Write(stream[i:])
				checkObserver(t, &o, tt.want)
				if t.Failed() {
					t.Fatalf("failed with the split at byte %d of %d", i, len(stream))
				}
			}
		})
	}
}

func TestStreamObserverLines(t *testing.T) {
	usageLine := "data: " + chunkHead + `[],"usage":` + wireUsage + "}\n"
	tests := []struct {
		name   string
		stream string
		want   want
	}{
		{"data without a space", "data:" + chunkHead + `[],"usage":` + wireUsage + "}\n\ndata:[DONE]\n\n",
			want{wantUsage, true, true, ""}},
		{"comments, event and id lines ignored", ": keep-alive\n\nevent: message\nid: 7\n" + usageLine + "\n: [DONE]\n\n",
			want{wantUsage, true, false, ""}},
		{"DONE cut before its newline is not seen", usageLine + "\ndata: [DONE]",
			want{wantUsage, true, false, ""}},
		{"malformed JSON skipped", `data: {"usage":{"prompt_tokens":` + "\n\n" + usageLine + "\n",
			want{wantUsage, true, false, ""}},
		{"usage:null after usage keeps it", usageLine + "\n" + "data: " + chunkHead + `[],"usage":null}` + "\n\n",
			want{wantUsage, true, false, ""}},
		{"usage without details", "data: " + chunkHead + `[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}` + "\n\n",
			want{llm.Usage{PromptTokens: 3, CompletionTokens: 4}, true, false, ""}},
		{"two choices, last finish wins", "data: " + chunkHead +
			`[{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{},"finish_reason":"length"}]}` + "\n\n",
			want{llm.Usage{}, false, false, "length"}},
		{"finish_reason with a space before null", "data: " + chunkHead + `[{"index":0,"delta":{"content":"x"},"finish_reason": null}]}` + "\n\n",
			want{llm.Usage{}, false, false, ""}},
		{"tool_calls finish", "data: " + chunkHead + `[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}` + "\n\n",
			want{llm.Usage{}, false, false, "tool_calls"}},
		{"error event", string(MarshalStreamError("api_error", "stream_cut", "upstream went away")),
			want{llm.Usage{}, false, false, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkObserver(t, observe(t, []byte(tt.stream), func() int { return len(tt.stream) }), tt.want)
			checkObserver(t, observe(t, []byte(tt.stream), func() int { return 1 }), tt.want)
		})
	}
}

// A line of several MiB (an echoed large prompt, a Responses
// response.completed repeating a long answer) is read like any other: the
// observer never skips a line. Over-long lines are sse's to refuse
// (gateway/api/sse tests).
func TestStreamObserverReadsLongLines(t *testing.T) {
	spec := streamSpec{words: words, finish: "stop", includeUsage: true, done: true}
	ev := spec.events()
	huge := "data: " + chunkHead + `[{"index":0,"delta":{"content":"` + strings.Repeat("a", 3<<20) +
		`"},"finish_reason":"content_filter"}],"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}}` + "\n\n"
	// The huge line sits before the finish chunk; it and what follows are read.
	stream := []byte(strings.Join(ev[:3], "") + huge + strings.Join(ev[3:], ""))
	w := want{wantUsage, true, true, "stop"}
	for _, size := range []int{len(stream), 7, 1 << 16} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			checkObserver(t, observe(t, stream, func() int { return size }), w)
		})
	}
	t.Run("1-byte", func(t *testing.T) {
		checkObserver(t, observe(t, stream, func() int { return 1 }), w)
	})
	// The line that is too long is the last thing in a Write; the next
	// Write starts with its newline.
	t.Run("newline in the next write", func(t *testing.T) {
		var o StreamObserver
		i := bytes.Index(stream, []byte(huge)) + len(huge) - 2
		_, _ = o.Write(stream[:i])
		_, _ = o.Write(stream[i:])
		checkObserver(t, &o, w)
	})
}

func TestUsageOf(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		want  llm.Usage
		found bool
	}{
		{"completion", `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,` +
			`"message":{"role":"assistant","content":"hi"},"logprobs":null,"finish_reason":"stop"}],"usage":` + wireUsage + `}`,
			wantUsage, true},
		{"no details", `{"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}`,
			llm.Usage{PromptTokens: 10, CompletionTokens: 2}, true},
		{"null details", `{"usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_tokens_details":null}}`,
			llm.Usage{PromptTokens: 10, CompletionTokens: 2}, true},
		{"zero usage", `{"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}`, llm.Usage{}, true},
		{"no usage", `{"id":"x","choices":[]}`, llm.Usage{}, false},
		{"null usage", `{"usage":null}`, llm.Usage{}, false},
		{"not JSON", `<html>502 Bad Gateway</html>`, llm.Usage{}, false},
		{"empty", ``, llm.Usage{}, false},
		{"wrong type", `{"usage":{"prompt_tokens":"ten"}}`, llm.Usage{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := UsageOf([]byte(tt.body))
			if got != tt.want || ok != tt.found {
				t.Errorf("UsageOf = %+v, %v; want %+v, %v", got, ok, tt.want, tt.found)
			}
		})
	}
}

// benchStream is a typical answer: 200 content chunks of a few words.
func benchStream(includeUsage bool) [][]byte {
	ws := make([]string, 200)
	for i := range ws {
		ws[i] = fmt.Sprintf(" token%d", i)
	}
	var out [][]byte
	for _, e := range (streamSpec{words: ws, finish: "stop", includeUsage: includeUsage, done: true}).events() {
		out = append(out, []byte(e))
	}
	return out
}

func BenchmarkStreamObserverWrite(b *testing.B) {
	for _, inc := range []bool{false, true} {
		b.Run(fmt.Sprintf("include_usage=%v", inc), func(b *testing.B) {
			events := benchStream(inc)
			var n int64
			for _, e := range events {
				n += int64(len(e))
			}
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				var o StreamObserver
				for _, e := range events {
					_, _ = o.Write(e)
				}
				if !o.SawDone || o.FinishReason != "stop" {
					b.Fatal("stream not observed")
				}
			}
		})
	}
}
