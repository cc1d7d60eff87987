package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/memory"
)

// Chunks of an OpenAI chat-completion stream, written as the API documents
// them (https://platform.openai.com/docs/api-reference/chat-streaming):
// one "data: {json}\n\n" event per chunk, a finish chunk, the include_usage
// chunk with empty choices, then "data: [DONE]".

func chunk(id, delta, finish string) string {
	if finish == "" {
		finish = "null"
	} else {
		finish = strconv.Quote(finish)
	}
	return `data: {"id":"chatcmpl-` + id + `","object":"chat.completion.chunk","created":1700000000,` +
		`"model":"gpt-test","system_fingerprint":"fp_1","choices":[{"index":0,"delta":` + delta +
		`,"logprobs":null,"finish_reason":` + finish + `}],"usage":null}` + "\n\n"
}

func roleChunk(id string) string {
	return chunk(id, `{"role":"assistant","content":"","refusal":null}`, "")
}

func textChunk(id, text string) string { return chunk(id, `{"content":`+strconv.Quote(text)+`}`, "") }

// callStart opens tool call index with its id and name and empty arguments.
func callStart(id string, index int, callID, name string) string {
	return chunk(id, fmt.Sprintf(`{"tool_calls":[{"index":%d,"id":%q,"type":"function","function":{"name":%q,"arguments":""}}]}`,
		index, callID, name), "")
}

// callArgs is an arguments fragment of tool call index.
func callArgs(id string, index int, args string) string {
	return chunk(id, fmt.Sprintf(`{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}`, index, strconv.Quote(args)), "")
}

func finishChunk(id, reason string) string { return chunk(id, `{}`, reason) }

func usageChunk(id string, prompt, completion int) string {
	return `data: {"id":"chatcmpl-` + id + `","object":"chat.completion.chunk","created":1700000000,` +
		`"model":"gpt-test","choices":[],"usage":{"prompt_tokens":` + strconv.Itoa(prompt) +
		`,"completion_tokens":` + strconv.Itoa(completion) + `,"total_tokens":` + strconv.Itoa(prompt+completion) +
		`,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}` + "\n\n"
}

const doneEvent = "data: [DONE]\n\n"

// tc is a tool call of a scripted round.
type tc struct{ id, name, args string }

// toolRound is a whole round calling tools; each call's arguments come in
// two fragments.
func toolRound(id string, prompt, completion int, calls ...tc) string {
	var b strings.Builder
	b.WriteString(roleChunk(id))
	for i, c := range calls {
		b.WriteString(callStart(id, i, c.id, c.name))
		half := len(c.args) / 2
		b.WriteString(callArgs(id, i, c.args[:half]))
		b.WriteString(callArgs(id, i, c.args[half:]))
	}
	b.WriteString(finishChunk(id, "tool_calls"))
	b.WriteString(usageChunk(id, prompt, completion))
	b.WriteString(doneEvent)
	return b.String()
}

// textRound is a whole round answering with text pieces.
func textRound(id string, prompt, completion int, pieces ...string) string {
	var b strings.Builder
	b.WriteString(roleChunk(id))
	for _, p := range pieces {
		b.WriteString(textChunk(id, p))
	}
	b.WriteString(finishChunk(id, "stop"))
	b.WriteString(usageChunk(id, prompt, completion))
	b.WriteString(doneEvent)
	return b.String()
}

// fakeModel is a CallModel that records request bodies; Round answers the
// n-th call (1-based).
type fakeModel struct {
	Round func(ctx context.Context, n int, body []byte) (io.ReadCloser, error)

	mu     sync.Mutex
	bodies [][]byte
}

func (f *fakeModel) call(ctx context.Context, body []byte) (io.ReadCloser, error) {
	f.mu.Lock()
	f.bodies = append(f.bodies, bytes.Clone(body))
	n := len(f.bodies)
	f.mu.Unlock()
	return f.Round(ctx, n, body)
}

func (f *fakeModel) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

// request decodes the n-th request body (1-based).
func (f *fakeModel) request(t *testing.T, n int) sentRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if n > len(f.bodies) {
		t.Fatalf("model was called %d times, want at least %d", len(f.bodies), n)
	}
	var r sentRequest
	if err := json.Unmarshal(f.bodies[n-1], &r); err != nil {
		t.Fatalf("request %d: %v", n, err)
	}
	r.raw = map[string]json.RawMessage{}
	_ = json.Unmarshal(f.bodies[n-1], &r.raw)
	return r
}

type sentRequest struct {
	Stream        bool                  `json:"stream"`
	StreamOptions *openai.StreamOptions `json:"stream_options"`
	Messages      []openai.ChatMessage  `json:"messages"`
	Tools         []openai.Tool         `json:"tools"`
	raw           map[string]json.RawMessage
}

func (r sentRequest) toolNames() []string {
	var out []string
	for _, t := range r.Tools {
		out = append(out, t.Function.Name)
	}
	return out
}

// scripted answers call n with streams[n-1], and fails calls beyond them.
func scripted(streams ...string) *fakeModel {
	return &fakeModel{Round: func(_ context.Context, n int, _ []byte) (io.ReadCloser, error) {
		if n > len(streams) {
			return nil, fmt.Errorf("unexpected model call %d", n)
		}
		return io.NopCloser(strings.NewReader(streams[n-1])), nil
	}}
}

// fakeTool is a Tool whose Call is a function field; runs counts calls.
type fakeTool struct {
	name string
	fn   func(ctx context.Context, args json.RawMessage) (string, error)
	runs atomic.Int32
}

func (f *fakeTool) Name() string { return f.name }
func (f *fakeTool) Definition() json.RawMessage {
	return mustJSON(map[string]any{"type": "function", "function": map[string]any{
		"name": f.name, "parameters": map[string]any{"type": "object"}}})
}
func (f *fakeTool) Call(ctx context.Context, args json.RawMessage) (string, error) {
	f.runs.Add(1)
	return f.fn(ctx, args)
}

// fakeBackend is a memory.Backend that records every call.
type fakeBackend struct {
	SearchF func(s memory.Scope, query string, limit int) ([]memory.Memory, error)
	GetF    func(s memory.Scope, id string) (memory.Memory, error)

	mu  sync.Mutex
	log []string
}

var _ memory.Backend = (*fakeBackend)(nil)

func (b *fakeBackend) record(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.log = append(b.log, fmt.Sprintf(format, args...))
}

func (b *fakeBackend) calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.log...)
}

func (b *fakeBackend) Search(_ context.Context, s memory.Scope, q string, limit int) ([]memory.Memory, error) {
	b.record("Search %s %q %d", s, q, limit)
	return b.SearchF(s, q, limit)
}
func (b *fakeBackend) Get(_ context.Context, s memory.Scope, id string) (memory.Memory, error) {
	b.record("Get %s %s", s, id)
	return b.GetF(s, id)
}
func (b *fakeBackend) Add(_ context.Context, s memory.Scope, c string, _ map[string]string) (memory.Memory, bool, error) {
	b.record("Add %s", s)
	return memory.Memory{}, false, errors.New("not used")
}
func (b *fakeBackend) List(_ context.Context, s memory.Scope, _ string, _ int) ([]memory.Memory, string, error) {
	b.record("List %s", s)
	return nil, "", errors.New("not used")
}
func (b *fakeBackend) Delete(_ context.Context, s memory.Scope, _ string) error {
	b.record("Delete %s", s)
	return errors.New("not used")
}
func (b *fakeBackend) DeleteAll(_ context.Context, s memory.Scope) (int, error) {
	b.record("DeleteAll %s", s)
	return 0, errors.New("not used")
}

// clientView is what a client makes of the stream Run wrote, after
// checking that it is well formed: one event per "data:" line, every chunk
// of one id with choice index 0, nothing after [DONE].
type clientView struct {
	roles       int
	text        string
	calls       []openai.ToolCall // by the index the client saw
	finishes    []string
	usage       *openai.WireUsage
	usageChunks int
	done        bool
	errs        []openai.ErrorDetail
}

func parseOut(t *testing.T, out string) clientView {
	t.Helper()
	var v clientView
	ids := map[string]bool{}
	if out != "" && !strings.HasSuffix(out, "\n\n") {
		t.Errorf("stream does not end with a blank line: %q", out)
	}
	for ev := range strings.SplitSeq(strings.TrimSuffix(out, "\n\n"), "\n\n") {
		if ev == "" {
			continue
		}
		if v.done {
			t.Errorf("event after [DONE]: %q", ev)
		}
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok {
			t.Fatalf("event is not one data line: %q", ev)
		}
		if data == "[DONE]" {
			v.done = true
			continue
		}
		var c openai.ChatChunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("bad chunk %q: %v", data, err)
		}
		if c.Error != nil {
			v.errs = append(v.errs, *c.Error)
			continue
		}
		ids[c.ID] = true
		if c.Object != "chat.completion.chunk" {
			t.Errorf("object = %q", c.Object)
		}
		if len(c.Choices) == 0 && c.Usage != nil {
			v.usageChunks++
			v.usage = c.Usage
		}
		for _, ch := range c.Choices {
			if ch.Index != 0 {
				t.Errorf("choice index %d", ch.Index)
			}
			if ch.Delta.Role != "" {
				v.roles++
			}
			if ch.Delta.Content != nil {
				v.text += *ch.Delta.Content
			}
			for _, d := range ch.Delta.ToolCalls {
				for len(v.calls) <= d.Index {
					v.calls = append(v.calls, openai.ToolCall{})
				}
				c := &v.calls[d.Index]
				c.ID += d.ID
				c.Type += d.Type
				c.Function.Name += d.Function.Name
				c.Function.Arguments += d.Function.Arguments
			}
			if ch.FinishReason != nil {
				v.finishes = append(v.finishes, *ch.FinishReason)
			}
		}
	}
	if len(ids) > 1 {
		t.Errorf("chunks carry %d different ids: %v", len(ids), ids)
	}
	return v
}

// wellFormed checks a completed stream: one role chunk, one finish chunk,
// [DONE], no error event.
func (v clientView) wellFormed(t *testing.T) {
	t.Helper()
	if v.roles != 1 || len(v.finishes) != 1 || !v.done || len(v.errs) != 0 {
		t.Errorf("stream: %d role chunks, finishes %v, done %v, errors %v; want 1, one, true, none",
			v.roles, v.finishes, v.done, v.errs)
	}
}

// errorResultOf decodes a tool message holding the structured error.
func errorResultOf(t *testing.T, content string) (msg, hint string, attempt int) {
	t.Helper()
	var e struct {
		Error     string `json:"error"`
		RetryHint string `json:"retry_hint"`
		Attempt   int    `json:"attempt"`
	}
	if err := json.Unmarshal([]byte(content), &e); err != nil || e.Error == "" {
		t.Fatalf("tool message %q is not a structured error", content)
	}
	return e.Error, e.RetryHint, e.Attempt
}

// toolMessages returns the contents of a request's tool messages, by call id.
func toolMessages(r sentRequest) map[string]string {
	out := map[string]string{}
	for _, m := range r.Messages {
		if m.Role == "tool" && m.Content != nil {
			out[m.ToolCallID] = m.Content.Text
		}
	}
	return out
}

const clientBody = `{"model":"gpt-test","messages":[{"role":"user","content":"What is my dog called?"}],"stream":true,"stream_options":{"include_usage":true}}`
