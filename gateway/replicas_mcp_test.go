package gateway

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// replicaSwitch sends every request to the replica it currently points
// at, as a load balancer does after a replica goes away.
type replicaSwitch struct {
	target atomic.Pointer[url.URL]
	hdr    headerTransport
}

func (s *replicaSwitch) to(raw string) { u, _ := url.Parse(raw); s.target.Store(u) }

func (s *replicaSwitch) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	u := s.target.Load()
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, u.Host
	return s.hdr.RoundTrip(r)
}

// TestMCPSessionSurvivesItsReplica: two replicas share a master key and a
// memory backend; a session opened on the first keeps working on the
// second once the first is gone, and stays bound to its caller there.
func TestMCPSessionSurvivesItsReplica(t *testing.T) {
	mem := &fakeMemory{}
	a := memToolsHarness(t, mem, nil, &ToolOptions{})
	b := memToolsHarness(t, mem, nil, &ToolOptions{})
	sw := &replicaSwitch{hdr: headerTransport{"Authorization": "Bearer " + testMaster, "X-Memory-User-Id": "alice", "X-Memory-Project": "shop"}}
	sw.to(a.httpURL)
	cs, err := mcpConnectVia(t, "http://replica/mcp", sw)
	if err != nil {
		t.Fatal(err)
	}
	if out := mcpCall(t, cs, "memory_add", map[string]any{"content": "Replicas share the memory bank."}); !strings.Contains(out, `"created":true`) {
		t.Fatalf("memory_add on a = %s", out)
	}
	a.stop()
	sw.to(b.httpURL)
	if out := mcpCall(t, cs, "memory_search", map[string]any{"query": "memory bank"}); !strings.Contains(out, "Replicas share") {
		t.Fatalf("memory_search on b after a stopped = %s", out)
	}

	// On b, the session is still alice/shop's only.
	for _, who := range []headerTransport{
		{"Authorization": "Bearer " + testMaster, "X-Memory-User-Id": "alice", "X-Memory-Project": "billing"},
		{"Authorization": "Bearer " + testMaster, "X-Memory-User-Id": "bob", "X-Memory-Project": "shop"},
	} {
		req, _ := http.NewRequest(http.MethodPost, b.httpURL+"/mcp",
			strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"memory_search","arguments":{"query":"memory bank"}}}`))
		for k, v := range who {
			req.Header.Set(k, v)
		}
		req.Header.Set("Mcp-Session-Id", cs.ID())
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || strings.Contains(string(body), "Replicas share") {
			t.Errorf("alice/shop's session used by %v on b: %d %s", who, resp.StatusCode, body)
		}
	}
}

func mcpConnectVia(t *testing.T, url string, rt http.RoundTripper) (*sdk.ClientSession, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "gateway-test", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: rt}}, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}
