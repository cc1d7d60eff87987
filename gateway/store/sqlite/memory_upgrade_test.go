package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
)

// TestMemoryUpgrade opens a file written before migration 0007: memories in
// two scopes with global row numbers and the old content-only index
// (memories_fts). After the upgrade the rows are renumbered per scope,
// found by search in their own scope only, active, and new memories are
// numbered after them; the old index is gone.
func TestMemoryUpgrade(t *testing.T) {
	memoryDB(t) // skips without FTS5
	path := filepath.Join(t.TempDir(), "memproxy.db")
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	old := &DB{db: raw, path: path}
	if _, err := raw.ExecContext(t.Context(), `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"0001_usage", "0002_usage_cost_session", "0003_memory", "0004_api_keys",
		"0005_usage_memory_tools", "0006_usage_cache_hit"} {
		if err := old.apply(t.Context(), i+1, "migrations/"+name+".sql"); err != nil {
			t.Fatal(err)
		}
	}
	for _, stmt := range []string{
		`INSERT INTO memories (seq, id, scope, hash, content, created_ns) VALUES
			(1, 'mem_a1', 'u:a/p:x', 'h1', 'legacy row about kubernetes', 1),
			(2, 'mem_b1', 'u:b/p:x', 'h2', 'other scope kubernetes row', 2),
			(3, 'mem_a2', 'u:a/p:x', 'h3', 'second legacy row about helm', 3)`,
		`CREATE VIRTUAL TABLE memories_fts USING fts5(content, tokenize = 'porter unicode61')`,
		`INSERT INTO memories_fts (rowid, content) SELECT seq, content FROM memories`,
	} {
		if _, err := raw.ExecContext(t.Context(), stmt); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	db := mustOpen(t, path)
	r, err := db.Search(t.Context(), "u:a/p:x", "kubernetes helm", 10)
	if err != nil || len(r) != 2 {
		t.Fatalf("Search = %+v, %v; want the scope's two legacy rows", r, err)
	}
	for _, m := range r {
		if m.ID != "mem_a1" && m.ID != "mem_a2" || m.Status != memory.StatusActive {
			t.Errorf("Search returned %s (%s); want a's rows, active", m.ID, m.Status)
		}
	}
	n, _, err := db.AddWith(t.Context(), "u:a/p:x", "a new row about kubernetes", memory.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	rows, err := db.db.QueryContext(t.Context(), `SELECT seq FROM memories WHERE scope = 'u:a/p:x' ORDER BY created_ns`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		rows.Scan(&s)
		seqs = append(seqs, s)
	}
	rows.Close()
	if len(seqs) != 3 || seqs[0]>>32 != seqs[2]>>32 || seqs[0]&0xffffffff != 1 || seqs[2] <= seqs[1] {
		t.Errorf("scope a's seqs after the upgrade and one Add: %x; want one scope part, old numbers kept, the new one after", seqs)
	}
	if r, _ := db.Search(t.Context(), "u:b/p:x", "kubernetes", 10); len(r) != 1 || r[0].ID != "mem_b1" {
		t.Errorf("Search(b) = %+v; want only mem_b1", r)
	}
	if r, _ := db.Search(t.Context(), "u:a/p:x", "new", 10); len(r) != 1 || r[0].ID != n.ID {
		t.Errorf("Search(a, new) = %+v; want the new memory", r)
	}
	var left int
	db.db.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_master WHERE name = 'memories_fts'`).Scan(&left)
	if left != 0 {
		t.Error("the old index memories_fts is still there")
	}
}
