// Package config holds memproxy's typed configuration: the gateway's YAML
// file (whose keys follow LiteLLM's config.yaml), the edge's login file and
// the client-detection table.
//
// Loading is strict. Defaults are applied first, then the file; values of the
// form os.environ/NAME are read from the environment. Unknown keys, missing
// variables, wrong types and duplicates are errors naming the file, the line
// and the dotted key. Keys that LiteLLM documents but memproxy does not
// implement yet are accepted and listed in Gateway.Ignored.
//
// This package is a leaf: it imports only the standard library and YAML.
package config

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults applied before the file is read.
const (
	DefaultMaxRequestSizeMB = 32                 // general_settings.max_request_size_mb
	DefaultUserIDHeader     = "x-memory-user-id" // user_id_mappings.custom_header
	DefaultUserID           = "default-dev"      // user_id_mappings.default_user_id
	maxRequestSizeMBLimit   = 4096
)

// Gateway is the gateway's configuration file, decoded and validated.
type Gateway struct {
	General        GeneralSettings `yaml:"general_settings"`
	Models         []Deployment    `yaml:"model_list"`
	UserIDMappings UserIDMappings  `yaml:"user_id_mappings"`
	// Memory is context_retrieval, defaults applied.
	Memory ContextRetrieval `yaml:"context_retrieval"`
	// Tools is tool_execution, defaults applied.
	Tools ToolExecution `yaml:"tool_execution"`
	// MCPServers is mcp_servers: MCP servers by name, whose tools the tool
	// loop offers as <server>__<tool> (see MCPServer).
	MCPServers map[string]MCPServer `yaml:"mcp_servers"`
	// Cache is litellm_settings.cache and cache_params.
	Cache Cache `yaml:"-"`
	// Limits are the users' and projects' limits (memproxy's own block).
	Limits Limits `yaml:"limits"`
	// Usage is the usage block: the journals' fsync mode.
	Usage UsageSettings `yaml:"usage"`
	// Telemetry is litellm_settings' otel keys (tracing export).
	Telemetry Telemetry `yaml:"-"`
	// Router is router_settings (and litellm_settings' routing keys),
	// defaults applied; see RouterSettings.
	Router RouterSettings `yaml:"-"`

	// Source is the path the config was read from; "" for Default().
	Source string `yaml:"-"`
	// Ignored lists, sorted and deduplicated, the dotted paths of keys that
	// were accepted but are not implemented ("[]" stands for list items,
	// e.g. model_list[].litellm_params.thinking). Log them once at start.
	Ignored []string `yaml:"-"`
}

// GeneralSettings is general_settings: server-wide settings.
type GeneralSettings struct {
	// MasterKey is the admin bearer key. Empty means none was configured;
	// the caller decides what to do (generate one, refuse to start).
	MasterKey Secret `yaml:"master_key"`
	// DatabaseURL is "" (embedded SQLite), "sqlite:PATH", or a
	// "postgres://" / "postgresql://" URL. Parse checks the scheme only.
	DatabaseURL string `yaml:"database_url"`
	// MaxRequestSizeMB is the request body limit in MB (default 32).
	MaxRequestSizeMB float64 `yaml:"max_request_size_mb"`
	// Serving bounds (memproxy's own keys; see serving.go).
	RequestBodyTimeout  float64 `yaml:"request_body_timeout"`   // seconds to receive a request body
	MaxConnectionsPerIP int     `yaml:"max_connections_per_ip"` // 0 = no cap
	DrainTimeout        float64 `yaml:"drain_timeout"`          // seconds running requests get at SIGTERM
}

// MaxRequestBytes returns the request body limit in bytes. A zero
// MaxRequestSizeMB (a struct not built by Parse or Default) means the
// default of 32 MB.
func (s GeneralSettings) MaxRequestBytes() int64 {
	mb := s.MaxRequestSizeMB
	if mb <= 0 {
		mb = DefaultMaxRequestSizeMB
	}
	return int64(mb * (1 << 20))
}

// Deployment is one model_list entry: a client-facing model name served by
// one upstream model.
type Deployment struct {
	ModelName string        `yaml:"model_name"`
	Params    LiteLLMParams `yaml:"litellm_params"`
	// ModelInfo is model_info kept as decoded (maps, lists, scalars).
	ModelInfo map[string]any `yaml:"model_info"`

	// Provider is the canonical adapter: one of the Provider* constants.
	Provider string `yaml:"-"`
	// ProviderName is the LiteLLM provider that selected Provider:
	// custom_llm_provider when set, else the model prefix (e.g. "groq").
	ProviderName string `yaml:"-"`
	// UpstreamModel is the model name sent upstream: the part of
	// litellm_params.model after the first "/".
	UpstreamModel string `yaml:"-"`
	// BaseURL is the effective api_base without a trailing slash: the
	// configured one or the provider's default; "" for the mock provider.
	BaseURL string `yaml:"-"`
	// Price is the deployment's configured price, from the LiteLLM cost
	// keys in litellm_params or model_info (see Price); nil when none is
	// configured and the gateway's own price table applies.
	Price *Price `yaml:"-"`
}

// LiteLLMParams is a deployment's litellm_params.
type LiteLLMParams struct {
	Model             string            `yaml:"model"` // "provider/upstream-model"
	APIBase           string            `yaml:"api_base"`
	APIKey            Secret            `yaml:"api_key"`
	CustomLLMProvider string            `yaml:"custom_llm_provider"`
	ExtraHeaders      map[string]Secret `yaml:"extra_headers"`
	Timeout           float64           `yaml:"timeout"`        // seconds, whole request; 0 = caller's default
	StreamTimeout     float64           `yaml:"stream_timeout"` // seconds; 0 = caller's default
	RPM               int               `yaml:"rpm"`
	TPM               int               `yaml:"tpm"`

	// LiteLLM's custom pricing, USD per token; nil when not set. Read
	// Deployment.Price, which also takes them from model_info.
	InputCostPerToken           *float64 `yaml:"input_cost_per_token"`
	OutputCostPerToken          *float64 `yaml:"output_cost_per_token"`
	CacheReadInputTokenCost     *float64 `yaml:"cache_read_input_token_cost"`
	CacheCreationInputTokenCost *float64 `yaml:"cache_creation_input_token_cost"`
}

// TimeoutDuration returns Timeout as a Duration (0 when unset).
func (p LiteLLMParams) TimeoutDuration() time.Duration { return seconds(p.Timeout) }

// StreamTimeoutDuration returns StreamTimeout as a Duration (0 when unset).
func (p LiteLLMParams) StreamTimeoutDuration() time.Duration { return seconds(p.StreamTimeout) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// UserIDMappings is user_id_mappings: how a request over plain HTTP with the
// master key picks its user — the CustomHeader, then the first matching
// HeaderPatterns rule, then DefaultUserID.
type UserIDMappings struct {
	CustomHeader   string          `yaml:"custom_header"`
	HeaderPatterns []HeaderPattern `yaml:"header_patterns"`
	DefaultUserID  string          `yaml:"default_user_id"`
}

// HeaderPattern maps requests whose Header matches Pattern to UserID.
type HeaderPattern struct {
	Header  string `yaml:"header"`
	Pattern string `yaml:"pattern"` // Go regexp syntax
	UserID  string `yaml:"user_id"`

	re *regexp.Regexp
}

// Regexp returns the compiled Pattern; nil for a HeaderPattern that did not
// come from Parse.
func (h HeaderPattern) Regexp() *regexp.Regexp { return h.re }

// Default returns the configuration used when the gateway runs without a
// file: one model "mock" (mock/echo), no master key, embedded SQLite, and
// memory on (the local backend in that database, rules-mode write-back of
// each exchange) so a first run shows what memproxy is for. A config file
// starts from the same defaults but with memory off until its
// context_retrieval says enabled: true.
func Default() *Gateway {
	g := defaults()
	g.Memory.Enabled = true
	g.Memory.Backend = "local"
	g.Models = []Deployment{{
		ModelName:     "mock",
		Params:        LiteLLMParams{Model: "mock/echo"},
		Provider:      ProviderMock,
		ProviderName:  "mock",
		UpstreamModel: "echo",
	}}
	return g
}

func defaults() *Gateway {
	return &Gateway{
		General:        defaultGeneral(),
		UserIDMappings: UserIDMappings{CustomHeader: DefaultUserIDHeader, DefaultUserID: DefaultUserID},
		Router:         defaultRouter(),
		Memory:         defaultContextRetrieval(),
		Tools:          defaultToolExecution(),
	}
}

// Load reads and parses the gateway config at path, resolving os.environ/
// references with os.LookupEnv. See Parse.
func Load(path string) (*Gateway, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading gateway config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse decodes data, read from path (used only in messages), into a
// validated Gateway. env looks up os.environ/NAME references; a nil env has
// no variables. On failure it returns nil and every problem found, each an
// *Error, joined and sorted by line.
func Parse(path string, data []byte, env func(string) (string, bool)) (*Gateway, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	d := newDecoder(path, env, gatewayKeys())
	f := &gatewayFile{Gateway: *defaults()}
	g := &f.Gateway
	if top := d.root(data); top != nil {
		d.value(top, reflect.ValueOf(f).Elem(), keyPath{})
		g.validate(d)
		g.Router = d.resolveRouter(f)
		g.Cache = d.resolveCache(f)
		g.Telemetry = d.resolveTelemetry(f)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	g.Source = path
	g.Ignored = d.ignoredPaths()
	return g, nil
}

func (g *Gateway) validate(d *decoder) {
	gs := &g.General
	if u := gs.DatabaseURL; u != "" {
		scheme, rest, _ := strings.Cut(u, ":")
		switch scheme {
		case "sqlite":
			if rest == "" {
				d.fail("general_settings.database_url", "sqlite: needs a file path, e.g. sqlite:/var/lib/memproxy/memproxy.db")
			}
		case "postgres", "postgresql":
			if _, err := url.Parse(u); err != nil || !strings.HasPrefix(rest, "//") {
				d.fail("general_settings.database_url", "invalid %s URL", scheme)
			}
		default:
			// Name only the scheme: the URL may hold a password.
			d.fail("general_settings.database_url", "unsupported scheme %q: use sqlite:PATH, postgres://… or postgresql://…, or leave empty for the embedded SQLite", scheme)
		}
	}
	if mb := gs.MaxRequestSizeMB; mb <= 0 || mb > maxRequestSizeMBLimit {
		d.fail("general_settings.max_request_size_mb", "must be more than 0 and at most %d, got %v", maxRequestSizeMBLimit, mb)
	}

	gs.validateServing(d.fail)
	if len(g.Models) == 0 {
		d.fail("model_list", "no models configured; add at least one model_list entry")
	}
	g.Usage.validate(d)
	g.Memory.validate(d, g.Models)
	g.Tools.validate(d, g.Memory.Enabled)
	validateMCPServers(d, g.MCPServers)
	for i := range g.Models {
		m := &g.Models[i]
		p := fmt.Sprintf("model_list[%d]", i)
		switch name := strings.TrimSpace(m.ModelName); {
		case name == "":
			d.fail(p+".model_name", "required")
		case name != m.ModelName:
			d.fail(p+".model_name", "must not start or end with spaces")
		}
		d.resolveProvider(m, p)
		d.resolvePrice(m, p)
		lp := &m.Params
		for _, n := range []struct {
			key string
			v   float64
		}{{"timeout", lp.Timeout}, {"stream_timeout", lp.StreamTimeout}, {"rpm", float64(lp.RPM)}, {"tpm", float64(lp.TPM)}} {
			if n.v < 0 {
				d.fail(p+".litellm_params."+n.key, "must not be negative")
			}
		}
		for _, h := range slices.Sorted(maps.Keys(lp.ExtraHeaders)) {
			key := p + ".litellm_params.extra_headers." + h
			if !validHeaderName(h) {
				d.fail(key, "invalid header name")
			} else if err := validHeaderValue(lp.ExtraHeaders[h].Reveal()); err != nil {
				d.fail(key, "header value %v", err)
			}
		}
	}
	d.checkDeployments(g.Models)

	um := &g.UserIDMappings
	if um.CustomHeader == "" {
		um.CustomHeader = DefaultUserIDHeader
	} else if !validHeaderName(um.CustomHeader) {
		d.fail("user_id_mappings.custom_header", "invalid header name %q", um.CustomHeader)
	}
	if um.DefaultUserID == "" {
		um.DefaultUserID = DefaultUserID
	}
	for i := range um.HeaderPatterns {
		hp := &um.HeaderPatterns[i]
		p := fmt.Sprintf("user_id_mappings.header_patterns[%d]", i)
		if !validHeaderName(hp.Header) {
			d.fail(p+".header", "required: a header name, e.g. user-agent")
		}
		if hp.UserID == "" {
			d.fail(p+".user_id", "required")
		}
		if hp.Pattern == "" {
			d.fail(p+".pattern", "required: a Go regular expression")
		} else if re, err := regexp.Compile(hp.Pattern); err != nil {
			d.fail(p+".pattern", "invalid regular expression: %v", err)
		} else {
			hp.re = re
		}
	}
}

// Redacted returns a deep copy that is safe to print or log: secrets are
// replaced by "[redacted]" (so even Reveal on the copy shows no credential)
// and passwords in database_url and api_base are masked.
func (g *Gateway) Redacted() *Gateway {
	c := *g
	c.General.MasterKey = g.General.MasterKey.redact()
	if c.General.DatabaseURL != "" && !strings.HasPrefix(c.General.DatabaseURL, "sqlite:") {
		c.General.DatabaseURL = redactDSN(c.General.DatabaseURL)
	}
	c.Models = slices.Clone(g.Models)
	for i := range c.Models {
		m := &c.Models[i]
		m.Params.APIKey = m.Params.APIKey.redact()
		m.Params.APIBase = redactURL(m.Params.APIBase)
		m.BaseURL = redactURL(m.BaseURL)
		if m.Params.ExtraHeaders != nil {
			h := make(map[string]Secret, len(m.Params.ExtraHeaders))
			for k, v := range m.Params.ExtraHeaders {
				h[k] = v.redact()
			}
			m.Params.ExtraHeaders = h
		}
		m.ModelInfo = maps.Clone(m.ModelInfo)
		m.Params.InputCostPerToken = clonePtr(m.Params.InputCostPerToken)
		m.Params.OutputCostPerToken = clonePtr(m.Params.OutputCostPerToken)
		m.Params.CacheReadInputTokenCost = clonePtr(m.Params.CacheReadInputTokenCost)
		m.Params.CacheCreationInputTokenCost = clonePtr(m.Params.CacheCreationInputTokenCost)
		m.Price = clonePtr(m.Price)
	}
	c.UserIDMappings.HeaderPatterns = slices.Clone(g.UserIDMappings.HeaderPatterns)
	if g.Router.Fallbacks != nil {
		c.Router.Fallbacks = make(map[string][]string, len(g.Router.Fallbacks))
		for k, v := range g.Router.Fallbacks {
			c.Router.Fallbacks[k] = slices.Clone(v)
		}
	}
	c.Telemetry = g.Telemetry.redacted()
	c.Cache.Params.Password = g.Cache.Params.Password.redact()
	c.MCPServers = redactMCPServers(g.MCPServers)
	c.Ignored = slices.Clone(g.Ignored)
	return &c
}

// redactDSN masks the password of a database URL, in the user info and in
// a password= query parameter.
func redactDSN(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redactedText
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
