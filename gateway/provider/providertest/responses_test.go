package providertest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func postResponses(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url+"/v1/responses", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // a cut stream ends in an error: keep what came
	return resp.StatusCode, string(b)
}

// events parses a stream into event types, checking that each data line
// is JSON of its event's type with sequence numbers counting from 0, and
// returns the data of the last event.
func events(t *testing.T, stream string) ([]string, map[string]any) {
	t.Helper()
	var types []string
	var last map[string]any
	name := ""
	for _, line := range strings.Split(stream, "\n") {
		switch {
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			if err := json.Unmarshal([]byte(line[len("data: "):]), &d); err != nil {
				t.Fatalf("event %d: %v", len(types), err)
			}
			if d["type"] != name || d["sequence_number"] != float64(len(types)) {
				t.Fatalf("event %d: name %q, data %s", len(types), name, line)
			}
			types, last = append(types, name), d
		}
	}
	return types, last
}

func TestResponsesFake(t *testing.T) {
	f := NewResponses(t)
	const tools = `"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]`
	status, body := postResponses(t, f.URL, `{"model":"gpt-x","input":"Hi","instructions":"Be brief."}`)
	var r struct {
		Object, Status, Instructions string
		Output                       []struct {
			Type    string
			Content []struct{ Type, Text string }
		}
		Usage struct {
			InputTokens int `json:"input_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || status != 200 || r.Object != "response" || r.Status != "completed" ||
		r.Instructions != "Be brief." || r.Output[0].Content[0].Text != f.Answer() || r.Usage.InputTokens != PromptTokens {
		t.Fatalf("%d %s", status, body)
	}

	_, stream := postResponses(t, f.URL, `{"model":"gpt-x","input":"Hi","stream":true}`)
	types, last := events(t, stream)
	want := "response.created response.in_progress response.output_item.added response.content_part.added" +
		strings.Repeat(" response.output_text.delta", len(f.Words)) +
		" response.output_text.done response.content_part.done response.output_item.done response.completed"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("text events\n got %s\nwant %s", got, want)
	}
	if u := last["response"].(map[string]any)["usage"].(map[string]any); u["total_tokens"] != float64(PromptTokens+CompletionTokens) {
		t.Errorf("usage = %v", u)
	}

	f.ToolCall = &ToolCall{Name: "get_weather", Input: `{"city":"Paris"}`}
	_, stream = postResponses(t, f.URL, `{"model":"gpt-x","input":"Weather?","stream":true,`+tools+`}`)
	types, last = events(t, stream)
	if got := strings.Join(types, " "); got != "response.created response.in_progress response.output_item.added "+
		"response.function_call_arguments.delta response.function_call_arguments.delta response.function_call_arguments.done "+
		"response.output_item.done response.completed" {
		t.Errorf("tool events %s", got)
	}
	item := last["response"].(map[string]any)["output"].([]any)[0].(map[string]any)
	if item["type"] != "function_call" || item["arguments"] != `{"city":"Paris"}` || item["call_id"] != ResponsesCallID {
		t.Errorf("tool item %v", item)
	}
	_, body = postResponses(t, f.URL, `{"model":"gpt-x",`+tools+`,"input":[{"role":"user","content":"Weather?"},`+
		`{"type":"function_call","call_id":"call_fake_r1","name":"get_weather","arguments":"{}"},`+
		`{"type":"function_call_output","call_id":"call_fake_r1","output":"18C"}]}`)
	if !strings.Contains(body, `"type":"message"`) {
		t.Errorf("a function_call_output did not get the text answer: %s", body)
	}

	f.ToolCall, f.CutAfter = nil, 5
	_, stream = postResponses(t, f.URL, `{"model":"gpt-x","input":"Hi","stream":true}`)
	if types, _ = events(t, stream); len(types) != 5 {
		t.Errorf("cut stream has %d events, want 5", len(types))
	}

	if status, body = postResponses(t, f.URL, `{"model":"gpt-x"}`); status != 400 || !strings.Contains(body, `"invalid_request_error"`) {
		t.Errorf("missing input: %d %s", status, body)
	}
	f.Status = 429
	if status, _ = postResponses(t, f.URL, `{"model":"gpt-x","input":"Hi"}`); status != 429 {
		t.Errorf("status = %d", status)
	}
	if n := len(f.Requests()); n != 7 {
		t.Errorf("%d requests recorded, want 7", n)
	}
}

func TestResponsesFakeServesChat(t *testing.T) {
	f := NewResponses(t)
	resp, err := http.Post(f.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-x","messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"object":"chat.completion"`) || len(f.Chat.Requests()) != 1 || len(f.Requests()) != 0 {
		t.Errorf("chat answer %s", b)
	}
}
