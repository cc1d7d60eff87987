package extract_test

// The backends the extraction scenarios run against: the gateway's SQLite
// store (local) always, PostgreSQL when it is reachable (test/services:
// MEMPROXY_REQUIRE_SERVICES=1 makes its absence a failure).

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/store/postgres"
	"github.com/memproxy/memproxy/gateway/store/sqlite"
	"github.com/memproxy/memproxy/test/services"
)

type backend struct {
	name string
	open func(t *testing.T) memory.Lifecycle
}

var backends = []backend{{"local", openSQLite}, {"postgres", openPostgres}}

// eachBackend runs fn against a fresh store of every backend.
func eachBackend(t *testing.T, fn func(t *testing.T, l memory.Lifecycle)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

func openSQLite(t *testing.T) memory.Lifecycle {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "memproxy.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.MemorySupported(t.Context()); errors.Is(err, sqlite.ErrNoFTS5) {
		t.Skipf("the local memory store needs FTS5: run with -tags sqlite_fts5: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	return db
}

// openPostgres opens the store in a fresh schema, dropped at cleanup.
func openPostgres(t *testing.T) memory.Lifecycle {
	t.Helper()
	base := services.RequirePostgres(t)
	name := "memproxy_extract_" + strings.ToLower(rand.Text()[:16]) // search_path folds case
	ident := pgx.Identifier{name}.Sanitize()
	pgExec(t, base, `CREATE SCHEMA `+ident)
	t.Cleanup(func() { pgExec(t, base, `DROP SCHEMA `+ident+` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// pgExec runs one statement on its own connection (t.Context is already
// cancelled when cleanups run).
func pgExec(t *testing.T, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
