package config

import (
	"fmt"
	"testing"
)

func TestProviderResolution(t *testing.T) {
	for _, tc := range []struct {
		params                                    string // litellm_params in flow style
		provider, providerName, upstream, baseURL string
	}{
		{"{model: openai/gpt-4o, api_key: k}", "openai", "openai", "gpt-4o", "https://api.openai.com/v1"},
		{"{model: openai/qwen, api_base: 'http://10.0.0.5:8000/v1/'}", "openai", "openai", "qwen", "http://10.0.0.5:8000/v1"},
		{"{model: anthropic/claude-opus-4-1, api_key: k}", "anthropic", "anthropic", "claude-opus-4-1", "https://api.anthropic.com"},
		{"{model: gemini/gemini-2.5-flash, api_key: k}", "gemini", "gemini", "gemini-2.5-flash", "https://generativelanguage.googleapis.com/v1beta"},
		{"{model: mock/echo}", "mock", "mock", "echo", ""},
		{"{model: openrouter/anthropic/claude-3.5-sonnet, api_key: k}", "openai_compatible", "openrouter", "anthropic/claude-3.5-sonnet", "https://openrouter.ai/api/v1"},
		{"{model: groq/llama-3.3-70b-versatile, api_key: k}", "openai_compatible", "groq", "llama-3.3-70b-versatile", "https://api.groq.com/openai/v1"},
		{"{model: deepseek/deepseek-chat, api_key: k}", "openai_compatible", "deepseek", "deepseek-chat", "https://api.deepseek.com/v1"},
		{"{model: together_ai/meta-llama/Llama-3-70b, api_key: k}", "openai_compatible", "together_ai", "meta-llama/Llama-3-70b", "https://api.together.xyz/v1"},
		{"{model: mistral/mistral-large-latest, api_key: k}", "openai_compatible", "mistral", "mistral-large-latest", "https://api.mistral.ai/v1"},
		{"{model: xai/grok-4, api_key: k}", "openai_compatible", "xai", "grok-4", "https://api.x.ai/v1"},
		{"{model: fireworks_ai/accounts/fireworks/models/llama-v3, api_key: k}", "openai_compatible", "fireworks_ai", "accounts/fireworks/models/llama-v3", "https://api.fireworks.ai/inference/v1"},
		{"{model: ollama/llama3.1}", "openai_compatible", "ollama", "llama3.1", "http://localhost:11434/v1"},
		{"{model: ollama_chat/llama3.1, api_base: 'http://gpu:11434/'}", "openai_compatible", "ollama_chat", "llama3.1", "http://gpu:11434/v1"},
		{"{model: ollama/llama3.1, api_base: 'http://gpu:11434/v1'}", "openai_compatible", "ollama", "llama3.1", "http://gpu:11434/v1"},
		{"{model: lm_studio/qwen2.5-coder}", "openai_compatible", "lm_studio", "qwen2.5-coder", "http://localhost:1234/v1"},
		{"{model: hosted_vllm/meta-llama/Llama-3.1-8B, api_base: 'https://vllm.internal/v1'}", "openai_compatible", "hosted_vllm", "meta-llama/Llama-3.1-8B", "https://vllm.internal/v1"},
		{"{model: vllm/m, api_base: 'http://localhost:8000/v1'}", "openai_compatible", "vllm", "m", "http://localhost:8000/v1"},
		// custom_llm_provider wins; the prefix is stripped only when it names
		// that provider (as LiteLLM does).
		{"{model: gemini/gemini-2.5-pro, custom_llm_provider: gemini, api_key: k}", "gemini", "gemini", "gemini-2.5-pro", "https://generativelanguage.googleapis.com/v1beta"},
		{"{model: anthropic/claude-3.5-sonnet, custom_llm_provider: openrouter, api_key: k}", "openai_compatible", "openrouter", "anthropic/claude-3.5-sonnet", "https://openrouter.ai/api/v1"},
		{"{model: gpt-4o, custom_llm_provider: openai, api_key: k}", "openai", "openai", "gpt-4o", "https://api.openai.com/v1"},
	} {
		src := fmt.Sprintf("model_list:\n  - model_name: m\n    litellm_params: %s\n", tc.params)
		g, err := Parse("gw.yaml", []byte(src), nil)
		if err != nil {
			t.Errorf("%s: %v", tc.params, err)
			continue
		}
		m := g.Models[0]
		if m.Provider != tc.provider || m.ProviderName != tc.providerName || m.UpstreamModel != tc.upstream || m.BaseURL != tc.baseURL {
			t.Errorf("%s:\n got %q %q %q %q\nwant %q %q %q %q", tc.params,
				m.Provider, m.ProviderName, m.UpstreamModel, m.BaseURL, tc.provider, tc.providerName, tc.upstream, tc.baseURL)
		}
	}
}
