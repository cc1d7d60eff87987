package postgres_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
)

// TestMemoryUpgrade opens a schema written before migration 0007, with
// memories in two scopes (two of them the same text): after the upgrade
// they are active, searched in their own scope only, deduplicated as
// before, and can be superseded.
func TestMemoryUpgrade(t *testing.T) {
	dsn := freshSchema(t)
	admin(t, dsn, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
	for i, name := range []string{"0001_usage", "0002_usage_cost_session", "0003_memory", "0004_api_keys",
		"0005_usage_memory_tools", "0006_usage_cache_hit"} {
		body, err := os.ReadFile("migrations/" + name + ".sql")
		if err != nil {
			t.Fatal(err)
		}
		admin(t, dsn, string(body))
		admin(t, dsn, fmt.Sprintf(`INSERT INTO schema_migrations (version) VALUES (%d)`, i+1))
	}
	admin(t, dsn, `INSERT INTO memories (id, scope, hash, content) VALUES
		('mem_a1', 'u:a/p:x', '`+memory.ContentHash("legacy row about kubernetes")+`', 'legacy row about kubernetes'),
		('mem_b1', 'u:b/p:x', '`+memory.ContentHash("legacy row about kubernetes")+`', 'legacy row about kubernetes')`)

	db := open(t, dsn)
	defer db.Close()
	r, err := db.Search(t.Context(), "u:a/p:x", "kubernetes", 10)
	if err != nil || len(r) != 1 || r[0].ID != "mem_a1" || r[0].Status != memory.StatusActive {
		t.Fatalf("Search(a) = %+v, %v; want mem_a1, active", r, err)
	}
	if m, created, err := db.Add(t.Context(), "u:a/p:x", "legacy row about kubernetes", nil); err != nil || created || m.ID != "mem_a1" {
		t.Errorf("re-Add = %s, created=%v, %v; want the legacy row", m.ID, created, err)
	}
	nw, err := db.Supersede(t.Context(), "u:a/p:x", "mem_a1", "new row about nomad", memory.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := db.Search(t.Context(), "u:a/p:x", "kubernetes nomad", 10); len(r) != 1 || r[0].ID != nw.ID {
		t.Errorf("Search(a) after Supersede = %+v; want only the new memory", r)
	}
	if r, _ := db.Search(t.Context(), "u:b/p:x", "kubernetes nomad", 10); len(r) != 1 || r[0].ID != "mem_b1" {
		t.Errorf("Search(b) = %+v; want only mem_b1", r)
	}
}
