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

// Anthropic is a fake Anthropic Messages upstream at URL+"/v1". It answers
// POST /v1/messages with the documented JSON body, or, for "stream": true,
// the documented event sequence (message_start, content_block_start, ping,
// content_block_delta…, content_block_stop, message_delta, message_stop,
// each with its `event:` line). Set its fields before sending requests.
type Anthropic struct {
	URL string

	// Words are the text pieces of the answer, streamed one per
	// text_delta (default DefaultWords).
	Words []string
	// ToolCall, when non-nil and the request offers tools, answers with a
	// tool_use block instead of text, with stop_reason tool_use, until the
	// client has sent ToolRounds tool results back.
	ToolCall *ToolCall
	// ToolRounds is how many tool calls in a row an agent turn gets: the
	// fake answers with ToolCall while the conversation ends with fewer
	// tool results than that (see toolRounds); 0 counts as 1.
	ToolRounds int
	// Thinking, when non-nil, puts a thinking block before the answer.
	Thinking *Thinking
	// Status, when non-zero, answers every request with this status and
	// ErrorBody (default: an Anthropic error envelope of type api_error).
	Status    int
	ErrorBody string
	// Hold, when non-nil, pauses every stream after its first
	// content_block_delta event until Hold is closed.
	Hold chan struct{}
	// CutAfter, when > 0, drops the connection after that many stream
	// events, without message_stop.
	CutAfter int

	srv *httptest.Server
	recorder
}

// ToolCall is the tool_use block the fake answers with. Input is a JSON
// object, streamed in a few input_json_delta fragments after an empty one;
// an Input of exactly {} is streamed as the empty fragment alone.
type ToolCall struct {
	Name  string
	Input string

	id string // the Anthropic fake's tool_use id, when not AnthropicToolUseID
}

// useID is the tool_use id of the call: AnthropicToolUseID for a turn's
// first, then one per round, as a client needs them distinct.
func (c *ToolCall) useID() string {
	if c.id != "" {
		return c.id
	}
	return AnthropicToolUseID
}

// Thinking is the thinking block the fake sends first.
type Thinking struct {
	Text      string
	Signature string
}

// The fake's ids, and its usage split the Anthropic way: of the
// PromptTokens, CachedTokens are cache reads and the rest input_tokens.
const (
	AnthropicMessageID   = "msg_01FakeUpstream"
	AnthropicToolUseID   = "toolu_01FakeUpstream"
	AnthropicInputTokens = PromptTokens - CachedTokens
)

// NewAnthropic starts a fake closed at the end of the test.
func NewAnthropic(t testing.TB) *Anthropic {
	f := &Anthropic{Words: DefaultWords, recorder: newRecorder()}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Answer is the full text of the fake's answer.
func (f *Anthropic) Answer() string { return strings.Join(f.Words, "") }

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"type":"error","error":{"type":%q,"message":%s}}`, typ, quote(msg))
}

func (f *Anthropic) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.record(Recorded{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	switch {
	case r.URL.Path == "/v1/messages/count_tokens" && r.Method == http.MethodPost && r.Header.Get("x-api-key") != "":
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"input_tokens":%d}`, AnthropicInputTokens)
		return
	case r.URL.Path != "/v1/messages" || r.Method != http.MethodPost:
		anthropicError(w, http.StatusNotFound, "not_found_error", "Not found")
		return
	case r.Header.Get("x-api-key") == "":
		anthropicError(w, http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
		return
	case r.Header.Get("anthropic-version") == "":
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return
	case f.Status != 0:
		eb := f.ErrorBody
		if eb == "" {
			eb = `{"type":"error","error":{"type":"api_error","message":"fake upstream failure"}}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, eb)
		return
	case body == nil:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "The request body is not valid JSON")
		return
	case body["max_tokens"] == nil:
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required")
		return
	}
	model, _ := body["model"].(string)
	call := f.ToolCall
	switch rounds := toolRounds(body); {
	case call == nil:
	case rounds >= max(1, f.ToolRounds) || body["tools"] == nil:
		call = nil // no tools offered, or the client ran the tool: answer in text
	case rounds > 0:
		c := *call
		c.id = fmt.Sprintf("%s%d", AnthropicToolUseID, rounds+1)
		call = &c
	}
	if stream, _ := body["stream"].(bool); stream {
		f.stream(w, r, model, call)
		return
	}
	var content []string
	if f.Thinking != nil {
		content = append(content, fmt.Sprintf(`{"type":"thinking","thinking":%s,"signature":%s}`,
			quote(f.Thinking.Text), quote(f.Thinking.Signature)))
	}
	stop := "end_turn"
	if call != nil {
		stop = "tool_use"
		content = append(content, fmt.Sprintf(`{"type":"tool_use","id":%q,"name":%s,"input":%s}`,
			call.useID(), quote(call.Name), call.Input))
	} else {
		content = append(content, `{"type":"text","text":`+quote(f.Answer())+`}`)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"id":%q,"type":"message","role":"assistant","model":%s,"content":[%s],`+
		`"stop_reason":%q,"stop_sequence":null,"usage":%s}`,
		AnthropicMessageID, quote(model), strings.Join(content, ","), stop, anthropicUsage(CompletionTokens))
}

func anthropicUsage(output int) string {
	return fmt.Sprintf(`{"input_tokens":%d,"cache_creation_input_tokens":0,"cache_read_input_tokens":%d,"output_tokens":%d}`,
		AnthropicInputTokens, CachedTokens, output)
}

// streamEvents is the documented event sequence of the fake's answer.
func (f *Anthropic) streamEvents(model string, call *ToolCall) []string {
	ev := func(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }
	start := func(i int, block string) string {
		return ev("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":%s}`, i, block))
	}
	delta := func(i int, d string) string {
		return ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":%s}`, i, d))
	}
	stop := func(i int) string {
		return ev("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, i))
	}
	out := []string{ev("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":%q,"type":"message",`+
		`"role":"assistant","model":%s,"content":[],"stop_reason":null,"stop_sequence":null,"usage":%s}}`,
		AnthropicMessageID, quote(model), anthropicUsage(1)))}
	ping := ev("ping", `{"type": "ping"}`)
	i := 0
	if t := f.Thinking; t != nil {
		out = append(out, start(i, `{"type":"thinking","thinking":""}`), ping,
			delta(i, `{"type":"thinking_delta","thinking":`+quote(t.Text)+`}`),
			delta(i, `{"type":"signature_delta","signature":`+quote(t.Signature)+`}`), stop(i))
		ping, i = "", i+1
	}
	reason := "end_turn"
	if tc := call; tc != nil {
		reason = "tool_use"
		out = append(out, start(i, fmt.Sprintf(`{"type":"tool_use","id":%q,"name":%s,"input":{}}`, tc.useID(), quote(tc.Name))))
		if ping != "" {
			out = append(out, ping)
		}
		out = append(out, delta(i, `{"type":"input_json_delta","partial_json":""}`))
		for _, frag := range fragments(tc.Input, 3) {
			if tc.Input == "{}" {
				break // no fragments at all: clients must read the input as {}
			}
			out = append(out, delta(i, `{"type":"input_json_delta","partial_json":`+quote(frag)+`}`))
		}
	} else {
		out = append(out, start(i, `{"type":"text","text":""}`))
		if ping != "" {
			out = append(out, ping)
		}
		for _, word := range f.Words {
			out = append(out, delta(i, `{"type":"text_delta","text":`+quote(word)+`}`))
		}
	}
	return append(out, stop(i),
		ev("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%q,"stop_sequence":null},"usage":{"output_tokens":%d}}`,
			reason, CompletionTokens)),
		ev("message_stop", `{"type":"message_stop"}`))
}

// fragments splits s into n pieces of about equal length, on rune
// boundaries.
func fragments(s string, n int) []string {
	rs := []rune(s)
	size := max(1, (len(rs)+n-1)/n)
	var out []string
	for len(rs) > size {
		out = append(out, string(rs[:size]))
		rs = rs[size:]
	}
	return append(out, string(rs))
}

func (f *Anthropic) stream(w http.ResponseWriter, r *http.Request, model string, call *ToolCall) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl := w.(http.Flusher)
	held := false
	for i, ev := range f.streamEvents(model, call) {
		if f.CutAfter > 0 && i == f.CutAfter {
			panic(http.ErrAbortHandler) // drop the connection mid-stream
		}
		if _, err := io.WriteString(w, ev); err != nil {
			f.noteCancel()
			return
		}
		fl.Flush()
		if !held && f.Hold != nil && strings.HasPrefix(ev, "event: content_block_delta\n") {
			held = true
			select {
			case <-f.Hold:
			case <-r.Context().Done():
				f.noteCancel()
				return
			}
		}
	}
}

// toolRounds counts the tool results the conversation ends with: the
// tool_result blocks of its trailing (assistant tool_use, user
// tool_result) message pairs. Claude Code merges answers that share a
// message id, so two rounds may arrive as one pair of two blocks each.
func toolRounds(body map[string]any) int {
	msgs, _ := body["messages"].([]any)
	count := func(i int, typ string) int {
		m, _ := msgs[i].(map[string]any)
		blocks, _ := m["content"].([]any)
		n := 0
		for _, b := range blocks {
			if bm, _ := b.(map[string]any); bm["type"] == typ {
				n++
			}
		}
		return n
	}
	n := 0
	for i := len(msgs) - 1; i >= 1 && count(i, "tool_result") > 0 && count(i-1, "tool_use") > 0; i -= 2 {
		n += count(i, "tool_result")
	}
	return n
}
