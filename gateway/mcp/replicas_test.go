package mcp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// mapEnded is an EndedSessions in a map, shared by the test's replicas.
type mapEnded struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (m *mapEnded) End(_ context.Context, id string, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ids[id] = true
	return nil
}

func (m *mapEnded) Ended(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ids[id], nil
}

// replica serves a handler built from o as memoryServer does.
func replica(t *testing.T, o MemoryOptions) *httptest.Server {
	t.Helper()
	h := NewMemoryHandler(o)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := testCallers[r.Header.Get("X-Test-Caller")]
		if !ok {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
	}))
	t.Cleanup(func() { h.Shutdown(); hs.Close() })
	return hs
}

// TestSessionsAcrossReplicas: with one session key, a replica serves a
// session another opened, to its caller only; once the session is
// deleted on either, neither serves it.
func TestSessionsAcrossReplicas(t *testing.T) {
	o := MemoryOptions{Backend: &memBackend{}, SessionKey: []byte("shared"), Ended: &mapEnded{ids: map[string]bool{}}}
	a, b := replica(t, o), replica(t, o)
	cs := connectAs(t, a.URL, "alice-shop", true)
	if code, body := rawPost(t, b.URL, "alice-shop", cs.ID()); code != http.StatusOK {
		t.Fatalf("a's session on b: %d %s", code, body)
	}
	if code, _ := rawPost(t, b.URL, "alice-billing", cs.ID()); code != http.StatusNotFound {
		t.Errorf("a's session on b, as another caller: %d, want 404", code)
	}
	if code, _ := rawPost(t, replica(t, MemoryOptions{Backend: &memBackend{}}).URL, "alice-shop", cs.ID()); code != http.StatusNotFound {
		t.Errorf("a's session on a replica with another key: %d, want 404", code)
	}

	// Deleted on a (its own), then refused on both.
	rawDelete(t, a.URL, "alice-shop", cs.ID())
	for name, url := range map[string]string{"a": a.URL, "b": b.URL} {
		if code, _ := rawPost(t, url, "alice-shop", cs.ID()); code != http.StatusNotFound {
			t.Errorf("the deleted session on %s: %d, want 404", name, code)
		}
	}
	// Deleted on b (adopted there), then refused on both.
	other := connectAs(t, a.URL, "alice-shop", true)
	rawDelete(t, b.URL, "alice-shop", other.ID())
	for name, url := range map[string]string{"a": a.URL, "b": b.URL} {
		if code, _ := rawPost(t, url, "alice-shop", other.ID()); code == http.StatusOK {
			t.Errorf("the session deleted through b still served by %s", name)
		}
	}
}

func rawDelete(t *testing.T, url, caller, session string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	req.Header.Set("X-Test-Caller", caller)
	req.Header.Set("Mcp-Session-Id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
}
