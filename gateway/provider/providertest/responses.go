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

// Responses is a fake OpenAI upstream that serves the Responses API at
// URL+"/v1/responses" and hands every other path to Chat, a fake
// chat-completions upstream on the same server, as api.openai.com serves
// both. POST /v1/responses answers with the documented response object,
// or, for "stream": true, the documented event sequence (response.created,
// response.in_progress, then per output item response.output_item.added,
// its part and delta events, response.output_item.done, and last
// response.completed), each event with its `event:` line and a
// sequence_number counting from 0. Set its fields before sending requests.
type Responses struct {
	URL string
	// Chat answers every path other than /v1/responses (chat completions,
	// embeddings); its URL is this server's.
	Chat *OpenAI

	// Words are the text pieces of the answer, streamed one per
	// response.output_text.delta (default DefaultWords).
	Words []string
	// ToolCall, when non-nil, answers with this function_call item, when
	// the request offers tools, until the input ends with ToolRounds
	// function_call_output items (which get the text answer).
	ToolCall *ToolCall
	// ToolRounds is how many tool calls in a row an agent turn gets: the
	// fake answers with ToolCall while the input ends with fewer
	// function_call_output items (in its trailing run of function calls
	// and outputs) than that; 0 counts as 1.
	ToolRounds int
	// Status, when non-zero, answers every request with this status and
	// ErrorBody (default: an OpenAI error envelope).
	Status    int
	ErrorBody string
	// Hold, when non-nil, pauses every stream after its first delta event
	// until Hold is closed.
	Hold chan struct{}
	// CutAfter, when > 0, drops the connection after that many stream
	// events, without response.completed.
	CutAfter int

	srv *httptest.Server
	recorder
}

// The ids of the fake's answers.
const (
	ResponsesID         = "resp_fake1"
	ResponsesMessageID  = "msg_fake1"
	ResponsesCallItemID = "fc_fake1"
	ResponsesCallID     = "call_fake_r1"
)

// NewResponses starts a fake closed at the end of the test.
func NewResponses(t testing.TB) *Responses {
	f := &Responses{Words: DefaultWords, recorder: newRecorder(),
		Chat: &OpenAI{Words: DefaultWords, recorder: newRecorder()}}
	f.srv = httptest.NewServer(f)
	f.URL, f.Chat.URL = f.srv.URL, f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Answer is the full text of the fake's answer.
func (f *Responses) Answer() string { return strings.Join(f.Words, "") }

// ServeHTTP answers POST /v1/responses and hands other paths to Chat, so
// the fake can also be mounted on another server.
func (f *Responses) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/responses" {
		f.Chat.serve(w, r)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.record(Recorded{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	switch {
	case r.Method != http.MethodPost:
		openAIError(w, http.StatusMethodNotAllowed, "invalid_request_error", "Method not allowed")
		return
	case f.Status != 0:
		eb := f.ErrorBody
		if eb == "" {
			eb = `{"error":{"message":"fake upstream failure","type":"server_error","param":null,"code":"fake_failure"}}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, eb)
		return
	case body == nil:
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "We could not parse the JSON body of your request.")
		return
	case body["model"] == nil || body["input"] == nil:
		openAIError(w, http.StatusBadRequest, "invalid_request_error", "Missing required parameter: 'model' or 'input'.")
		return
	}
	call := f.ToolCall
	if tools, _ := body["tools"].([]any); len(tools) == 0 || callOutputs(body) >= max(1, f.ToolRounds) {
		call = nil
	}
	if stream, _ := body["stream"].(bool); stream {
		f.stream(w, r, body, call)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, f.response(body, "completed", f.outputItem(call, "completed", true)))
}

func openAIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"error":{"message":%s,"type":%q,"param":null,"code":null}}`, quote(msg), typ)
}

// callOutputs counts the function_call_output items of the input's
// trailing run of function_call and function_call_output items.
func callOutputs(body map[string]any) int {
	items, _ := body["input"].([]any)
	n := 0
	for i := len(items) - 1; i >= 0; i-- {
		it, _ := items[i].(map[string]any)
		switch it["type"] {
		case "function_call_output":
			n++
		case "function_call":
		default:
			return n
		}
	}
	return n
}

// responsesUsage is the usage object of every answer.
var responsesUsage = fmt.Sprintf(`{"input_tokens":%d,"input_tokens_details":{"cached_tokens":%d},`+
	`"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":%d}`,
	PromptTokens, CachedTokens, CompletionTokens, PromptTokens+CompletionTokens)

// response is the documented response object; output is its items, or
// "" for none.
func (f *Responses) response(body map[string]any, status, output string) string {
	usage := "null"
	if status == "completed" {
		usage = responsesUsage
	}
	instructions := "null"
	if s, ok := body["instructions"].(string); ok {
		instructions = quote(s)
	}
	model, _ := body["model"].(string)
	return fmt.Sprintf(`{"id":%q,"object":"response","created_at":1700000000,"status":%q,"background":false,`+
		`"error":null,"incomplete_details":null,"instructions":%s,"max_output_tokens":null,"model":%s,"output":[%s],`+
		`"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},`+
		`"service_tier":"default","store":false,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto",`+
		`"tools":[],"top_p":1.0,"truncation":"disabled","usage":%s,"user":null,"metadata":{}}`,
		ResponsesID, status, instructions, quote(model), output, usage)
}

// outputItem is the answer's item: a message, or the function call. An
// in-progress item has empty content or arguments.
func (f *Responses) outputItem(call *ToolCall, status string, full bool) string {
	if call != nil {
		args := ""
		if full {
			args = call.Input
		}
		return fmt.Sprintf(`{"id":%q,"type":"function_call","status":%q,"arguments":%s,"call_id":%q,"name":%s}`,
			ResponsesCallItemID, status, quote(args), ResponsesCallID, quote(call.Name))
	}
	content := ""
	if full {
		content = textPart(f.Answer())
	}
	return fmt.Sprintf(`{"id":%q,"type":"message","status":%q,"content":[%s],"role":"assistant"}`,
		ResponsesMessageID, status, content)
}

func textPart(text string) string {
	return `{"type":"output_text","annotations":[],"logprobs":[],"text":` + quote(text) + `}`
}

// streamEvents is the documented event sequence of the fake's answer.
func (f *Responses) streamEvents(body map[string]any, call *ToolCall) []string {
	var out []string
	ev := func(typ, fields string) {
		out = append(out, fmt.Sprintf("event: %s\ndata: {\"type\":%q,\"sequence_number\":%d,%s}\n\n", typ, typ, len(out), fields))
	}
	inProgress := `"response":` + f.response(body, "in_progress", "")
	ev("response.created", inProgress)
	ev("response.in_progress", inProgress)
	ev("response.output_item.added", `"output_index":0,"item":`+f.outputItem(call, "in_progress", false))
	if call != nil {
		item := fmt.Sprintf(`"item_id":%q,"output_index":0`, ResponsesCallItemID)
		for _, frag := range fragments(call.Input, 2) {
			ev("response.function_call_arguments.delta", item+`,"delta":`+quote(frag))
		}
		ev("response.function_call_arguments.done", item+`,"name":`+quote(call.Name)+`,"arguments":`+quote(call.Input))
	} else {
		part := fmt.Sprintf(`"item_id":%q,"output_index":0,"content_index":0`, ResponsesMessageID)
		ev("response.content_part.added", part+`,"part":`+textPart(""))
		for _, word := range f.Words {
			ev("response.output_text.delta", part+`,"delta":`+quote(word)+`,"logprobs":[]`)
		}
		ev("response.output_text.done", part+`,"text":`+quote(f.Answer())+`,"logprobs":[]`)
		ev("response.content_part.done", part+`,"part":`+textPart(f.Answer()))
	}
	item := f.outputItem(call, "completed", true)
	ev("response.output_item.done", `"output_index":0,"item":`+item)
	ev("response.completed", `"response":`+f.response(body, "completed", item))
	return out
}

func (f *Responses) stream(w http.ResponseWriter, r *http.Request, body map[string]any, call *ToolCall) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl := w.(http.Flusher)
	held := false
	for i, ev := range f.streamEvents(body, call) {
		if f.CutAfter > 0 && i == f.CutAfter {
			panic(http.ErrAbortHandler) // drop the connection mid-stream
		}
		if _, err := io.WriteString(w, ev); err != nil {
			f.noteCancel()
			return
		}
		fl.Flush()
		if f.Hold != nil && !held && strings.Contains(ev, ".delta\n") {
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
