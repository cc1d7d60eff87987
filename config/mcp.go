package config

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// MCPServer is one mcp_servers entry (the seed's and LiteLLM's shape): an
// MCP server whose tools the gateway's tool loop offers the model, named
// <server>__<tool>. Servers come from this file only; nothing in a request
// can name, start or reach one.
type MCPServer struct {
	// Transport is "http" or "streamable_http" (the same: streamable
	// HTTP), "sse" (the legacy HTTP+SSE transport) or "stdio". Empty means
	// stdio when Command is set, else http. TransportKind gives the
	// canonical form.
	Transport string `yaml:"transport"`
	// URL is the endpoint of an http or sse server (http:// or https://).
	URL string `yaml:"url"`
	// Command and Args start a stdio server; the command runs directly
	// (no shell), with only Env added to a minimal environment (PATH, HOME
	// and a few more), so the gateway's own secrets are not handed to it.
	Command string            `yaml:"command"`
	Args    []string          `yaml:"args"`
	Env     map[string]Secret `yaml:"env"`
	// Headers are sent with every request to an http or sse server.
	Headers map[string]Secret `yaml:"headers"`
	// AuthType and AuthValue add a credential header to an http or sse
	// server's requests: "none" (default), "bearer_token" (Authorization:
	// Bearer V), "api_key" (X-API-Key: V), "basic" (Authorization: Basic
	// V, V being the base64 text), "authorization" (Authorization: V).
	AuthType  string `yaml:"auth_type"`
	AuthValue Secret `yaml:"auth_value"`
	// AllowedTools, when set, lists the server's tool names (as the
	// server names them, without the prefix) that are offered; absent
	// offers every tool.
	AllowedTools []string `yaml:"allowed_tools"`
}

// MCP transports, canonical.
const (
	MCPTransportHTTP  = "http"
	MCPTransportSSE   = "sse"
	MCPTransportStdio = "stdio"
)

// MaxMCPServerName bounds a server name, so that <server>__<tool> keeps
// room for the tool within OpenAI's 64-character function names.
const MaxMCPServerName = 32

var (
	mcpTransports = []string{"http", "streamable_http", "sse", "stdio"}
	mcpAuthTypes  = []string{"none", "bearer_token", "api_key", "basic", "authorization"}
	mcpServerName = regexp.MustCompile(`^[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*$`)
)

// TransportKind returns the canonical transport: MCPTransportHTTP,
// MCPTransportSSE or MCPTransportStdio.
func (m MCPServer) TransportKind() string {
	switch m.Transport {
	case "http", "streamable_http":
		return MCPTransportHTTP
	case "":
		if m.Command != "" {
			return MCPTransportStdio
		}
		return MCPTransportHTTP
	}
	return m.Transport
}

// RequestHeaders returns the headers sent to an http or sse server:
// Headers plus the AuthType credential. Only the gateway's MCP client
// calls it.
func (m MCPServer) RequestHeaders() map[string]string {
	h := make(map[string]string, len(m.Headers)+1)
	for k, v := range m.Headers {
		h[k] = v.Reveal()
	}
	v := m.AuthValue.Reveal()
	switch m.AuthType {
	case "bearer_token":
		h["Authorization"] = "Bearer " + v
	case "api_key":
		h["X-API-Key"] = v
	case "basic":
		h["Authorization"] = "Basic " + v
	case "authorization":
		h["Authorization"] = v
	}
	return h
}

// validateMCPServers checks mcp_servers: names fit tool names, each server
// has what its transport needs, and nothing that it does not.
func validateMCPServers(d *decoder, servers map[string]MCPServer) {
	for _, name := range slices.Sorted(maps.Keys(servers)) {
		m := servers[name]
		p := "mcp_servers." + name
		if len(name) > MaxMCPServerName || !mcpServerName.MatchString(name) {
			d.fail(p, "server names are 1 to %d letters, digits, '-' and single '_' between them (tools are named <server>__<tool>)", MaxMCPServerName)
		}
		if m.Transport != "" && !slices.Contains(mcpTransports, m.Transport) {
			d.fail(p+".transport", "must be one of %s, got %q", strings.Join(mcpTransports, ", "), m.Transport)
			continue
		}
		if m.TransportKind() == MCPTransportStdio {
			m.validateStdio(d, p)
		} else {
			m.validateHTTP(d, p)
		}
		seen := map[string]bool{}
		if m.AllowedTools != nil && len(m.AllowedTools) == 0 {
			d.fail(p+".allowed_tools", "an empty list allows no tool: list tool names, or leave allowed_tools out to allow all")
		}
		for i, t := range m.AllowedTools {
			k := fmt.Sprintf("%s.allowed_tools[%d]", p, i)
			switch {
			case strings.TrimSpace(t) == "" || strings.ContainsAny(t, " \t\r\n"):
				d.fail(k, "must be a tool name as the server lists it (no spaces), got %q", t)
			case strings.HasPrefix(t, name+"__"):
				d.fail(k, "name the tool as the server does, without the %q prefix", name+"__")
			case seen[t]:
				d.fail(k, "%q is listed twice", t)
			}
			seen[t] = true
		}
	}
}

func (m MCPServer) validateStdio(d *decoder, p string) {
	if strings.TrimSpace(m.Command) == "" {
		d.fail(p+".command", "required for the stdio transport: the program to run, e.g. npx or /usr/local/bin/my-mcp-server")
	}
	if m.URL != "" {
		d.fail(p+".url", "not used by the stdio transport (set transport: http or sse to reach a server by URL)")
	}
	if len(m.Headers) > 0 {
		d.fail(p+".headers", "not used by the stdio transport")
	}
	if m.AuthType != "" && m.AuthType != "none" || m.AuthValue != "" {
		d.fail(p+".auth_type", "not used by the stdio transport; pass credentials in env")
	}
	for _, k := range slices.Sorted(maps.Keys(m.Env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			d.fail(p+".env."+k, "invalid environment variable name")
		} else if strings.ContainsRune(m.Env[k].Reveal(), 0) {
			d.fail(p+".env."+k, "value must not contain NUL")
		}
	}
}

func (m MCPServer) validateHTTP(d *decoder, p string) {
	if m.URL == "" {
		d.fail(p+".url", "required for the %s transport: the server's endpoint, e.g. http://127.0.0.1:8080/mcp", m.TransportKind())
	} else if u, err := url.Parse(m.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.fail(p+".url", "must be an http:// or https:// URL")
	}
	if m.Command != "" || len(m.Args) > 0 || len(m.Env) > 0 {
		d.fail(p+".command", "command, args and env are for the stdio transport only")
	}
	if m.AuthType != "" && !slices.Contains(mcpAuthTypes, m.AuthType) {
		d.fail(p+".auth_type", "must be one of %s, got %q", strings.Join(mcpAuthTypes, ", "), m.AuthType)
	}
	switch {
	case m.AuthType != "" && m.AuthType != "none" && m.AuthValue == "":
		d.fail(p+".auth_value", "required with auth_type %s", m.AuthType)
	case (m.AuthType == "" || m.AuthType == "none") && m.AuthValue != "":
		d.fail(p+".auth_type", "auth_value is set but auth_type is %q: say how to send it (bearer_token, api_key, basic, authorization)", m.AuthType)
	}
	for _, h := range slices.Sorted(maps.Keys(m.Headers)) {
		key := p + ".headers." + h
		if !validHeaderName(h) {
			d.fail(key, "invalid header name")
		} else if err := validHeaderValue(m.Headers[h].Reveal()); err != nil {
			d.fail(key, "header value %v", err)
		}
	}
	if err := validHeaderValue(m.AuthValue.Reveal()); err != nil {
		d.fail(p+".auth_value", "%v", err)
	}
}

// redactMCPServers returns a deep copy of servers with every secret and
// URL password masked.
func redactMCPServers(servers map[string]MCPServer) map[string]MCPServer {
	if servers == nil {
		return nil
	}
	out := make(map[string]MCPServer, len(servers))
	for name, m := range servers {
		m.URL = redactURL(m.URL)
		m.Args = slices.Clone(m.Args)
		m.AllowedTools = slices.Clone(m.AllowedTools)
		m.AuthValue = m.AuthValue.redact()
		m.Env = redactSecrets(m.Env)
		m.Headers = redactSecrets(m.Headers)
		out[name] = m
	}
	return out
}

func redactSecrets(m map[string]Secret) map[string]Secret {
	if m == nil {
		return nil
	}
	out := make(map[string]Secret, len(m))
	for k, v := range m {
		out[k] = v.redact()
	}
	return out
}
