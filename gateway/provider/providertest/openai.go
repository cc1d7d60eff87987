// Package providertest holds fake upstreams for tests: HTTP servers that
// speak a provider's documented wire format byte for byte, and can be told
// to fail, to hold a stream midway, or to cut it.
package providertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Recorded is one request the fake received.
type Recorded struct {
	Path   string
	Header http.Header
	Body   map[string]any
}

// OpenAI is a fake OpenAI chat-completions upstream at URL+"/v1". Set its
// fields before sending requests.
type OpenAI struct {
	URL string

	// Words are the content pieces of the answer, streamed one per chunk
	// (default "Hello", " from", " the", " fake", " upstream.").
	Words []string
	// Status, when non-zero, answers every request with this status and
	// ErrorBody (default: an OpenAI error envelope).
	Status    int
	ErrorBody string
	// Hold, when non-nil, pauses every stream after its first content
	// chunk until Hold is closed.
	Hold chan struct{}
	// CutAfter, when > 0, drops the connection after that many stream
	// events, without [DONE].
	CutAfter int
	// ToolCall, when non-nil, answers requests that offer tools with this
	// function call (finish reason tool_calls), unless the last message is
	// a tool result, which gets the text answer: one round trip of a
	// client's tool.
	ToolCall *ToolCall

	srv *httptest.Server
	recorder
}

// DefaultWords is the answer the fake gives unless told otherwise.
var DefaultWords = []string{"Hello", " from", " the", " fake", " upstream."}

// Usage the fake reports for every answer.
const (
	PromptTokens     = 11
	CompletionTokens = 5
	CachedTokens     = 3
)

// NewOpenAI starts a fake closed at the end of the test.
func NewOpenAI(t testing.TB) *OpenAI {
	f := &OpenAI{Words: DefaultWords, recorder: newRecorder()}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Answer is the full text of the fake's answer.
func (f *OpenAI) Answer() string { return strings.Join(f.Words, "") }

func (f *OpenAI) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.record(Recorded{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	if r.URL.Path == "/v1/embeddings" {
		w.Header().Set("Content-Type", "application/json")
		model, _ := body["model"].(string)
		_, _ = fmt.Fprintf(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292,0.015797347]}],`+
			`"model":%q,"usage":{"prompt_tokens":%d,"total_tokens":%d}}`, model, PromptTokens, PromptTokens)
		return
	}
	if r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"unknown path","type":"invalid_request_error","param":null,"code":null}}`, http.StatusNotFound)
		return
	}
	if f.Status != 0 {
		eb := f.ErrorBody
		if eb == "" {
			eb = `{"error":{"message":"fake upstream failure","type":"server_error","param":null,"code":"fake_failure"}}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, eb)
		return
	}
	model, _ := body["model"].(string)
	call := f.ToolCall
	if call != nil && (lastRole(body) == "tool" || body["tools"] == nil) {
		call = nil
	}
	if call != nil {
		so, _ := body["stream_options"].(map[string]any)
		f.toolCall(w, model, body["stream"] == true, so["include_usage"] == true, call)
		return
	}
	if stream, _ := body["stream"].(bool); stream {
		so, _ := body["stream_options"].(map[string]any)
		inc, _ := so["include_usage"].(bool)
		f.stream(w, r, model, inc)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"id":"chatcmpl-fake1","object":"chat.completion","created":1700000000,"model":%q,`+
		`"system_fingerprint":"fp_fake","choices":[{"index":0,"message":{"role":"assistant","content":%s,"refusal":null},`+
		`"logprobs":null,"finish_reason":"stop"}],"usage":%s}`, model, quote(f.Answer()), usageJSON)
}

const usageJSON = `{"prompt_tokens":11,"completion_tokens":5,"total_tokens":16,` +
	`"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},` +
	`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// stream writes the documented chunk sequence: a role chunk, one chunk per
// word, a finish chunk, the usage chunk when asked for, then [DONE].
func (f *OpenAI) stream(w http.ResponseWriter, r *http.Request, model string, includeUsage bool) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl := w.(http.Flusher)
	usageField := ""
	if includeUsage {
		usageField = `,"usage":null`
	}
	chunk := func(delta, finish string) string {
		return fmt.Sprintf(`data: {"id":"chatcmpl-fake1","object":"chat.completion.chunk","created":1700000000,"model":%q,`+
			`"system_fingerprint":"fp_fake","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]%s}`+"\n\n",
			model, delta, finish, usageField)
	}
	events := []string{chunk(`{"role":"assistant","content":"","refusal":null}`, "null")}
	for _, word := range f.Words {
		events = append(events, chunk(`{"content":`+quote(word)+`}`, "null"))
	}
	events = append(events, chunk(`{}`, `"stop"`))
	if includeUsage {
		events = append(events, fmt.Sprintf(`data: {"id":"chatcmpl-fake1","object":"chat.completion.chunk","created":1700000000,`+
			`"model":%q,"system_fingerprint":"fp_fake","choices":[],"usage":%s}`+"\n\n", model, usageJSON))
	}
	events = append(events, "data: [DONE]\n\n")
	for i, ev := range events {
		if f.CutAfter > 0 && i == f.CutAfter {
			panic(http.ErrAbortHandler) // drop the connection mid-stream
		}
		if _, err := io.WriteString(w, ev); err != nil {
			f.noteCancel()
			return
		}
		fl.Flush()
		if i == 1 && f.Hold != nil {
			select {
			case <-f.Hold:
			case <-r.Context().Done():
				f.noteCancel()
				return
			}
		}
	}
}

// OpenAIToolCallID is the id of the fake's tool calls.
const OpenAIToolCallID = "call_fake_1"

func lastRole(body map[string]any) string {
	msgs, _ := body["messages"].([]any)
	if len(msgs) == 0 {
		return ""
	}
	m, _ := msgs[len(msgs)-1].(map[string]any)
	role, _ := m["role"].(string)
	return role
}

// toolCall answers with one function call, as a message or as the
// documented chunk sequence: the call's id, type and name first, then the
// arguments in fragments, then finish_reason "tool_calls".
func (f *OpenAI) toolCall(w http.ResponseWriter, model string, stream, includeUsage bool, c *ToolCall) {
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"id":"chatcmpl-fake2","object":"chat.completion","created":1700000000,"model":%q,`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,"tool_calls":[`+
			`{"id":%q,"type":"function","function":{"name":%s,"arguments":%s}}]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":%s}`,
			model, OpenAIToolCallID, quote(c.Name), quote(c.Input), usageJSON)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	chunk := func(delta, finish string) {
		_, _ = fmt.Fprintf(w, `data: {"id":"chatcmpl-fake2","object":"chat.completion.chunk","created":1700000000,"model":%q,`+
			`"choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]}`+"\n\n", model, delta, finish)
		w.(http.Flusher).Flush()
	}
	chunk(fmt.Sprintf(`{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":%q,"type":"function","function":{"name":%s,"arguments":""}}]}`,
		OpenAIToolCallID, quote(c.Name)), "null")
	half := len(c.Input) / 2
	for _, part := range []string{c.Input[:half], c.Input[half:]} {
		chunk(`{"tool_calls":[{"index":0,"function":{"arguments":`+quote(part)+`}}]}`, "null")
	}
	chunk(`{}`, `"tool_calls"`)
	if includeUsage {
		_, _ = fmt.Fprintf(w, `data: {"id":"chatcmpl-fake2","object":"chat.completion.chunk","created":1700000000,"model":%q,"choices":[],"usage":%s}`+"\n\n", model, usageJSON)
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
}

// Answer is the text every fake answers with by default (DefaultWords).
func Answer() string { return strings.Join(DefaultWords, "") }
