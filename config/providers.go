package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// Canonical adapter names a Deployment's Provider takes.
const (
	ProviderOpenAI           = "openai"
	ProviderAnthropic        = "anthropic"
	ProviderGemini           = "gemini"
	ProviderMock             = "mock"
	ProviderOpenAICompatible = "openai_compatible" // OpenAI wire format at a non-OpenAI base URL
)

// providerInfo describes one LiteLLM provider name memproxy accepts.
type providerInfo struct {
	adapter  string // canonical adapter (Provider* constants)
	apiBase  string // default api_base; "" with needBase means none is well known
	needBase bool   // api_base must be given
	keyEnv   string // non-empty: hosted service that needs api_key at its default base; names the usual variable
}

// providers maps LiteLLM provider names (the model prefix or
// custom_llm_provider) to adapters. Default bases are the services'
// documented OpenAI-compatible endpoints.
var providers = map[string]providerInfo{
	"openai":    {adapter: ProviderOpenAI, apiBase: "https://api.openai.com/v1", keyEnv: "OPENAI_API_KEY"},
	"anthropic": {adapter: ProviderAnthropic, apiBase: "https://api.anthropic.com", keyEnv: "ANTHROPIC_API_KEY"},
	"gemini":    {adapter: ProviderGemini, apiBase: "https://generativelanguage.googleapis.com/v1beta", keyEnv: "GEMINI_API_KEY"},
	"mock":      {adapter: ProviderMock},

	"openrouter":   {adapter: ProviderOpenAICompatible, apiBase: "https://openrouter.ai/api/v1", keyEnv: "OPENROUTER_API_KEY"},
	"groq":         {adapter: ProviderOpenAICompatible, apiBase: "https://api.groq.com/openai/v1", keyEnv: "GROQ_API_KEY"},
	"deepseek":     {adapter: ProviderOpenAICompatible, apiBase: "https://api.deepseek.com/v1", keyEnv: "DEEPSEEK_API_KEY"},
	"together_ai":  {adapter: ProviderOpenAICompatible, apiBase: "https://api.together.xyz/v1", keyEnv: "TOGETHERAI_API_KEY"},
	"mistral":      {adapter: ProviderOpenAICompatible, apiBase: "https://api.mistral.ai/v1", keyEnv: "MISTRAL_API_KEY"},
	"xai":          {adapter: ProviderOpenAICompatible, apiBase: "https://api.x.ai/v1", keyEnv: "XAI_API_KEY"},
	"fireworks_ai": {adapter: ProviderOpenAICompatible, apiBase: "https://api.fireworks.ai/inference/v1", keyEnv: "FIREWORKS_AI_API_KEY"},
	"ollama":       {adapter: ProviderOpenAICompatible, apiBase: "http://localhost:11434/v1"},
	"ollama_chat":  {adapter: ProviderOpenAICompatible, apiBase: "http://localhost:11434/v1"},
	"lm_studio":    {adapter: ProviderOpenAICompatible, apiBase: "http://localhost:1234/v1"},
	"hosted_vllm":  {adapter: ProviderOpenAICompatible, needBase: true},
	"vllm":         {adapter: ProviderOpenAICompatible, needBase: true},
}

func knownProviders() string {
	return strings.Join(slices.Sorted(maps.Keys(providers)), ", ")
}

// resolveProvider fills m.Provider, m.ProviderName, m.UpstreamModel and
// m.BaseURL from its litellm_params, reporting problems under p (the
// deployment's display path, e.g. model_list[2]).
func (d *decoder) resolveProvider(m *Deployment, p string) {
	lp := &m.Params
	at := func(key string) string { return p + ".litellm_params." + key }
	if strings.TrimSpace(lp.Model) == "" {
		d.fail(at("model"), `required: "provider/model", e.g. openai/gpt-4o`)
		return
	}
	prefix, rest, slash := strings.Cut(lp.Model, "/")
	name, upstream := prefix, rest
	if lp.CustomLLMProvider != "" {
		// As in LiteLLM: custom_llm_provider picks the provider, and the
		// model loses its prefix only when the prefix names that provider
		// (so openrouter can serve "anthropic/claude-…" as is).
		name, upstream = lp.CustomLLMProvider, lp.Model
		if slash && prefix == name {
			upstream = rest
		}
		if _, ok := providers[name]; !ok {
			d.fail(at("custom_llm_provider"), "unknown provider %q (known: %s)", name, knownProviders())
			return
		}
	} else if !slash || prefix == "" {
		d.fail(at("model"), `expected "provider/model" (e.g. openai/gpt-4o), got %q`, lp.Model)
		return
	}
	info, ok := providers[name]
	if !ok {
		d.fail(at("model"), "unknown provider prefix %q (known: %s)", name, knownProviders())
		return
	}
	if upstream == "" {
		d.fail(at("model"), "missing the upstream model name after %q", prefix+"/")
		return
	}
	m.Provider, m.ProviderName, m.UpstreamModel = info.adapter, name, upstream

	base := lp.APIBase
	switch {
	case base != "":
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
			d.fail(at("api_base"), "must be an absolute http(s) URL, got %q", redactURL(base))
			return
		}
		if u.RawQuery != "" || u.Fragment != "" {
			d.fail(at("api_base"), "must not carry a query or fragment")
			return
		}
		base = strings.TrimRight(base, "/")
		// LiteLLM's ollama provider takes the server root; memproxy speaks
		// Ollama's OpenAI-compatible API under /v1.
		if (name == "ollama" || name == "ollama_chat") && strings.Trim(u.Path, "/") == "" {
			base += "/v1"
		}
	case info.needBase:
		d.fail(at("api_base"), "required for provider %q (it has no well-known address)", name)
		return
	default:
		base = info.apiBase
	}
	m.BaseURL = base

	if info.keyEnv != "" && lp.APIBase == "" && lp.APIKey == "" {
		d.fail(at("api_key"), "required for provider %q, e.g. api_key: os.environ/%s", name, info.keyEnv)
	}
}

// redactURL hides a password in a URL's user info, for messages and
// Redacted copies; text that does not parse is replaced wholesale.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redactedText
	}
	if _, has := u.User.Password(); has {
		return u.Redacted()
	}
	return s
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 §5.1).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func validHeaderValue(s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return fmt.Errorf("must not contain CR, LF or NUL")
	}
	return nil
}
