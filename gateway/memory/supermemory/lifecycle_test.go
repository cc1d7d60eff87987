package supermemory_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// TestLifecycle: what Supermemory cannot do says so with ErrUnsupported
// and writes nothing; the source round-trips through metadata.
func TestLifecycle(t *testing.T) {
	b := backend(t, providertest.NewSupermemory(t))
	s := memory.Scope("u:a/p:lifecycle")
	src := memory.Source{Client: "codex", RequestID: "req_1", Session: "sess", Turn: 4}
	m, created, err := b.AddWith(t.Context(), s, "The staging database listens on port 6543.", memory.AddOptions{Source: src})
	if err != nil || !created || m.Source != src {
		t.Fatalf("AddWith = %+v, %v, %v; want created with its source", m, created, err)
	}
	if g, err := b.Get(t.Context(), s, m.ID); err != nil || g.Source != src || g.Status != memory.StatusActive || len(g.Metadata) != 0 {
		t.Errorf("Get = %+v, %v; want the source back, active, no visible metadata", g, err)
	}
	for name, err := range map[string]error{
		"Supersede": func() error {
			_, err := b.Supersede(t.Context(), s, m.ID, "Port 7000.", memory.AddOptions{})
			return err
		}(),
		"Update":  func() error { _, err := b.Update(t.Context(), s, m.ID, "Port 7000."); return err }(),
		"History": func() error { _, err := b.History(t.Context(), s, m.ID); return err }(),
		"AddWith keys": func() error {
			_, _, err := b.AddWith(t.Context(), s, "Port 7000.", memory.AddOptions{Keys: "k"})
			return err
		}(),
	} {
		if !errors.Is(err, memory.ErrUnsupported) || !strings.Contains(err.Error(), "upermemory") {
			t.Errorf("%s: %v; want ErrUnsupported naming Supermemory", name, err)
		}
	}
	l, _, err := b.ListWith(t.Context(), s, memory.ListOptions{IncludeSuperseded: true})
	if err != nil || len(l) != 1 || l[0].ID != m.ID {
		t.Errorf("ListWith = %+v, %v; want just the first memory (nothing else was written)", l, err)
	}
	if _, err := b.History(t.Context(), "", m.ID); !errors.Is(err, memory.ErrInvalidScope) {
		t.Errorf("History(invalid scope): %v; want ErrInvalidScope", err)
	}
}
