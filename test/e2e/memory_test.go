package e2e

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// memoryConfig turns memory on with nothing else: the local backend in
// the gateway's own SQLite database, write-back on.
func memoryConfig(upstream string) string {
	return modelConfig(upstream) + "context_retrieval:\n  enabled: true\n"
}

// TestMemoryAcrossClients: what one client taught project shop is in the
// prompt of another client on shop, through the edge, and never in
// project billing's.
func TestMemoryAcrossClients(t *testing.T) {
	fake := providertest.NewOpenAI(t)
	g := startGateway(t, memoryConfig(fake.URL))
	e := newEdge(t, g, "alice")
	shop, billing := e.start("shop"), e.start("billing")

	out := e.run("memory", "add", "--project", "shop", "The shop project deploys with `make ship` on Tuesdays.")
	if !strings.Contains(out, "remembered as") {
		t.Fatalf("memory add: %s", out)
	}
	if out := e.run("memory", "search", "--project", "shop", "deploy"); !strings.Contains(out, "make ship") {
		t.Errorf("memory search: %s", out)
	}
	if out := e.run("memory", "search", "--project", "billing", "deploy"); strings.Contains(out, "make ship") {
		t.Errorf("billing sees shop's memory: %s", out)
	}

	resp, _ := chat(t, shop, `{"model":"gpt-e2e","messages":[{"role":"user","content":"how do we deploy this project?"}]}`, "claude-cli/2.0 (external, cli)")
	if resp.Header.Get("X-Memproxy-Memories") == "" {
		t.Errorf("no memories injected for shop: %v", resp.Header)
	}
	msgs, _ := json.Marshal(fake.Requests()[0].Body["messages"])
	if !strings.Contains(string(msgs), "make ship") || !strings.Contains(string(msgs), "memproxy-context") {
		t.Errorf("shop's prompt lacks the memory: %s", msgs)
	}
	resp, _ = chat(t, billing, `{"model":"gpt-e2e","messages":[{"role":"user","content":"how do we deploy this project?"}]}`, "OpenAIClientImpl/Java")
	if resp.Header.Get("X-Memproxy-Memories") != "" {
		t.Errorf("billing got shop's memories: %v", resp.Header)
	}
	msgs, _ = json.Marshal(fake.Requests()[1].Body["messages"])
	if strings.Contains(string(msgs), "make ship") {
		t.Errorf("billing's prompt holds shop's memory: %s", msgs)
	}

	// The exchange was written back to shop (off the request path).
	waitFor(t, "write-back", func() bool {
		return strings.Contains(e.run("memory", "list", "--project", "shop"), "how do we deploy")
	})
	if strings.Contains(e.run("memory", "list", "--project", "billing"), "make ship") {
		t.Error("write-back crossed projects")
	}
	// The gateway's view through the edge names the scope and backend.
	req, _ := http.NewRequest(http.MethodGet, shop+"/memory-routing/info", nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		GatewayView map[string]any `json:"gateway_view"`
	}
	json.NewDecoder(r.Body).Decode(&info)
	r.Body.Close()
	if info.GatewayView["scope"] != "u:alice/p:shop" || info.GatewayView["backend"] != "sqlite" {
		t.Errorf("routing info: %+v", info.GatewayView)
	}
}

// TestEdgeStats: memedge stats prints the project's usage from the
// gateway's log, through the edge.
func TestEdgeStats(t *testing.T) {
	fake := providertest.NewOpenAI(t)
	g := startGateway(t, modelConfig(fake.URL))
	e := newEdge(t, g, "stats-user")
	url := e.start("statsproj")
	for i := 0; i < 3; i++ {
		chat(t, url, `{"model":"gpt-e2e","messages":[{"role":"user","content":"hi"}]}`, "curl/8")
	}
	var out string
	total := regexp.MustCompile(`total\s+3\s+0\s+33\s+15`)
	waitFor(t, "stats with all three requests", func() bool {
		out = e.run("stats", "--project", "statsproj")
		return total.MatchString(out) && strings.Contains(out, "model gpt-e2e")
	})
	if !strings.Contains(out, "client curl") {
		t.Errorf("stats:\n%s", out)
	}
}
