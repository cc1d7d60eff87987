package translate

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/memproxy/memproxy/gateway/llm"
)

func TestResponsesToOpenAIChat(t *testing.T) {
	cases := []goldenCase{
		{name: "codex"},
		{name: "string_input"},
		{name: "images"},
		{name: "json_object"},
		{name: "tool_choice_function"},
		{name: "allowed_tools"},
		{name: "only_dropped_tools"},
		{name: "err_previous_response_id", errField: "previous_response_id"},
		{name: "err_conversation", errField: "conversation"},
		{name: "err_background", errField: "background"},
		{name: "err_tool_choice_hosted", errField: "tool_choice.type"},
		{name: "err_tool_choice_custom", errField: "tool_choice.type"},
		{name: "err_required_dropped", errField: "tool_choice"},
		{name: "err_tool_choice_unknown", errField: "tool_choice.name"},
		{name: "err_item_reference", errField: "input[0].type"},
		{name: "err_local_shell_call", errField: "input[1].type"},
		{name: "err_input_file", errField: "input[0].content[1].type"},
		{name: "err_image_file_id", errField: "input[0].content[0].image_url"},
		{name: "err_system_image", errField: "input[0].content[0].type"},
		{name: "err_role", errField: "input[0].role"},
		{name: "err_no_input", errField: "input"},
		{name: "err_unknown_field", errField: "frobnicate"},
		{name: "err_format", errField: "text.format.type"},
		{name: "err_content_type", errField: "input[1]"},
	}
	runGolden(t, "testdata/responses_openai/request", cases, func(in []byte) ([]byte, llm.Usage, error) {
		out, err := ResponsesToOpenAIChat(in, "claude-sonnet-4-5")
		return out, llm.Usage{}, err
	})
}

// TestResponsesToOpenAIChatChains checks that every translated request is
// one OpenAIChatToAnthropic accepts, so Responses → Chat → Anthropic works
// by chaining; json_schema output, which Anthropic lacks, is the exception
// and is refused there by name.
func TestResponsesToOpenAIChatChains(t *testing.T) {
	for _, name := range []string{"codex", "string_input", "images", "json_object", "tool_choice_function", "allowed_tools", "only_dropped_tools"} {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile("testdata/responses_openai/request/" + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			chat, err := ResponsesToOpenAIChat(in, "claude-x")
			if err != nil {
				t.Fatal(err)
			}
			_, err = OpenAIChatToAnthropic(chat, "claude-x", 1024)
			if te, ok := errors.AsType[*Error](err); name == "string_input" || name == "json_object" {
				if !ok || te.Field != "response_format" {
					t.Fatalf("err = %v, want the refusal of response_format", err)
				}
			} else if err != nil {
				t.Fatalf("OpenAIChatToAnthropic refuses the translation: %v\n%s", err, chat)
			}
		})
	}
}

// TestResponsesToOpenAIChatCodexShape spells out, outside the golden file,
// the mapping decisions a Codex request depends on.
func TestResponsesToOpenAIChatCodexShape(t *testing.T) {
	in, err := os.ReadFile("testdata/responses_openai/request/codex.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := ResponsesToOpenAIChat(in, "up")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Model    string `json:"model"`
		Messages []struct {
			Role       string                `json:"role"`
			Content    json.RawMessage       `json:"content"`
			ToolCalls  []struct{ ID string } `json:"tool_calls"`
			ToolCallID string                `json:"tool_call_id"`
		} `json:"messages"`
		Tools []struct {
			Function struct{ Name string }
		} `json:"tools"`
		ToolChoice      string          `json:"tool_choice"`
		Parallel        *bool           `json:"parallel_tool_calls"`
		StreamOptions   json.RawMessage `json:"stream_options"`
		ReasoningEffort string          `json:"reasoning_effort"`
		Verbosity       string          `json:"verbosity"`
		Store           json.RawMessage `json:"store"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	roles := ""
	for _, m := range got.Messages {
		roles += m.Role[:1]
	}
	// system (instructions), system (developer), user, user, assistant
	// (text + 2 calls; reasoning dropped), tool, tool, assistant, user.
	if roles != "ssuuattau" {
		t.Errorf("roles = %s", roles)
	}
	if m := got.Messages[4]; len(m.ToolCalls) != 2 || m.ToolCalls[0].ID != "call_Kx1" || string(m.Content) != `"I'll list the files, then run the tests."` {
		t.Errorf("merged assistant message = %+v", m)
	}
	if got.Messages[5].ToolCallID != "call_Kx1" || got.Messages[6].ToolCallID != "call_Kx2" {
		t.Errorf("tool messages = %+v", got.Messages[5:7])
	}
	if len(got.Tools) != 2 || got.Tools[0].Function.Name != "shell" || got.Tools[1].Function.Name != "update_plan" {
		t.Errorf("tools = %+v, want shell and update_plan only", got.Tools)
	}
	if got.Model != "up" || got.ToolChoice != "auto" || got.Parallel == nil || *got.Parallel ||
		string(got.StreamOptions) != `{"include_usage":true}` || got.ReasoningEffort != "medium" || got.Verbosity != "low" || got.Store != nil {
		t.Errorf("parameters = %s", out)
	}
}
