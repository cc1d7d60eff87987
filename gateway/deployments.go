package gateway

import (
	"context"
	"fmt"
	"net/http"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/provider/anthropic"
	"github.com/memproxy/memproxy/gateway/provider/mock"
	"github.com/memproxy/memproxy/gateway/provider/openai"
)

// buildDeployments turns the config's model_list into the routing table.
func buildDeployments(cfg *config.Gateway, hc *http.Client) (*provider.Table, error) {
	deps := make([]*provider.Deployment, 0, len(cfg.Models))
	for _, m := range cfg.Models {
		p, err := newProvider(m, hc)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.ModelName, err)
		}
		deps = append(deps, &provider.Deployment{
			ModelName: m.ModelName, UpstreamModel: m.UpstreamModel, ProviderName: m.ProviderName,
			Dialect: dialectFor(m.Provider), Provider: p, StreamIdle: m.Params.StreamTimeoutDuration(),
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

func newProvider(m config.Deployment, hc *http.Client) (provider.Provider, error) {
	h := http.Header{}
	for k, v := range m.Params.ExtraHeaders {
		h.Set(k, v.Reveal())
	}
	switch m.Provider {
	case config.ProviderMock:
		return mock.Adapter{}, nil
	case config.ProviderOpenAI:
		return openai.New(openai.Options{
			BaseURL: m.BaseURL, APIKey: m.Params.APIKey.Reveal(), Header: h, Timeout: m.Params.TimeoutDuration(), Client: hc,
			Ops: []string{provider.OpChat, provider.OpCompletions, provider.OpEmbeddings, provider.OpResponses},
		}), nil
	case config.ProviderOpenAICompatible:
		return openai.New(openai.Options{
			BaseURL: m.BaseURL, APIKey: m.Params.APIKey.Reveal(), Header: h, Timeout: m.Params.TimeoutDuration(), Client: hc,
		}), nil
	case config.ProviderAnthropic:
		return anthropic.New(anthropic.Options{
			BaseURL: m.BaseURL, APIKey: m.Params.APIKey.Reveal(), Header: h, Timeout: m.Params.TimeoutDuration(), Client: hc,
		}), nil
	default:
		return notYet{m.Provider}, nil
	}
}

// notYet stands for a provider whose adapter is not in this build: the
// model is listed, and a request to it is refused with a clear message
// instead of failing at start on a config that is otherwise valid.
type notYet struct{ name string }

func (n notYet) Do(context.Context, *provider.Request) (*provider.Response, error) {
	return nil, fmt.Errorf("%w: the %s provider is not implemented in this build yet", provider.ErrUnsupported, n.name)
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
