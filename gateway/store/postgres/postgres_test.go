package postgres_test

// Every test gets a schema of its own with a random name, dropped at
// cleanup, so runs sharing one server (CI jobs, -count, other packages)
// never see each other's rows. The store is pointed at it with the
// search_path run-time parameter in the URL, as an operator would.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/store/postgres"
	"github.com/memproxy/memproxy/gateway/store/storetest"
	"github.com/memproxy/memproxy/gateway/usage"
	"github.com/memproxy/memproxy/test/services"
)

// freshSchema creates an empty schema on the test server and returns the
// server's URL with search_path set to it.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := services.RequirePostgres(t)
	name := "memproxy_test_" + hex.EncodeToString(randomBytes(8))
	ident := pgx.Identifier{name}.Sanitize()
	admin(t, base, `CREATE SCHEMA `+ident)
	t.Cleanup(func() { admin(t, base, `DROP SCHEMA `+ident+` CASCADE`) })
	return withParam(t, base, "search_path", name)
}

// admin runs one statement on its own connection (t.Context is already
// cancelled when cleanups run).
func admin(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn + " " + key + "=" + value // keyword=value form
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func open(t testing.TB, dsn string) *postgres.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Vector search in the gateway, whatever the server has: the pgvector
	// path has tests of its own (memory_pgvector_test.go).
	db, err := postgres.OpenWith(ctx, dsn, postgres.Options{Vectors: postgres.VectorsGateway})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.DB { return open(t, freshSchema(t)) })
}

// versions lists schema_migrations in the schema dsn points at.
func versions(t *testing.T, dsn string) []int32 {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// embeddedVersions is one version per file in migrations/.
func embeddedVersions(t *testing.T) []int32 {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil || len(entries) == 0 {
		t.Fatalf("reading migrations/: %d files, %v", len(entries), err)
	}
	var out []int32
	for i := range entries {
		out = append(out, int32(i+1)) // files are numbered 0001, 0002, … with no gaps
	}
	return out
}

// TestConcurrentMigrations starts replicas on one fresh schema at the same
// moment: all must come up, and each migration must be recorded once. The
// advisory lock is what makes this pass: without it the replicas race on
// CREATE TABLE and on schema_migrations' primary key.
func TestConcurrentMigrations(t *testing.T) {
	const replicas, rounds = 4, 5
	for round := range rounds {
		dsn := freshSchema(t)
		start := make(chan struct{})
		dbs := make([]*postgres.DB, replicas)
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			wg.Go(func() {
				<-start
				dbs[i], errs[i] = postgres.Open(t.Context(), dsn)
			})
		}
		close(start)
		wg.Wait()
		for i, db := range dbs {
			if db != nil {
				t.Cleanup(func() { db.Close() })
			}
			if errs[i] != nil {
				t.Fatalf("round %d: replica %d of %d failed to open: %v", round, i+1, replicas, errs[i])
			}
		}
		if got, want := versions(t, dsn), embeddedVersions(t); !slices.Equal(got, want) {
			t.Fatalf("round %d: schema_migrations %v; want %v", round, got, want)
		}
		for i, db := range dbs {
			rec := usage.Record{RequestID: "r" + string(rune('a'+i)), Time: time.Now(), Status: 200}
			if err := db.WriteUsage(t.Context(), []usage.Record{rec}); err != nil {
				t.Errorf("round %d: replica %d cannot write: %v", round, i+1, err)
			}
		}
	}
}

// TestReopen checks that opening a migrated schema again applies nothing
// and keeps the rows.
func TestReopen(t *testing.T) {
	dsn := freshSchema(t)
	db := open(t, dsn)
	if err := db.WriteUsage(t.Context(), []usage.Record{{RequestID: "r1", Time: time.Now(), Status: 200}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = open(t, dsn)
	defer db.Close()
	if got, want := versions(t, dsn), embeddedVersions(t); !slices.Equal(got, want) {
		t.Errorf("schema_migrations %v; want %v", got, want)
	}
	if recs, err := db.QueryUsage(t.Context(), usage.Filter{}); err != nil || len(recs) != 1 {
		t.Errorf("after reopening: %d rows, %v; want 1", len(recs), err)
	}
}

const password = "s3cr3t-Pa55w0rd"

// TestPasswordNotInErrors needs no server: port 1 on loopback refuses at
// once, and malformed URLs fail before any dial.
func TestPasswordNotInErrors(t *testing.T) {
	tests := []struct {
		name       string
		dsn        string
		invalidURL bool
	}{
		{"refused", "postgres://memproxy:" + password + "@127.0.0.1:1/memproxy?sslmode=disable&connect_timeout=5", false},
		{"refused postgresql scheme", "postgresql://memproxy:" + password + "@127.0.0.1:1/memproxy?connect_timeout=5", false},
		{"refused keyword form", "host=127.0.0.1 port=1 user=memproxy password=" + password + " dbname=memproxy sslmode=disable connect_timeout=5", false},
		// pgx names the user in connection errors; Open masks the password
		// wherever it appears.
		{"refused, user equals password", "postgres://" + password + ":" + password + "@127.0.0.1:1/memproxy?sslmode=disable&connect_timeout=5", false},
		{"bad port", "postgres://memproxy:" + password + "@127.0.0.1:notaport/memproxy", true},
		{"bad host", "postgres://memproxy:" + password + "@[::1/memproxy", true},
		{"bad pool_max_conns", "postgres://memproxy:" + password + "@127.0.0.1/memproxy?pool_max_conns=many", true},
		{"bad sslmode", "postgres://memproxy:" + password + "@127.0.0.1/memproxy?sslmode=sometimes", true},
		{"escaped password", "postgres://memproxy:" + url.QueryEscape(password+"/?#@:") + "@127.0.0.1/memproxy?sslmode=sometimes", true},
		{"password parameter", "postgres://memproxy@127.0.0.1/memproxy?password=" + password + "&sslmode=sometimes", true},
		{"escaped password parameter", "postgres://memproxy@127.0.0.1/memproxy?password=" + url.QueryEscape(password+"&=+ ") + "&pool_max_conns=0", true},
		{"unterminated quote", "host=127.0.0.1 password='" + password, true},
		{"bad keyword form", "host=127.0.0.1 password=" + password + " sslmode=sometimes", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			db, err := postgres.Open(ctx, tc.dsn)
			if err == nil {
				db.Close()
				t.Fatalf("Open succeeded")
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error shows the password: %v", err)
			}
			t.Log(err)
			if got := errors.Is(err, postgres.ErrInvalidURL); got != tc.invalidURL {
				t.Errorf("errors.Is(err, ErrInvalidURL) = %v; want %v (err: %v)", got, tc.invalidURL, err)
			}
		})
	}
}

// TestDescribe opens the test server with a password in the URL (trust
// authentication ignores it) and checks Describe shows neither it nor the
// user.
func TestDescribe(t *testing.T) {
	dsn := freshSchema(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Skipf("MEMPROXY_TEST_POSTGRES_URL is not a URL; cannot add a password to it")
	}
	user := u.User.Username()
	if user == "" {
		user = "postgres"
	}
	u.User = url.UserPassword(user, password)
	db := open(t, u.String())
	defer db.Close()
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	want := "postgres://" + net.JoinHostPort(u.Hostname(), port) + u.Path
	if got := db.Describe(); got != want {
		t.Errorf("Describe = %q; want %q", got, want)
	}
	if d := db.Describe(); strings.Contains(d, password) || strings.Contains(d, user+"@") {
		t.Errorf("Describe = %q; shows credentials", d)
	}
}

// BenchmarkWriteUsage writes batches of 512 rows, as the usage queue does.
func BenchmarkWriteUsage(b *testing.B) {
	db := open(b, freshSchema(b))
	defer db.Close()
	storetest.BenchmarkWriteUsage(b, db)
}

// TestSchema checks what the migrations promise beyond the suite: the
// indexes the usage queries need, and a byte-order collation on
// request_id (which the suite's order test can only catch on a server
// whose default collation is not already bytewise).
func TestSchema(t *testing.T) {
	dsn := freshSchema(t)
	open(t, dsn).Close()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(t.Context(), `SELECT indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = 'usage' ORDER BY indexname`)
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(request_id)", "USING btree (\"time\")", "USING btree (project, \"time\")", "USING btree (user_id, \"time\")", "USING btree (session_id, \"time\")"} {
		if !slices.ContainsFunc(defs, func(d string) bool { return strings.HasSuffix(d, want) }) {
			t.Errorf("no index ending in %s among %q", want, defs)
		}
	}
	var coll, timeType string
	if err := conn.QueryRow(t.Context(), `SELECT
		(SELECT collation_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'usage' AND column_name = 'request_id'),
		(SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'usage' AND column_name = 'time')`).Scan(&coll, &timeType); err != nil {
		t.Fatal(err)
	}
	if coll != "C" || timeType != "timestamp with time zone" {
		t.Errorf("request_id collation %q, time type %q; want C and timestamp with time zone", coll, timeType)
	}
}
