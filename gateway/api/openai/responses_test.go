package openai

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/llm"
)

func TestResponsesRequestDecode(t *testing.T) {
	const body = `{"model":"gpt-5-codex","instructions":"Be brief.","input":[
		{"type":"message","role":"developer","content":[{"type":"input_text","text":"rules"}]},
		{"role":"user","content":"hi"},
		{"type":"message","role":"user","content":[{"type":"input_image","image_url":"https://x/a.png","detail":"low"}]},
		{"type":"function_call","call_id":"call_1","name":"shell","arguments":"{\"command\":[\"ls\"]}"},
		{"type":"function_call_output","call_id":"call_1","output":"a.go"},
		{"type":"function_call_output","call_id":"call_2","output":[{"type":"input_text","text":"b"}]},
		{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA"}],
		"tools":[{"type":"function","name":"shell","parameters":{"type":"object"},"strict":false},{"type":"local_shell"}],
		"tool_choice":"auto","text":{"format":{"type":"json_schema","name":"n","schema":{"type":"object"}},"verbosity":"low"},
		"reasoning":{"effort":"high","summary":"auto"},"stream":true}`
	var r ResponsesRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	in := r.Input.Items
	if len(in) != 7 || in[0].Content.Parts[0].Text != "rules" || in[1].Type != "" || in[1].Content.Text != "hi" ||
		in[2].Content.Parts[0].ImageURL != "https://x/a.png" || in[3].Arguments != `{"command":["ls"]}` ||
		in[4].Output.Text != "a.go" || in[5].Output.Parts[0].Text != "b" || in[6].Type != "reasoning" {
		t.Errorf("input = %+v", in)
	}
	if len(r.Tools) != 2 || r.Tools[0].Strict == nil || *r.Tools[0].Strict || r.Tools[1].Type != "local_shell" ||
		r.ToolChoice.Mode != "auto" || r.Text.Format.Name != "n" || r.Text.Verbosity != "low" || r.Reasoning.Effort != "high" || !r.Stream {
		t.Errorf("request = %+v", r)
	}
	var s ResponsesRequest
	if err := json.Unmarshal([]byte(`{"input":"Hello"}`), &s); err != nil || s.Input.Items != nil || s.Input.Text != "Hello" {
		t.Errorf("string input = %+v, %v", s.Input, err)
	}
	for _, bad := range []string{`{"input":42}`, `{"input":[{"role":"user","content":{}}]}`} {
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s decodes", bad)
		}
	}
}

func TestResponsesToolChoiceDecode(t *testing.T) {
	for in, want := range map[string]ResponsesToolChoice{
		`"required"`:                       {Mode: "required"},
		`{"type":"function","name":"f"}`:   {Type: "function", Name: "f"},
		`{"type":"web_search_preview"}`:    {Type: "web_search_preview"},
		`{"type":"custom","name":"patch"}`: {Type: "custom", Name: "patch"},
		`{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"f"},{"type":"web_search"}]}`: {
			Type: "allowed_tools", AllowedMode: "auto", Tools: []ResponsesTool{{Type: "function", Name: "f"}, {Type: "web_search"}}},
	} {
		var got ResponsesToolChoice
		if err := json.Unmarshal([]byte(in), &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s → %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestOutputItemMarshal(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{OutputItem{Type: "message", ID: "msg_1", Status: StatusInProgress, Role: "assistant"},
			`{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}`},
		{OutputItem{Type: "message", ID: "msg_1", Status: StatusCompleted, Role: "assistant",
			Content: []OutputPart{{Type: "output_text"}, {Type: "refusal", Refusal: "no"}}},
			`{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[` +
				`{"type":"output_text","text":"","annotations":[]},{"type":"refusal","refusal":"no"}]}`},
		{OutputItem{Type: "function_call", ID: "fc_1", Status: StatusInProgress, CallID: "call_1", Name: "f"},
			`{"id":"fc_1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_1","name":"f"}`},
		{ResponseUsage{InputTokens: 3, OutputTokens: 2, TotalTokens: 5},
			`{"input_tokens":3,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":5}`},
	} {
		b, err := json.Marshal(tc.in)
		if err != nil || string(b) != tc.want {
			t.Errorf("got  %s, %v\nwant %s", b, err, tc.want)
		}
	}
}

// responsesStream is a Responses stream in the documented form, ending
// with terminal (the whole last event, or "" for a cut stream).
func responsesStream(terminal string) string {
	ev := func(typ, rest string) string {
		return "event: " + typ + "\ndata: {\"type\":\"" + typ + "\",\"sequence_number\":0," + rest + "}\n\n"
	}
	s := ev(ResponsesEventCreated, `"response":{"id":"resp_1","object":"response","status":"in_progress","output":[],"usage":null}`) +
		ev(ResponsesEventTextDelta, `"item_id":"msg_1","output_index":0,"content_index":0,"delta":"\"type\":\"response.completed\""`)
	return s + terminal
}

const usageObject = `{"input_tokens":1117,"input_tokens_details":{"cached_tokens":1024},"output_tokens":46,` +
	`"output_tokens_details":{"reasoning_tokens":12},"total_tokens":1163}`

func TestResponsesStreamObserver(t *testing.T) {
	completed := "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":9,\"response\":" +
		`{"id":"resp_1","status":"completed","output":[],"usage":` + usageObject + "}}\r\n\r\n"
	failed := "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":9,\"response\":" +
		`{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"boom"},"usage":null}}` + "\n\n"
	want := llm.Usage{PromptTokens: 1117, CompletionTokens: 46, CachedTokens: 1024}
	for _, tc := range []struct {
		name, in string
		status   string
		end      bool
		usage    llm.Usage
	}{
		{"completed", responsesStream(completed), "completed", true, want},
		{"incomplete", responsesStream(strings.ReplaceAll(completed, "completed", "incomplete")), "incomplete", true, want},
		{"failed", responsesStream(failed), "failed", false, llm.Usage{}},
		{"cut", responsesStream(""), "", false, llm.Usage{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i <= len(tc.in); i++ {
				var o ResponsesStreamObserver
				_, _ = o.Write([]byte(tc.in[:i]))
				_, _ = o.Write([]byte(tc.in[i:]))
				if o.Status != tc.status || o.SawEnd != tc.end || o.Usage != tc.usage || o.SawUsage != (tc.usage != llm.Usage{}) {
					t.Fatalf("split at %d: %+v", i, o)
				}
			}
		})
	}
}

func TestResponsesUsageOf(t *testing.T) {
	u, ok := ResponsesUsageOf([]byte(`{"id":"resp_1","object":"response","usage":` + usageObject + `}`))
	if !ok || u != (llm.Usage{PromptTokens: 1117, CompletionTokens: 46, CachedTokens: 1024}) {
		t.Errorf("usage = %+v, %v", u, ok)
	}
	if _, ok := ResponsesUsageOf([]byte(`{"id":"resp_1","usage":null}`)); ok {
		t.Error("null usage read")
	}
}
