package postgres_test

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/usage"
)

// TestUpgradeKeepsRows opens a schema that only has migration 1 (a gateway
// from before cost accounting): the newer migrations apply, the old rows
// read back with no cost (unknown, not free) and no session, and new rows
// carry every field.
func TestUpgradeKeepsRows(t *testing.T) {
	dsn := freshSchema(t)
	first, err := os.ReadFile("migrations/0001_usage.sql")
	if err != nil {
		t.Fatal(err)
	}
	admin(t, dsn, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
	admin(t, dsn, string(first))
	admin(t, dsn, `INSERT INTO schema_migrations (version) VALUES (1)`)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	admin(t, dsn, `INSERT INTO usage (request_id, time, model, status, prompt_tokens)
		VALUES ('old', '2026-01-02T03:04:05Z', 'gpt-4o', 200, 10)`)

	db := open(t, dsn)
	defer db.Close()
	if got, want := versions(t, dsn), embeddedVersions(t); !slices.Equal(got, want) || len(want) < 2 {
		t.Fatalf("schema_migrations %v; want %v", got, want)
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
