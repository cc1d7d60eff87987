package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestMCPServersConfig(t *testing.T) {
	env := map[string]string{"GH_TOKEN": "ghp-secret", "NODE_OPT": "--max-old-space-size=64"}
	src := mockModel + `mcp_servers:
  github:
    url: https://mcp.example.com/mcp
    auth_type: bearer_token
    auth_value: os.environ/GH_TOKEN
    headers: {X-Team: core}
    allowed_tools: [search_issues, get_issue]
  legacy:
    transport: sse
    url: http://127.0.0.1:9000/sse
  everything:
    command: node
    args: [server.js, stdio]
    env: {NODE_OPTIONS: os.environ/NODE_OPT}
  streamed:
    transport: streamable_http
    url: http://127.0.0.1:9001/mcp
`
	g, err := Parse("gw.yaml", []byte(src), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Ignored) != 0 {
		t.Errorf("Ignored = %v: mcp_servers is implemented", g.Ignored)
	}
	gh := g.MCPServers["github"]
	if gh.TransportKind() != MCPTransportHTTP || len(gh.AllowedTools) != 2 {
		t.Errorf("github = %+v", gh)
	}
	if h := gh.RequestHeaders(); h["Authorization"] != "Bearer ghp-secret" || h["X-Team"] != "core" || len(h) != 2 {
		t.Errorf("github headers = %v", h)
	}
	if k := g.MCPServers["legacy"].TransportKind(); k != MCPTransportSSE {
		t.Errorf("legacy transport = %q", k)
	}
	if k := g.MCPServers["streamed"].TransportKind(); k != MCPTransportHTTP {
		t.Errorf("streamable_http transport = %q", k)
	}
	ev := g.MCPServers["everything"]
	if ev.TransportKind() != MCPTransportStdio || ev.Command != "node" || ev.Env["NODE_OPTIONS"].Reveal() != env["NODE_OPT"] {
		t.Errorf("everything = %+v", ev)
	}
	if g.MCPServers["legacy"].AllowedTools != nil {
		t.Error("absent allowed_tools must stay nil (all tools)")
	}

	// Secrets never print, even from the redacted copy.
	r := g.Redacted()
	if s := fmt.Sprintf("%+v %#v", r.MCPServers, g.MCPServers); strings.Contains(s, "ghp-secret") || strings.Contains(s, "max-old-space") {
		t.Errorf("secret printed: %s", s)
	}
	if r.MCPServers["github"].AuthValue.Reveal() == "ghp-secret" || g.MCPServers["github"].AuthValue.Reveal() != "ghp-secret" {
		t.Error("Redacted must mask the copy and leave the original")
	}
}

func TestMCPServersErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, key, msg string }{
		{"  x:\n    transport: websocket\n    url: http://h/mcp\n", "mcp_servers.x.transport", "must be one of http, streamable_http, sse, stdio"},
		{"  x:\n    transport: http\n", "mcp_servers.x.url", "required for the http transport"},
		{"  x:\n    transport: sse\n", "mcp_servers.x.url", "required for the sse transport"},
		{"  x:\n    url: ftp://h/mcp\n", "mcp_servers.x.url", "must be an http:// or https:// URL"},
		{"  x:\n    transport: stdio\n", "mcp_servers.x.command", "required for the stdio transport"},
		{"  x:\n    transport: stdio\n    command: node\n    url: http://h/\n", "mcp_servers.x.url", "not used by the stdio transport"},
		{"  x:\n    transport: http\n    url: http://h/mcp\n    command: node\n", "mcp_servers.x.command", "for the stdio transport only"},
		{"  x:\n    url: http://h/mcp\n    command: node\n", "mcp_servers.x.url", "not used by the stdio transport"},
		{"  x:\n    url: http://h/mcp\n    allowed_tools: []\n", "mcp_servers.x.allowed_tools", "an empty list allows no tool"},
		{"  x:\n    url: http://h/mcp\n    allowed_tools: [a, a]\n", "mcp_servers.x.allowed_tools[1]", `"a" is listed twice`},
		{"  x:\n    url: http://h/mcp\n    allowed_tools: [x__a]\n", "mcp_servers.x.allowed_tools[0]", "without the \"x__\" prefix"},
		{"  x:\n    url: http://h/mcp\n    allowed_tools: [\"two words\"]\n", "mcp_servers.x.allowed_tools[0]", "no spaces"},
		{"  x:\n    url: http://h/mcp\n    auth_type: oauth2\n    auth_value: v\n", "mcp_servers.x.auth_type", "must be one of none, bearer_token"},
		{"  x:\n    url: http://h/mcp\n    auth_type: bearer_token\n", "mcp_servers.x.auth_value", "required with auth_type bearer_token"},
		{"  x:\n    url: http://h/mcp\n    auth_value: v\n", "mcp_servers.x.auth_type", "auth_value is set"},
		{"  x:\n    url: http://h/mcp\n    headers: {\"bad header\": v}\n", "mcp_servers.x.headers.bad header", "invalid header name"},
		{"  x:\n    url: http://h/mcp\n    tools: [a]\n", "mcp_servers.x.tools", "unknown key"},
		{"  a__b:\n    url: http://h/mcp\n", "mcp_servers.a__b", "single '_' between them"},
		{"  _a:\n    url: http://h/mcp\n", "mcp_servers._a", "single '_' between them"},
		{"  has.dot:\n    url: http://h/mcp\n", "mcp_servers.has.dot", "single '_' between them"},
		{"  " + strings.Repeat("n", MaxMCPServerName+1) + ":\n    url: http://h/mcp\n", "mcp_servers.nnn", "1 to 32 letters"},
	} {
		_, err := Parse("gw.yaml", []byte(mockModel+"mcp_servers:\n"+tc.yaml), nil)
		if err == nil || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "gw.yaml:") {
			t.Errorf("%q: error %v, want %s: %s", tc.yaml, err, tc.key, tc.msg)
		}
	}
}
