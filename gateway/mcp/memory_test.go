package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memproxy/memproxy/gateway/memory"
)

// memBackend is a minimal memory.Backend: substring search, per scope.
type memBackend struct {
	mu   sync.Mutex
	data map[memory.Scope][]memory.Memory
}

func (b *memBackend) Search(_ context.Context, s memory.Scope, q string, limit int) ([]memory.Memory, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []memory.Memory
	for _, m := range b.data[s] {
		if strings.Contains(strings.ToLower(m.Content), strings.ToLower(q)) && len(out) < limit {
			m.Score = 1
			out = append(out, m)
		}
	}
	return out, nil
}

func (b *memBackend) Add(_ context.Context, s memory.Scope, content string, meta map[string]string) (memory.Memory, bool, error) {
	if err := memory.ValidateContent(content); err != nil {
		return memory.Memory{}, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.data == nil {
		b.data = map[memory.Scope][]memory.Memory{}
	}
	m := memory.Memory{ID: fmt.Sprintf("m%d", len(b.data[s])+1), Content: content, Metadata: meta, CreatedAt: time.Now()}
	b.data[s] = append(b.data[s], m)
	return m, true, nil
}

func (b *memBackend) Get(_ context.Context, s memory.Scope, id string) (memory.Memory, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.data[s] {
		if m.ID == id {
			return m, nil
		}
	}
	return memory.Memory{}, memory.ErrNotFound
}

func (b *memBackend) List(context.Context, memory.Scope, string, int) ([]memory.Memory, string, error) {
	return nil, "", nil
}

func (b *memBackend) Delete(ctx context.Context, s memory.Scope, id string) error {
	if _, err := b.Get(ctx, s, id); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ms := b.data[s]
	for i, m := range ms {
		if m.ID == id {
			b.data[s] = append(ms[:i:i], ms[i+1:]...)
		}
	}
	return nil
}

func (b *memBackend) DeleteAll(context.Context, memory.Scope) (int, error) { return 0, nil }

var _ memory.Backend = (*memBackend)(nil)

// testCallers stand in for the gateway's authentication: the X-Test-Caller
// header picks the caller.
var testCallers = map[string]Caller{
	"alice-shop":    {ID: "id-alice-shop", Scope: "u:alice/p:shop", Client: "test"},
	"alice-billing": {ID: "id-alice-billing", Scope: "u:alice/p:billing"},
}

func memoryServer(t *testing.T) (*MemoryHandler, *httptest.Server) {
	t.Helper()
	h := NewMemoryHandler(MemoryOptions{Backend: &memBackend{}, MaxResults: 5})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := testCallers[r.Header.Get("X-Test-Caller")]
		if !ok {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
	}))
	t.Cleanup(func() { h.Shutdown(); hs.Close() })
	return h, hs
}

type callerTransport struct{ caller string }

func (c callerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Caller", c.caller)
	return http.DefaultTransport.RoundTrip(r)
}

func connectAs(t *testing.T, url, caller string, noGET ...bool) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "test-client", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: callerTransport{caller}},
		DisableStandaloneSSE: len(noGET) > 0 && noGET[0]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func callText(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return resultText(res), res.IsError
}

func TestMCPMemoryHandlerScopes(t *testing.T) {
	_, hs := memoryServer(t)
	shop := connectAs(t, hs.URL, "alice-shop")
	ctx := context.Background()
	var names []string
	for tl, err := range shop.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tl.Name)
	}
	if strings.Join(names, ",") != "memory_add,memory_delete,memory_get,memory_search" {
		t.Errorf("tools = %v", names)
	}
	out, isErr := callText(t, shop, MemoryAddTool, map[string]any{"content": "Deploys go out with make ship."})
	var added addOut
	if isErr || json.Unmarshal([]byte(out), &added) != nil || added.ID == "" || !added.Created {
		t.Fatalf("memory_add = %s", out)
	}
	out, _ = callText(t, shop, MemorySearchTool, map[string]any{"query": "make ship"})
	if !strings.Contains(out, "Deploys go out with make ship.") || !strings.Contains(out, `"count":1`) {
		t.Errorf("memory_search = %s", out)
	}
	out, _ = callText(t, shop, MemoryGetTool, map[string]any{"id": added.ID})
	if !strings.Contains(out, `"source":"mcp"`) || !strings.Contains(out, `"client":"test"`) {
		t.Errorf("memory_get = %s (want its provenance)", out)
	}

	// Another project of the same user sees none of it, by search or id.
	billing := connectAs(t, hs.URL, "alice-billing")
	if out, _ := callText(t, billing, MemorySearchTool, map[string]any{"query": "make ship"}); strings.Contains(out, "Deploys") {
		t.Errorf("billing found shop's memory: %s", out)
	}
	if out, isErr := callText(t, billing, MemoryDeleteTool, map[string]any{"id": added.ID}); !isErr || !strings.Contains(out, "no memory with id") {
		t.Errorf("billing deleting shop's memory: %s", out)
	}
	if out, isErr := callText(t, billing, MemoryAddTool, map[string]any{"content": ""}); !isErr || strings.Contains(out, "unavailable") {
		t.Errorf("empty content: %s", out)
	}
	if out, isErr := callText(t, shop, MemoryDeleteTool, map[string]any{"id": added.ID}); isErr || !strings.Contains(out, added.ID) {
		t.Errorf("memory_delete = %s", out)
	}
}

// TestMCPMemoryHandlerSessionBinding: a session opened by one caller is
// refused to any other, on every method.
func TestMCPMemoryHandlerSessionBinding(t *testing.T) {
	_, hs := memoryServer(t)
	shop := connectAs(t, hs.URL, "alice-shop")
	sid := shop.ID()
	if sid == "" {
		t.Fatal("no session id: the handler must be stateful")
	}
	call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"memory_search","arguments":{"query":"x"}}}`
	for _, m := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		var body io.Reader
		if m == http.MethodPost {
			body = strings.NewReader(call)
		}
		req, _ := http.NewRequest(m, hs.URL, body)
		req.Header.Set("X-Test-Caller", "alice-billing")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s on alice-shop's session as alice-billing: %d %s", m, resp.StatusCode, b)
		}
	}
	// The owner's session still works.
	if _, isErr := callText(t, shop, MemorySearchTool, map[string]any{"query": "x"}); isErr {
		t.Error("the owner's session broke")
	}
}

// TestMCPMemoryHandlerShutdown: Shutdown ends a held-open GET stream at once
// and refuses new requests.
func TestMCPMemoryHandlerShutdown(t *testing.T) {
	h, hs := memoryServer(t)
	shop := connectAs(t, hs.URL, "alice-shop", true) // this test holds the session's GET stream itself
	req, _ := http.NewRequest(http.MethodGet, hs.URL, nil)
	req.Header.Set("X-Test-Caller", "alice-shop")
	req.Header.Set("Mcp-Session-Id", shop.ID())
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ended := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, resp.Body); close(ended) }()
	select {
	case <-ended:
		t.Fatal("the GET stream ended before Shutdown")
	case <-time.After(100 * time.Millisecond):
	}
	h.Shutdown()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not end the GET stream")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := shop.CallTool(ctx, &sdk.CallToolParams{Name: MemorySearchTool, Arguments: map[string]any{"query": "x"}}); err == nil {
		t.Error("a call after Shutdown succeeded")
	}
}

func TestMCPMemoryHandlerNoCaller(t *testing.T) {
	h := NewMemoryHandler(MemoryOptions{Backend: &memBackend{}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{}`)))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("a request without a caller: %d", rec.Code)
	}
}

// TestMCPMemoryHandlerSessionCap: one caller's sessions past
// MaxSessionsPerCaller close its oldest; other callers' are untouched.
func TestMCPMemoryHandlerSessionCap(t *testing.T) {
	_, hs := memoryServer(t)
	other := connectAs(t, hs.URL, "alice-billing", true)
	first := connectAs(t, hs.URL, "alice-shop", true)
	for range MaxSessionsPerCaller {
		connectAs(t, hs.URL, "alice-shop", true)
	}
	resp, _ := rawPost(t, hs.URL, "alice-shop", first.ID())
	if resp != http.StatusNotFound {
		t.Errorf("the oldest session past the cap answered %d, want 404", resp)
	}
	if _, isErr := callText(t, other, MemorySearchTool, map[string]any{"query": "x"}); isErr {
		t.Error("another caller's session was closed")
	}
}

func rawPost(t *testing.T, url, caller, session string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`))
	req.Header.Set("X-Test-Caller", caller)
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
