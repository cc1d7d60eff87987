package translate

import (
	"encoding/json"
	"reflect"
	"testing"
)

// conversation is an OpenAI request in the forms that survive a round trip
// unchanged: string content for unmerged messages, one system message, no
// "detail" on images, tools with parameters.
const conversation = `{
  "model": "client-model",
  "messages": [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": [
      {"type": "text", "text": "What is in these images, and what's the weather?"},
      {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklGRg=="}},
      {"type": "image_url", "image_url": {"url": "https://example.com/b.png"}}
    ]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
      {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": "{}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "09:00"}]},
    {"role": "assistant", "content": "A cat and a dog; 18C at 09:00.", "tool_calls": [
      {"id": "call_3", "type": "function", "function": {"name": "now", "arguments": "{}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_3", "content": "09:01"},
    {"role": "assistant", "content": "Done."},
    {"role": "user", "content": "Thanks!"}
  ],
  "tools": [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
  ],
  "max_completion_tokens": 300,
  "temperature": 0.5,
  "top_p": 0.8,
  "stop": ["###"],
  "user": "u1",
  "stream": true
}`

func TestRoundTripOpenAI(t *testing.T) {
	for _, choice := range []string{`"auto"`, `"none"`, `"required"`, `{"type":"function","function":{"name":"now"}}`} {
		for _, parallel := range []string{"", `,"parallel_tool_calls":false`} {
			in := conversation[:len(conversation)-1] + `,"tool_choice":` + choice + parallel + "}"
			if choice == `"none"` && parallel != "" {
				continue // Anthropic's tool_choice none has no disable_parallel_tool_use
			}
			mid, err := OpenAIChatToAnthropic([]byte(in), "claude-x", 1024)
			if err != nil {
				t.Fatal(err)
			}
			back, err := AnthropicToOpenAIChat(mid, "client-model")
			if err != nil {
				t.Fatal(err)
			}
			var a, b map[string]any
			_ = json.Unmarshal([]byte(in), &a)
			_ = json.Unmarshal(back, &b)
			delete(b, "stream_options") // added for usage, by design
			if !reflect.DeepEqual(a, b) {
				ja, _ := json.MarshalIndent(a, "", " ")
				jb, _ := json.MarshalIndent(b, "", " ")
				t.Errorf("tool_choice %s%s: round trip changed the request\n--- in\n%s\n--- out\n%s\n--- via\n%s", choice, parallel, ja, jb, mid)
			}
		}
	}
}

// An Anthropic request in the forms that survive a round trip: no thinking
// blocks, no cache_control, no is_error.
const anthropicConversation = `{
  "model": "client-model",
  "max_tokens": 512,
  "system": [{"type": "text", "text": "Rule one."}, {"type": "text", "text": "Rule two."}],
  "messages": [
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": [
      {"type": "text", "text": "Checking."},
      {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
      {"type": "text", "text": "And you?"},
      {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0lGOD=="}}
    ]},
    {"role": "assistant", "content": "Fine."}
  ],
  "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
  "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
  "stop_sequences": ["END"],
  "metadata": {"user_id": "u1"},
  "temperature": 0.3,
  "stream": true
}`

func TestRoundTripAnthropic(t *testing.T) {
	mid, err := AnthropicToOpenAIChat([]byte(anthropicConversation), "gpt-x")
	if err != nil {
		t.Fatal(err)
	}
	back, err := OpenAIChatToAnthropic(mid, "client-model", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, []byte(anthropicConversation), back) {
		t.Errorf("round trip changed the request\n--- out\n%s\n--- via\n%s", back, mid)
	}
}
