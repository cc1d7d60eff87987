package hybrid_test

// The behaviour of hybrid search over real stores is the conformance suite
// memorytest.RunHybrid (run by gateway/store/sqlite and postgres); these
// are the wrapper's own rules.

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/hybrid"
	"github.com/memproxy/memproxy/gateway/memory/memorytest"
	"github.com/memproxy/memproxy/gateway/store/sqlite"
)

// lexicalOnly is a Backend without vectors.
type lexicalOnly struct{ memory.Backend }

func store(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.MemorySupported(t.Context()); err != nil {
		t.Skip(err)
	}
	return db
}

func TestNew(t *testing.T) {
	db := store(t)
	f := &memorytest.FakeEmbedder{Model: "m"}
	if _, err := hybrid.New(lexicalOnly{db}, hybrid.Options{Embed: f.Embed}); !errors.Is(err, memory.ErrUnsupported) {
		t.Errorf("a backend without vectors: %v; want ErrUnsupported", err)
	}
	if _, err := hybrid.New(db, hybrid.Options{}); err == nil {
		t.Error("no embedder accepted")
	}
	h, err := hybrid.New(db, hybrid.Options{Embed: f.Embed})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := memory.LifecycleOf(h); err != nil {
		t.Errorf("hybrid over a Lifecycle: %v", err)
	}
}

// TestBlankQuery: a query with nothing to embed is not embedded, and
// finds what the lexical search finds (nothing).
func TestBlankQuery(t *testing.T) {
	f := &memorytest.FakeEmbedder{Model: "m"}
	h, err := hybrid.New(store(t), hybrid.Options{Embed: f.Embed})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Add(t.Context(), "u:a/p:b", "some memory", nil); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls
	var info hybrid.SearchInfo
	ms, err := h.Search(hybrid.WithInfo(t.Context(), &info), "u:a/p:b", "   ", 5)
	if err != nil || len(ms) != 0 || f.Calls != calls || info.LexicalOnly {
		t.Errorf("blank query: %v, %v, %d embedder calls, %+v; want nothing, no call", ms, err, f.Calls-calls, info)
	}
	if _, err := h.Search(context.Background(), "", "memory", 5); !errors.Is(err, memory.ErrInvalidScope) {
		t.Errorf("no scope: %v; want ErrInvalidScope", err)
	}
}
