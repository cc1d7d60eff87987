package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/test/services"
)

// TestSecondGatewayOnOneSQLiteFile: a second gateway on the same embedded
// database refuses to start, naming the way out; once the first has
// stopped, a new one starts.
func TestSecondGatewayOnOneSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	open := func() (*Server, error) {
		return New(context.Background(), Options{Config: config.Default(), DataDir: dir, MasterKey: testMaster})
	}
	first, err := open()
	if err != nil {
		t.Fatal(err)
	}
	if second, err := open(); !errors.Is(err, store.ErrShared) || !strings.Contains(err.Error(), "PostgreSQL") {
		if second != nil {
			second.Close()
		}
		t.Fatalf("a second gateway on %s: %v, want ErrShared naming PostgreSQL", dir, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := open()
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	third.Close()
}

// TestRevokedKeyRefusedByEveryReplica: two gateways on one PostgreSQL; a
// key both have cached is revoked through one, and the other refuses it
// after its next upkeep round (every store.BeatInterval), not after the
// key cache's 30 s.
func TestRevokedKeyRefusedByEveryReplica(t *testing.T) {
	dsn := freshPostgresSchema(t)
	fake := providertest.NewOpenAI(t)
	y := "general_settings:\n  master_key: " + testMaster + "\n  database_url: " + dsn + "\nmodel_list:\n" +
		"  - model_name: gpt-test\n    litellm_params: {model: openai/gpt-upstream, api_base: \"" + fake.URL + "/v1\", api_key: k}\n"
	a, b := serveYAML(t, y, fake, nil), serveYAML(t, y, fake, nil)
	key, rec, err := auth.Mint(t.Context(), a.srv.db, auth.Principal{Admin: true}, auth.KeyRecord{User: "alice"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ask := func(h *harness) int {
		resp, _ := h.post(chatBody, "Authorization", "Bearer "+key)
		return resp.StatusCode
	}
	if ca, cb := ask(a), ask(b); ca != 200 || cb != 200 {
		t.Fatalf("before the revocation: %d %d", ca, cb)
	}
	if err := a.srv.keys.Revoke(t.Context(), rec.ID); err != nil {
		t.Fatal(err)
	}
	if c := ask(a); c != http.StatusUnauthorized {
		t.Errorf("the revoking replica: %d", c)
	}
	b.srv.replicaTick(t.Context())
	if c := ask(b); c != http.StatusUnauthorized {
		t.Errorf("the other replica after one upkeep round: %d, want 401", c)
	}
}

// freshPostgresSchema returns the test PostgreSQL's URL pointed at a
// schema of its own, dropped when t ends.
func freshPostgresSchema(t *testing.T) string {
	t.Helper()
	base := services.RequirePostgres(t)
	schema := "memproxy_gw_" + strings.ToLower(rand.Text()[:12])
	exec := func(stmt string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE SCHEMA " + schema)
	t.Cleanup(func() { exec("DROP SCHEMA " + schema + " CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestPostgresWithoutRedisWarns: a gateway on PostgreSQL (a database made
// for replicas) without Redis says at start that its limits are its own.
func TestPostgresWithoutRedisWarns(t *testing.T) {
	dsn := freshPostgresSchema(t)
	logs := &lockedLog{}
	fake := providertest.NewOpenAI(t)
	y := "general_settings:\n  master_key: " + testMaster + "\n  database_url: " + dsn + "\nmodel_list:\n" +
		"  - model_name: gpt-test\n    litellm_params: {model: openai/gpt-upstream, api_base: \"" + fake.URL + "/v1\", api_key: k}\n"
	serveYAML(t, y, fake, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	if !strings.Contains(logs.String(), "no Redis: limits, budgets") {
		t.Errorf("no warning about per-process limits:\n%s", logs.String())
	}
}

// lockedLog collects log lines from any goroutine.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
