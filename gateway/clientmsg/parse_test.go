package clientmsg

import (
	"net/http"
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	h := http.Header{}
	h.Set("X-Openai-Subagent", "compact")
	h.Set("Authorization", "Bearer sk-secret")
	for _, c := range []struct {
		name, path, body string
		want             Request
	}{
		{"anthropic", "/v1/messages", `{"model":"m","max_tokens":1,"stream":true,"system":"be brief",
			"tools":[{"name":"Read","input_schema":{}}],
			"messages":[{"role":"user","content":"quota"},{"role":"assistant","content":[{"type":"thinking","thinking":"x"},{"type":"text","text":"ok"},{"type":"tool_use","id":"t","name":"Read","input":{}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"file"}]},{"type":"image","source":{}}]}]}`,
			Request{System: "be brief", MaxTokens: 1, Stream: true, Tools: []string{"Read"}, Messages: []Message{
				{Index: 0, Role: "user", Text: "quota"}, {Index: 1, Role: "assistant", Text: "ok"}, {Index: 1, Role: "assistant", Text: "Read", ToolCall: true},
				{Index: 2, Role: "user", Text: "file", ToolResult: true}}}},
		{"chat", "/v1/chat/completions", `{"model":"m","max_completion_tokens":9,
			"tools":[{"type":"function","function":{"name":"f"}}],
			"messages":[{"role":"system","content":"sys"},{"role":"developer","content":[{"type":"text","text":"dev"}]},
			{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"c","content":"42"}]}`,
			Request{System: "sys\ndev", MaxTokens: 9, Tools: []string{"f"}, Messages: []Message{
				{Index: 0, Role: "user", Text: "hi"}, {Index: 1, Role: "assistant", Text: "f", ToolCall: true}, {Index: 2, Role: "tool", Text: "42", ToolResult: true}}}},
		{"responses string input", "/v1/responses", `{"model":"m","instructions":"ins","input":"hello","max_output_tokens":5}`,
			Request{System: "ins", MaxTokens: 5, Messages: []Message{{Role: "user", Text: "hello"}}}},
		{"responses items", "/v1/responses/compact", `{"model":"m","tools":[{"type":"function","name":"exec_command"},{"type":"web_search"}],"input":[
			{"type":"message","role":"developer","content":[{"type":"input_text","text":"dev"}]},
			{"role":"user","content":"q"},{"type":"reasoning","summary":[]},
			{"type":"function_call","name":"exec_command","call_id":"c","arguments":"{}"},
			{"type":"function_call_output","call_id":"c","output":"done"},
			{"type":"message","role":"assistant","content":[{"type":"output_text","text":"a"}]}]}`,
			Request{System: "dev", Tools: []string{"exec_command", "web_search"}, Messages: []Message{
				{Index: 0, Role: "user", Text: "q"}, {Index: 1, Role: "assistant", Text: "exec_command", ToolCall: true},
				{Index: 2, Role: "tool", Text: "done", ToolResult: true}, {Index: 3, Role: "assistant", Text: "a"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse("codex", c.path, h, []byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			c.want.Client, c.want.Path = "codex", c.path
			c.want.Metadata = map[string]string{"x-openai-subagent": "compact"}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
	// A field of an unexpected type is left empty, the rest is read.
	r, err := Parse("x", "/v1/messages", nil, []byte(`{"stream":"yes","max_tokens":1.5,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil || r.Stream || r.MaxTokens != 0 || len(r.Messages) != 1 || r.Messages[0].Text != "hi" {
		t.Errorf("mistyped fields: %+v, %v", r, err)
	}
	if _, err := Parse("x", "/v1/messages", nil, []byte(`{"messages":`)); err == nil {
		t.Error("a truncated body parsed")
	}
	if _, err := Parse("x", "/v1/messages", nil, []byte(`[1]`)); err == nil {
		t.Error("a body that is not an object parsed")
	}
	if _, err := Parse("x", "/v1/embeddings", nil, []byte(`{}`)); err == nil {
		t.Error("a path of no chat dialect parsed")
	}
}
