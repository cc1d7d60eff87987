package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/pricing"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/provider/anthropic"
	"github.com/memproxy/memproxy/gateway/provider/gemini"
	"github.com/memproxy/memproxy/gateway/provider/mock"
	"github.com/memproxy/memproxy/gateway/provider/openai"
)

// buildDeployments turns the config's model_list into the routing table.
func buildDeployments(cfg *config.Gateway, hc *http.Client) (*provider.Table, error) {
	deps := make([]*provider.Deployment, 0, len(cfg.Models))
	for _, m := range cfg.Models {
		p, err := newProvider(m, hc, cfg.Router.Timeout)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.ModelName, err)
		}
		deps = append(deps, &provider.Deployment{
			ModelName: m.ModelName, UpstreamModel: m.UpstreamModel, ProviderName: m.ProviderName,
			Dialect: dialectFor(m.Provider), Responses: nativeResponses(m), Supermemory: supermemoryRouter(m), Provider: p, StreamIdle: m.Params.StreamTimeoutDuration(),
		})
	}
	return provider.NewTable(deps), nil
}

func dialectFor(p string) string {
	switch p {
	case config.ProviderAnthropic:
		return provider.DialectAnthropic
	case config.ProviderGemini:
		return provider.DialectGemini
	default:
		return provider.DialectOpenAI
	}
}

func newProvider(m config.Deployment, hc *http.Client, defTimeout time.Duration) (provider.Provider, error) {
	timeout := m.Params.TimeoutDuration()
	if timeout == 0 {
		timeout = defTimeout
	}
	h := http.Header{}
	for k, v := range m.Params.ExtraHeaders {
		h.Set(k, v.Reveal())
	}
	switch m.Provider {
	case config.ProviderMock:
		return mock.Adapter{}, nil
	case config.ProviderOpenAI:
		return openai.New(openai.Options{
			BaseURL: m.BaseURL, APIKey: m.Params.APIKey.Reveal(), Header: h, Timeout: timeout, Client: hc,
			Ops: []string{provider.OpChat, provider.OpCompletions, provider.OpEmbeddings, provider.OpResponses},
		}), nil
	case config.ProviderOpenAICompatible:
		return openai.New(openai.Options{
			BaseURL: m.BaseURL, APIKey: m.Params.APIKey.Reveal(), Header: h, Timeout: timeout, Client: hc,
		}), nil
	case config.ProviderGemini:
		return gemini.New(gemini.Options{
			BaseURL: m.BaseURL, Model: m.UpstreamModel, APIKey: m.Params.APIKey.Reveal(), Header: h,
			Timeout: timeout, Client: hc,
		}), nil
	case config.ProviderAnthropic:
		return anthropic.New(anthropic.Options{
			BaseURL: m.BaseURL, APIKey: m.Params.APIKey.Reveal(), Header: h, Timeout: timeout, Client: hc,
		}), nil
	default:
		return nil, fmt.Errorf("no adapter for provider %q", m.Provider)
	}
}

func buildResolver(cfg *config.Gateway) (*auth.Resolver, error) {
	clients, err := config.NewClientTable(nil)
	if err != nil {
		return nil, err
	}
	r := &auth.Resolver{
		CustomHeader: cfg.UserIDMappings.CustomHeader,
		DefaultUser:  cfg.UserIDMappings.DefaultUserID,
		DetectClient: clients.Detect,
	}
	for _, hp := range cfg.UserIDMappings.HeaderPatterns {
		if hp.Regexp() == nil {
			return nil, fmt.Errorf("user_id_mappings: pattern %q was not compiled (config not from config.Parse)", hp.Pattern)
		}
		r.Rules = append(r.Rules, auth.HeaderRule{Header: hp.Header, Pattern: hp.Regexp(), UserID: hp.UserID})
	}
	return r, nil
}

// buildPrices is the embedded price table with the config's per-model
// prices on top. Deployments sharing a name share one price: the first
// configured one.
func buildPrices(cfg *config.Gateway) *pricing.Table {
	ov := map[string]pricing.Price{}
	for _, m := range cfg.Models {
		if _, seen := ov[m.ModelName]; !seen && m.Price != nil {
			ov[m.ModelName] = pricing.Price(*m.Price)
		}
	}
	return pricing.Default().With(ov)
}

// nativeResponses reports a deployment that serves the Responses API
// itself: OpenAI's own API, or an OpenAI-style server whose model_info says
// native_responses: true. Compatible servers (vLLM, Ollama, …) mostly do
// not, so Responses requests reach them translated to chat.
func nativeResponses(m config.Deployment) bool {
	if m.Provider != config.ProviderOpenAI && m.Provider != config.ProviderOpenAICompatible {
		return false
	}
	if v, ok := m.ModelInfo["native_responses"].(bool); ok {
		return v
	}
	u, err := url.Parse(m.BaseURL)
	return m.Provider == config.ProviderOpenAI && err == nil && u.Hostname() == "api.openai.com"
}

// supermemoryRouter reports a deployment behind the Supermemory memory
// router (api_base https://api.supermemory.ai/v3/<provider host>), which
// keeps memories per x-sm-user-id.
func supermemoryRouter(m config.Deployment) bool {
	u, err := url.Parse(m.BaseURL)
	return err == nil && u.Hostname() == "api.supermemory.ai"
}
