package e2e

// The usage log survives its database going away: rows go to the journal
// in the data directory and are replayed when the database is back, even
// across a kill -9 of the gateway.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/mattn/go-sqlite3"

	"github.com/memproxy/memproxy/test/services"
)

const mockModel = `model_list:
  - model_name: mock
    litellm_params:
      model: mock/echo
`

// TestDurabilityPostgresOutage: the connection to PostgreSQL is cut in the
// middle of a load and restored later; every request's row is stored once.
func TestDurabilityPostgresOutage(t *testing.T) {
	const n = 300
	dsn, schema := freshPostgresSchema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr()
	g := startGateway(t, "  database_url: "+u.String()+"\n"+mockModel)

	start := time.Now()
	l := newLoad(t, g, 4)
	l.send(0, 100)
	waitFor(t, "rows written before the outage", func() bool { return len(postgresIDs(t, dsn, schema)) >= 50 })
	l.send(100, 150)
	proxy.cut() // with requests in flight and rows waiting to be written
	// The outage lasts as long as this load, 2s: long enough for several
	// replay attempts (backoff 50ms, 100ms, 200ms, …).
	for i := 150; i < 250; i++ {
		l.send(i, i+1)
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "the usage journal to be written in the data dir (does gateway.New set QueueOptions.JournalDir?)", func() bool { return len(journalIDs(t, g.dataDir())) > 0 })
	waitFor(t, "replays to fail", func() bool { return proxy.refused.Load() >= 3 })
	proxy.restore()
	l.send(250, n)
	ids := l.wait(t)

	var stored []string
	waitFor(t, fmt.Sprintf("%d usage rows in PostgreSQL", n), func() bool {
		stored = postgresIDs(t, dsn, schema)
		return len(stored) >= n
	})
	checkRows(t, stored, ids)
	waitFor(t, "the journal to be replayed", func() bool { return len(journalFiles(t, g.dataDir())) == 0 })
	t.Logf("%d requests, outage and replay in %s", n, time.Since(start).Round(time.Millisecond))
}

// TestDurabilityKill9: rows journaled while the SQLite file is locked by
// another process survive a SIGKILL of the gateway and are written by the
// next start on the same data directory.
func TestDurabilityKill9(t *testing.T) {
	const n = 200
	g := startGateway(t, mockModel)
	dbPath := filepath.Join(g.dataDir(), "memproxy.db")
	unlock := lockSQLite(t, dbPath)

	start := time.Now()
	l := newLoad(t, g, 4)
	l.send(0, n)
	ids := l.wait(t)
	// Rows in the journal have been handed to the OS: kill -9 keeps them.
	waitFor(t, fmt.Sprintf("%d rows in the usage journal in the data dir (does gateway.New set QueueOptions.JournalDir?)", n), func() bool { return len(journalIDs(t, g.dataDir())) >= n })
	checkRows(t, journalIDs(t, g.dataDir()), ids)
	g.kill()
	unlock()
	g.start()

	var stored []string
	waitFor(t, fmt.Sprintf("%d usage rows in SQLite", n), func() bool {
		stored = sqliteIDs(t, dbPath)
		return len(stored) >= n
	})
	checkRows(t, stored, ids)
	waitFor(t, "the journal to be replayed", func() bool { return len(journalFiles(t, g.dataDir())) == 0 })
	t.Logf("%d requests, lock, kill -9, restart and replay in %s", n, time.Since(start).Round(time.Millisecond))
}

// checkRows fails unless stored holds each of want exactly once.
func checkRows(t *testing.T, stored, want []string) {
	t.Helper()
	got, exp := slices.Sorted(slices.Values(stored)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, exp) {
		t.Fatalf("%d rows stored (%d distinct), want the %d request ids each once", len(got), len(slices.Compact(slices.Clone(got))), len(exp))
	}
}

// dataDir is the gateway's --data-dir.
func (g *gateway) dataDir() string {
	i := slices.Index(g.args, "--data-dir")
	return g.args[i+1]
}

// kill ends the gateway with SIGKILL.
func (g *gateway) kill() {
	g.t.Helper()
	if err := g.cmd.Process.Kill(); err != nil {
		g.t.Fatal(err)
	}
	<-g.exited
	g.terminated = true
}

// load sends chat requests with the master key from a few workers and
// keeps each response's X-Request-Id.
type load struct {
	jobs chan int
	wg   sync.WaitGroup
	once sync.Once
	mu   sync.Mutex
	ids  []string
}

func newLoad(t *testing.T, g *gateway, workers int) *load {
	jobs := make(chan int)
	l := &load{jobs: jobs}
	client := &http.Client{Timeout: 30 * time.Second}
	for range workers {
		l.wg.Go(func() {
			for i := range jobs {
				id, err := chatOnce(client, g, i)
				if err != nil {
					t.Errorf("request %d: %v", i, err)
				}
				l.mu.Lock()
				l.ids = append(l.ids, id)
				l.mu.Unlock()
			}
		})
	}
	t.Cleanup(l.finish)
	return l
}

// send hands requests from..to-1 to the workers, returning when the last
// has been taken.
func (l *load) send(from, to int) {
	for i := from; i < to; i++ {
		l.jobs <- i
	}
}

func (l *load) finish() {
	l.once.Do(func() { close(l.jobs) })
	l.wg.Wait()
}

// wait lets the workers finish and returns the request ids; a failed
// request ends the test.
func (l *load) wait(t *testing.T) []string {
	t.Helper()
	l.finish()
	if t.Failed() {
		t.FailNow()
	}
	return l.ids
}

func chatOnce(client *http.Client, g *gateway, i int) (string, error) {
	body := fmt.Sprintf(`{"model":"mock","messages":[{"role":"user","content":"row %d"}]}`, i)
	req, _ := http.NewRequest(http.MethodPost, g.httpURL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+g.masterKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusOK || id == "" {
		return "", fmt.Errorf("status %d, request id %q: %s", resp.StatusCode, id, b)
	}
	return id, nil
}

// journalFiles lists the usage journal's segments in dir.
func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "usage-journal-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// journalIDs returns the request ids of the finished rows in dir's journal
// (whole lines; a request's start has "phase":"begin", checksums are the
// unit tests' business).
func journalIDs(t *testing.T, dir string) []string {
	t.Helper()
	var ids []string
	for _, p := range journalFiles(t, dir) {
		b, err := os.ReadFile(p) // gone if replayed meanwhile
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for line := range bytes.Lines(b) {
			var l struct {
				Rec struct {
					Phase     string `json:"phase"`
					RequestID string `json:"request_id"`
				} `json:"rec"`
			}
			if bytes.HasSuffix(line, []byte("\n")) && json.Unmarshal(line, &l) == nil && l.Rec.RequestID != "" && l.Rec.Phase == "" {
				ids = append(ids, l.Rec.RequestID)
			}
		}
	}
	return ids
}

// freshPostgresSchema creates a schema of its own on the test server,
// dropped at cleanup, and returns the server's URL pointed at it.
func freshPostgresSchema(t *testing.T) (dsn, schema string) {
	t.Helper()
	base := services.RequirePostgres(t)
	schema = "memproxy_durab_" + hex.EncodeToString(binary.BigEndian.AppendUint64(nil, rand.Uint64()))
	ident := pgx.Identifier{schema}.Sanitize()
	pgQuery(t, base, `CREATE SCHEMA `+ident)
	t.Cleanup(func() { pgQuery(t, base, `DROP SCHEMA `+ident+` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

func postgresIDs(t *testing.T, dsn, schema string) []string {
	return pgQuery(t, dsn, `SELECT request_id FROM `+pgx.Identifier{schema, "usage"}.Sanitize())
}

// pgQuery runs one statement on a connection of its own (t.Context is
// already cancelled when cleanups run) and returns its text column.
func pgQuery(t *testing.T, dsn, stmt string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, stmt)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	return out
}

// lockSQLite takes SQLite's write lock on path from this process, as a
// backup tool or a sqlite3 shell would, so that the gateway's writes fail
// with "database is locked". The returned func releases it.
func lockSQLite(t *testing.T, path string) func() {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, "BEGIN EXCLUSIVE")
	}
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

func sqliteIDs(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ids []string
	rows, err := db.Query(`SELECT request_id FROM usage`)
	if err == nil {
		defer rows.Close()
	}
	for err == nil && rows.Next() {
		var id string
		err = rows.Scan(&id)
		ids = append(ids, id)
	}
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// tcpProxy forwards loopback connections to target until cut, which
// closes every connection and refuses new ones until restore.
type tcpProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	down    bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	refused atomic.Int64 // connections refused while cut
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		p.mu.Lock()
		if p.down || err != nil {
			p.mu.Unlock()
			p.refused.Add(1)
			c.Close() // refused: the client reads EOF at once
			if up != nil {
				up.Close()
			}
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		p.wg.Go(func() { pipe(up, c) })
		p.wg.Go(func() { pipe(c, up) })
	}
}

// cut closes every connection and refuses new ones.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

// restore accepts connections again.
func (p *tcpProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
