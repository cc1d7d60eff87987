package translate

import (
	"testing"

	"github.com/memproxy/memproxy/gateway/llm"
)

func TestAnthropicToOpenAIChat(t *testing.T) {
	cases := []goldenCase{
		{name: "basic"},
		{name: "system_blocks"},
		{name: "tools"},
		{name: "tool_choice_tool"},
		{name: "tool_choice_none"},
		{name: "images"},
		{name: "err_max_tokens", errField: "max_tokens"},
		{name: "err_server_tool", errField: "tools[0].type"},
		{name: "err_document", errField: "messages[0].content[1].type"},
		{name: "err_tool_result_image", errField: "messages[2].content[0].content[0].type"},
		{name: "err_image_file", errField: "messages[0].content[0].source.type"},
		{name: "err_mcp_servers", errField: "mcp_servers"},
		{name: "err_container", errField: "container"},
		{name: "err_unknown_field", errField: "frobnicate"},
		{name: "err_role", errField: "messages[0].role"},
		{name: "system_turn"},
		{name: "err_output_format", errField: "output_config.format"},
		{name: "err_system_image", errField: "system[0].type"},
		{name: "err_tool_choice", errField: "tool_choice.type"},
		{name: "err_content_type", errField: "messages[0]"},
		{name: "err_server_tool_block", errField: "messages[1].content[0].type"},
	}
	runGolden(t, "testdata/anthropic_openai/request", cases, func(in []byte) ([]byte, llm.Usage, error) {
		out, err := AnthropicToOpenAIChat(in, "gpt-4.1")
		return out, llm.Usage{}, err
	})
}

func TestOpenAIChatResponseToAnthropic(t *testing.T) {
	cases := []goldenCase{
		{name: "text", usage: llm.Usage{PromptTokens: 1117, CompletionTokens: 46, CachedTokens: 1024}},
		{name: "tool_calls", usage: llm.Usage{PromptTokens: 82, CompletionTokens: 17}},
		{name: "text_and_tool", usage: llm.Usage{PromptTokens: 10, CompletionTokens: 5}},
		{name: "length", usage: llm.Usage{PromptTokens: 10, CompletionTokens: 16}},
		{name: "content_filter", usage: llm.Usage{PromptTokens: 10}},
		{name: "refusal", usage: llm.Usage{PromptTokens: 10, CompletionTokens: 9}},
		{name: "no_usage"},
		{name: "err_no_choices", errField: "choices"},
		{name: "err_bad_arguments", errField: "choices[0].message.tool_calls[0].function.arguments"},
	}
	runGolden(t, "testdata/anthropic_openai/response", cases, func(in []byte) ([]byte, llm.Usage, error) {
		return OpenAIChatResponseToAnthropic(in, "my-gpt")
	})
}
