package translate

import (
	"testing"

	"github.com/memproxy/memproxy/gateway/llm"
)

func TestOpenAIChatToAnthropic(t *testing.T) {
	cases := []goldenCase{
		{name: "basic"},
		{name: "system_blocks"},
		{name: "tools"},
		{name: "tool_choice_named"},
		{name: "tool_choice_none"},
		{name: "images"},
		{name: "merge"},
		{name: "err_n", errField: "n"},
		{name: "err_logprobs", errField: "logprobs"},
		{name: "err_top_logprobs", errField: "top_logprobs"},
		{name: "err_json_schema", errField: "response_format"},
		{name: "err_json_object", errField: "response_format"},
		{name: "err_audio", errField: "audio"},
		{name: "err_modalities", errField: "modalities"},
		{name: "err_logit_bias", errField: "logit_bias"},
		{name: "err_temperature", errField: "temperature"},
		{name: "err_functions", errField: "functions"},
		{name: "err_web_search", errField: "web_search_options"},
		{name: "err_unknown_field", errField: "frobnicate"},
		{name: "err_not_object", errField: "body"},
		{name: "err_wrong_type", errField: "messages"},
		{name: "err_bad_arguments", errField: "messages[1].tool_calls[0].function.arguments"},
		{name: "err_array_arguments", errField: "messages[1].tool_calls[0].function.arguments"},
		{name: "err_image_scheme", errField: "messages[0].content[0].image_url.url"},
		{name: "err_image_media_type", errField: "messages[0].content[1].image_url.url"},
		{name: "err_image_not_base64", errField: "messages[0].content[0].image_url.url"},
		{name: "err_input_audio", errField: "messages[0].content[1].type"},
		{name: "err_file_part", errField: "messages[0].content[0].type"},
		{name: "err_function_role", errField: "messages[1].role"},
		{name: "err_custom_tool", errField: "tools[0].type"},
		{name: "err_allowed_tools", errField: "tool_choice"},
		{name: "err_tool_no_id", errField: "messages[0].tool_call_id"},
		{name: "err_assistant_function_call", errField: "messages[1].function_call"},
		{name: "err_system_image", errField: "messages[0].content[0].type"},
	}
	runGolden(t, "testdata/openai_anthropic/request", cases, func(in []byte) ([]byte, llm.Usage, error) {
		out, err := OpenAIChatToAnthropic(in, "claude-sonnet-4-5", 4096)
		return out, llm.Usage{}, err
	})
}

func TestAnthropicResponseToOpenAIChat(t *testing.T) {
	cases := []goldenCase{
		{name: "text", usage: llm.Usage{PromptTokens: 2095, CompletionTokens: 503, CachedTokens: 1800, CacheWriteTokens: 200}},
		{name: "tool_use", usage: llm.Usage{PromptTokens: 472, CompletionTokens: 89}},
		{name: "tool_only", usage: llm.Usage{PromptTokens: 30, CompletionTokens: 12, CachedTokens: 10}},
		{name: "max_tokens", usage: llm.Usage{PromptTokens: 10, CompletionTokens: 16}},
		{name: "stop_sequence", usage: llm.Usage{PromptTokens: 10, CompletionTokens: 4}},
		{name: "refusal", usage: llm.Usage{PromptTokens: 10, CompletionTokens: 3}},
		{name: "pause_turn", usage: llm.Usage{PromptTokens: 10, CompletionTokens: 3}},
		{name: "err_not_message", errField: "type"},
		{name: "err_server_tool", errField: "content[1].type"},
	}
	runGolden(t, "testdata/openai_anthropic/response", cases, func(in []byte) ([]byte, llm.Usage, error) {
		return AnthropicResponseToOpenAIChat(in, "my-claude")
	})
}
