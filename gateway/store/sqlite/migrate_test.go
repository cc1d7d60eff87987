package sqlite

import (
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/usage"
)

// TestUpgradeKeepsRows opens a file that only has migration 1 (a gateway
// from before cost accounting): the newer migrations apply, the old rows
// read back with no cost (unknown, not free) and no session, and new rows
// carry every field.
func TestUpgradeKeepsRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memproxy.db")
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	old := &DB{db: raw, path: path}
	if _, err := old.db.ExecContext(t.Context(), `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if err := old.apply(t.Context(), 1, "migrations/0001_usage.sql"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := old.db.ExecContext(t.Context(), `INSERT INTO usage (request_id, time_ns, model, status, prompt_tokens)
		VALUES ('old', ?, 'gpt-4o', 200, 10)`, at.UnixNano()); err != nil {
		t.Fatal(err)
	}
	old.Close()

	db := mustOpen(t, path)
	if got, want := versions(t, db), embeddedVersions(t); !slices.Equal(got, want) || len(want) < 2 {
		t.Fatalf("schema_migrations %v, want %v", got, want)
	}
	cost := 0.5
	fresh := usage.Record{RequestID: "new", Time: at.Add(time.Second), Status: 200, Cost: &cost,
		CacheWriteTokens: 1, ReasoningTokens: 2, SessionID: "sess"}
	if err := db.WriteUsage(t.Context(), []usage.Record{fresh}); err != nil {
		t.Fatal(err)
	}
	recs, err := db.QueryUsage(t.Context(), usage.Filter{})
	if err != nil || len(recs) != 2 {
		t.Fatalf("QueryUsage = %d rows, %v; want 2", len(recs), err)
	}
	if r := recs[1]; r.RequestID != "old" || r.Cost != nil || r.Unpriced || r.SessionID != "" || r.PromptTokens != 10 {
		t.Errorf("old row after the upgrade: %+v; want its values, no cost, not unpriced, no session", r)
	}
	if r := recs[0]; r.Cost == nil || *r.Cost != cost || r.SessionID != "sess" || r.CacheWriteTokens != 1 || r.ReasoningTokens != 2 {
		t.Errorf("new row: %+v", r)
	}
}
