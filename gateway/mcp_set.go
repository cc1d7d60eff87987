package gateway

import (
	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/mcp"
	"github.com/memproxy/memproxy/internal/version"
)

// newMCPSet starts connecting to the configured MCP servers, in the
// background; nil when there are none or tool execution is off.
func newMCPSet(cfg *config.Gateway, opts Options) *mcp.Set {
	if len(cfg.MCPServers) == 0 {
		return nil
	}
	if !cfg.Tools.Enabled {
		opts.Logger.Warn("mcp_servers are configured but tool_execution.enabled is false: their tools are not offered")
		return nil
	}
	var servers []mcp.ServerConfig
	for name, m := range cfg.MCPServers {
		env := make(map[string]string, len(m.Env))
		for k, v := range m.Env {
			env[k] = v.Reveal()
		}
		servers = append(servers, mcp.ServerConfig{Name: name, Transport: m.TransportKind(), URL: m.URL, Headers: m.RequestHeaders(),
			Command: m.Command, Args: m.Args, Env: env, AllowedTools: m.AllowedTools})
	}
	return mcp.Start(mcp.Options{Servers: servers, Logger: opts.Logger, HTTPClient: opts.HTTPClient, Version: version.Version})
}
