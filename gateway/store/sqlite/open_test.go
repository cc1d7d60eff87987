package sqlite

// What is particular to the SQLite file: creating it, migrating it once
// however many gateways open it at the same moment, where it lands on disk,
// and this reader's default limit. What every store must do (round trip,
// idempotency, filters, order, SQL in filter values) is the storetest
// suite, run by TestStore in sqlite_test.go.

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/usage"
)

func mustOpen(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// versions lists the rows of schema_migrations, in order.
func versions(t *testing.T, db *DB) []int {
	t.Helper()
	rows, err := db.db.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// embeddedVersions is what a fully migrated database records: one row per
// file in migrations/, numbered by its prefix.
func embeddedVersions(t *testing.T) []int {
	t.Helper()
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no embedded migrations: %v", err)
	}
	var out []int
	for _, n := range names {
		var v int
		if _, err := fmt.Sscanf(filepath.Base(n), "%04d_", &v); err != nil {
			t.Fatalf("migration %s: %v", n, err)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func schema(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.db.QueryContext(t.Context(),
		`SELECT name FROM sqlite_master WHERE type IN ('table','index') AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		out = append(out, n)
	}
	return out
}

func journalMode(t *testing.T, db *DB) string {
	t.Helper()
	var mode string
	if err := db.db.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

func record(id string, at time.Time) usage.Record {
	return usage.Record{RequestID: id, Time: at, User: "alice", Status: 200}
}

func TestOpenCreatesAndMigrates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "nested", "memproxy.db")
	db := mustOpen(t, path)
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("database file: %v", err)
	}
	if fi, _ := os.Stat(filepath.Dir(path)); fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v, want 0700", fi.Mode().Perm())
	}
	if got, want := versions(t, db), embeddedVersions(t); !slices.Equal(got, want) || want[0] != 1 {
		t.Errorf("schema_migrations %v, want %v", got, want)
	}
	for _, name := range []string{"schema_migrations", "usage", "usage_project_time", "usage_session_time", "usage_time", "usage_user_time"} {
		if !slices.Contains(schema(t, db), name) {
			t.Errorf("schema %v lacks %s", schema(t, db), name)
		}
	}
	if m := journalMode(t, db); m != "wal" {
		t.Errorf("journal_mode %q, want wal", m)
	}
	if got := db.Describe(); got != "sqlite:"+path {
		t.Errorf("Describe = %q", got)
	}
}

func TestReopenKeepsVersionsAndRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memproxy.db")
	db1, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db1.WriteUsage(t.Context(), []usage.Record{record("r1", time.Now())}); err != nil {
		t.Fatal(err)
	}
	before := schema(t, db1)
	db1.Close()
	for i := range 3 {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err) // a migration run twice fails: CREATE TABLE usage exists
		}
		if got, want := versions(t, db), embeddedVersions(t); !slices.Equal(got, want) {
			t.Errorf("reopen %d: schema_migrations %v, want %v", i, got, want)
		}
		if got := schema(t, db); !slices.Equal(got, before) {
			t.Errorf("reopen %d: schema %v, was %v", i, got, before)
		}
		if recs, err := db.QueryUsage(t.Context(), usage.Filter{}); err != nil || len(recs) != 1 {
			t.Errorf("reopen %d: %d rows, %v; want 1", i, len(recs), err)
		}
		db.Close()
	}
}

// Two gateways (or a gateway and `memgateway usage`) may open a fresh file
// at the same moment; both must get a migrated database.
func TestConcurrentOpen(t *testing.T) {
	const openers, rounds = 8, 30
	for i := range rounds {
		path := filepath.Join(t.TempDir(), "race.db")
		var wg sync.WaitGroup
		dbs := make([]*DB, openers)
		errs := make([]error, openers)
		start := make(chan struct{})
		for j := range openers {
			wg.Go(func() {
				<-start
				dbs[j], errs[j] = Open(context.Background(), path)
			})
		}
		close(start)
		wg.Wait()
		for _, db := range dbs {
			if db != nil {
				t.Cleanup(func() { db.Close() })
			}
		}
		for j, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Open %d of %d failed: %v", i, j+1, openers, err)
			}
		}
		if got, want := versions(t, dbs[0]), embeddedVersions(t); !slices.Equal(got, want) {
			t.Errorf("round %d: schema_migrations %v, want %v", i, got, want)
		}
		for j, db := range dbs {
			if err := db.WriteUsage(t.Context(), []usage.Record{record(fmt.Sprint("r", j), time.Now())}); err != nil {
				t.Errorf("round %d: write via handle %d: %v", i, j, err)
			}
		}
		if recs, err := dbs[0].QueryUsage(t.Context(), usage.Filter{}); err != nil || len(recs) != openers {
			t.Errorf("round %d: %d rows, %v; want %d", i, len(recs), err, openers)
		}
	}
}

// Paths are the operator's: a data directory may hold characters that mean
// something in a URI. The database must be at the path given, and the DSN's
// options (WAL) must still apply.
func TestOpenPathWithURICharacters(t *testing.T) {
	// One plain parent for all cases: a path cut at '#' or '?' then still
	// lands inside it rather than somewhere in /tmp.
	parent := t.TempDir()
	for i, dir := range []string{"with space", "percent%20encoded", "hash#mark", "question?mark", "amp&semi;eq="} {
		t.Run(dir, func(t *testing.T) {
			path := filepath.Join(parent, fmt.Sprint(i), dir, "memproxy.db")
			db := mustOpen(t, path)
			if err := db.WriteUsage(t.Context(), []usage.Record{record("r1", time.Now())}); err != nil {
				t.Fatalf("write: %v", err)
			}
			if _, err := os.Stat(path); err != nil {
				var found []string
				_ = filepath.WalkDir(filepath.Join(parent, fmt.Sprint(i)), func(p string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() {
						found = append(found, p)
					}
					return nil
				})
				t.Errorf("database not at %q (%v); files written: %q", path, err, found)
			}
			if m := journalMode(t, db); m != "wal" {
				t.Errorf("journal_mode %q, want wal", m)
			}
		})
	}
}

func TestQueryUsageDefaultLimit(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "usage.db"))
	t0 := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	recs := make([]usage.Record, 1005)
	for i := range recs {
		recs[i] = record(fmt.Sprintf("req-%04d", i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if err := db.WriteUsage(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, -1} {
		got, err := db.QueryUsage(t.Context(), usage.Filter{Limit: limit})
		if err != nil || len(got) != 1000 || got[0].RequestID != "req-1004" || got[999].RequestID != "req-0005" {
			t.Errorf("Limit %d: %d rows (%v), want the newest 1000, req-1004 to req-0005", limit, len(got), err)
		}
	}
}

func TestWriteUsageCancelled(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "usage.db"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.WriteUsage(ctx, []usage.Record{record("r1", time.Now())}); err == nil {
		t.Error("WriteUsage with a cancelled ctx succeeded")
	}
	if got, err := db.QueryUsage(t.Context(), usage.Filter{}); err != nil || len(got) != 0 {
		t.Errorf("after a cancelled write: %d rows, %v; want none", len(got), err)
	}
}
