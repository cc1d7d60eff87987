package e2e

// Nothing lost, provably: load through the edge and straight to the
// gateway, streamed and not, while the gateway is killed with SIGKILL at
// random points and restarted, and its database goes away for a while.
// Afterwards every request has exactly one usage row (200 with its tokens
// when it was answered, gateway_crash when it was cut in flight) and every
// answered exchange's memory is stored exactly once.

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestCrashSQLite(t *testing.T) {
	var dbPath string
	runCrash(t, "", func(g *gateway) func() {
		dbPath = filepath.Join(g.dataDir(), "memproxy.db")
		return lockSQLite(t, dbPath)
	}, func() crashDB {
		return crashDB{rows: sqliteRows(t, dbPath), memories: sqliteStrings(t, dbPath, `SELECT content FROM memories`)}
	})
}

func TestCrashPostgres(t *testing.T) {
	dsn, schema := freshPostgresSchema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr()
	runCrash(t, "  database_url: "+u.String()+"\n", func(*gateway) func() {
		proxy.cut()
		return proxy.restore
	}, func() crashDB {
		rows := pgRows(t, dsn, schema)
		mem := pgQuery(t, dsn, `SELECT content FROM `+pgx.Identifier{schema, "memories"}.Sanitize())
		return crashDB{rows: rows, memories: mem}
	})
}

// crashDB is what the test reads back from the database.
type crashDB struct {
	rows     []crashRow
	memories []string
}

type crashRow struct {
	id, errorType      string
	status             int
	prompt, completion int64
}

// runCrash runs the scenario on a gateway whose general_settings end with
// dbSettings. outage takes the database away (returning what brings it
// back); read reads the rows and memories once the gateway has stopped.
func runCrash(t *testing.T, dbSettings string, outage func(*gateway) func(), read func() crashDB) {
	up := newCrashUpstream(t)
	cfg := dbSettings + `model_list:
  - model_name: crash
    litellm_params:
      model: openai/crash-upstream
      api_base: ` + up.srv.URL + `/v1
      api_key: sk-upstream
context_retrieval:
  enabled: true
  scope_policy: user
  threshold: 1000000
`
	g := startGateway(t, cfg)
	e := newEdge(t, g, "ann")
	l := &crashLoad{direct: g.httpURL, edge: e.start("crash"), key: g.masterKey}

	const rounds = 6
	for round := range rounds {
		parked := round%2 == 0 // kill with every request in flight parked at the provider
		var restore func()
		l.run(6)
		target := l.answered.Load() + 10 + rand.Int64N(50)
		waitFor(t, "answers before the kill", func() bool { return l.answered.Load() >= target })
		if round == 1 {
			restore = outage(g) // the database goes away under load ...
			target := l.answered.Load() + 10
			waitFor(t, "answers during the outage", func() bool { return l.answered.Load() >= target })
		}
		if parked {
			up.hold()
			waitFor(t, "every in-flight request to reach the provider", func() bool { return up.parked.Load() == l.inflight.Load() })
		}
		l.stopping.Store(true)
		g.kill() // ... and the gateway dies with it gone
		l.wait(parked)
		up.release()
		if restore != nil {
			restore()
		}
		g.start()
		waitFor(t, "the edge to reach the restarted gateway", func() bool { return l.edgeUp() })
	}
	g.stop() // SIGTERM: drains the usage log and the write-backs
	db := read()
	l.check(t, db, g)
}

// crashLoad sends requests from workers, each numbered and carrying its
// number as a marker, alternating edge/direct and stream/not.
type crashLoad struct {
	direct, edge, key string
	next              atomic.Int64
	answered          atomic.Int64
	inflight          atomic.Int64
	stopping          atomic.Bool
	wg                sync.WaitGroup

	mu            sync.Mutex
	ok            map[string]int // request id → request number, answered
	okNums        []int
	failedParked  int // failed requests of rounds killed with all parked
	failedRandom  int // failed requests of rounds killed at a random point
	roundFailures int
}

func (l *crashLoad) run(workers int) {
	l.stopping.Store(false)
	for range workers {
		l.wg.Go(func() {
			client := &http.Client{Timeout: 30 * time.Second}
			for !l.stopping.Load() {
				n := int(l.next.Add(1))
				l.inflight.Add(1)
				id, err := l.send(client, n)
				l.mu.Lock()
				if err == nil {
					if l.ok == nil {
						l.ok = map[string]int{}
					}
					l.ok[id] = n
					l.okNums = append(l.okNums, n)
					l.answered.Add(1)
				} else {
					l.roundFailures++
				}
				l.mu.Unlock()
				l.inflight.Add(-1)
			}
		})
	}
}

// wait lets the workers see their last requests fail and books the
// failures to the kind of round.
func (l *crashLoad) wait(parked bool) {
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if parked {
		l.failedParked += l.roundFailures
	} else {
		l.failedRandom += l.roundFailures
	}
	l.roundFailures = 0
}

func marker(n int) string { return fmt.Sprintf("crash-%06d", n) }

// send makes request n and returns its request id when it was answered
// in full: 200, and the whole answer (the [DONE] line of a stream).
func (l *crashLoad) send(client *http.Client, n int) (string, error) {
	stream := n%2 == 0
	base, auth := l.direct, "Bearer "+l.key
	if n%4 >= 2 {
		base, auth = l.edge, ""
	}
	body := fmt.Sprintf(`{"model":"crash","stream":%t,"messages":[{"role":"user","content":"question %s"}]}`, stream, marker(n))
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	id := resp.Header.Get("X-Request-Id")
	complete := strings.Contains(string(b), `"answer `+marker(n)) && (!stream || strings.Contains(string(b), "data: [DONE]"))
	if resp.StatusCode != http.StatusOK || id == "" || !complete || strings.Contains(string(b), `"error"`) {
		return "", fmt.Errorf("status %d, request id %q: %.200s", resp.StatusCode, id, b)
	}
	return id, nil
}

// edgeUp reports whether the edge reaches the gateway (GET /v1/models has
// no usage row).
func (l *crashLoad) edgeUp() bool {
	resp, err := http.Get(l.edge + "/v1/models")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (l *crashLoad) check(t *testing.T, db crashDB, g *gateway) {
	t.Helper()
	sent := int(l.next.Load())
	byID := map[string]crashRow{}
	for _, r := range db.rows {
		if _, dup := byID[r.id]; dup {
			t.Errorf("request id %s has two rows", r.id)
		}
		byID[r.id] = r
	}
	for id := range l.ok {
		r, ok := byID[id]
		if !ok {
			t.Errorf("answered request %s (%s) has no usage row", id, marker(l.ok[id]))
			continue
		}
		if r.status != 200 || r.errorType != "" || r.prompt <= 0 || r.completion <= 0 {
			t.Errorf("answered request %s: row %+v, want status 200 with tokens", id, r)
		}
	}
	crashed, cutAfterRow := 0, 0
	for id, r := range byID {
		if _, ok := l.ok[id]; ok {
			continue
		}
		switch {
		case r.errorType == "gateway_crash":
			crashed++
		case r.status == 200 && r.completion > 0:
			cutAfterRow++ // row journaled, then the kill cut the response's end
		default:
			t.Errorf("row %+v of a request not answered: want gateway_crash", r)
		}
	}
	// Every request of a round killed with all in flight parked at the
	// provider was admitted: those rounds account exactly. A request of a
	// round killed at a random point may have died before the gateway
	// admitted it (in the listen queue): it may have no row.
	extra := len(byID) - len(l.ok)
	if extra < l.failedParked || extra > l.failedParked+l.failedRandom {
		t.Errorf("%d rows for %d failed requests: want at least the %d cut while parked, at most all", extra, l.failedParked+l.failedRandom, l.failedParked)
	}
	if crashed < l.failedParked {
		t.Errorf("%d gateway_crash rows, want at least the %d requests cut while parked", crashed, l.failedParked)
	}
	if len(l.ok)+l.failedParked+l.failedRandom != sent {
		t.Errorf("bookkeeping: %d answered + %d failed != %d sent", len(l.ok), l.failedParked+l.failedRandom, sent)
	}
	// Memories: every answered exchange stored exactly once.
	seen := map[string]int{}
	re := regexp.MustCompile(`question (crash-\d{6})`)
	for _, m := range db.memories {
		for _, mm := range re.FindAllStringSubmatch(m, -1) {
			seen[mm[1]]++
		}
	}
	for _, n := range l.okNums {
		if c := seen[marker(n)]; c != 1 {
			t.Errorf("answered exchange %s stored %d times in memory, want once", marker(n), c)
		}
	}
	t.Logf("%d requests: %d answered, %d failed (%d cut while parked); rows: %d, of which %d gateway_crash, %d finished before the cut; %d memories",
		sent, len(l.ok), l.failedParked+l.failedRandom, l.failedParked, len(byID), crashed, cutAfterRow, len(db.memories))
	if t.Failed() {
		t.Logf("journal files left: %v", journalFiles(t, g.dataDir()))
	}
}

// crashUpstream is an OpenAI-compatible provider that answers at once,
// or, while held, parks every request until released or cut.
type crashUpstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	rel chan struct{} // closed to release parked requests; nil when not holding
	// parked counts requests waiting in a hold.
	parked atomic.Int64
}

var markerRE = regexp.MustCompile(`crash-\d{6}`)

func newCrashUpstream(t *testing.T) *crashUpstream {
	u := &crashUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(func() { u.release(); u.srv.Close() })
	return u
}

func (u *crashUpstream) hold() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rel = make(chan struct{})
}

func (u *crashUpstream) release() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.rel != nil {
		close(u.rel)
		u.rel = nil
	}
}

func (u *crashUpstream) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Stream   bool `json:"stream"`
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	mark := markerRE.FindString(req.Messages[len(req.Messages)-1].Content)
	u.mu.Lock()
	rel := u.rel
	u.mu.Unlock()
	if rel != nil {
		u.parked.Add(1)
		select {
		case <-rel:
		case <-r.Context().Done():
		}
		u.parked.Add(-1)
		if r.Context().Err() != nil {
			return
		}
	}
	answer := "answer " + mark
	usage := `{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}`
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"crash-upstream","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":%s}`, answer, usage)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	bw := bufio.NewWriter(w)
	chunk := func(delta, finish, usage string) {
		fmt.Fprintf(bw, `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"crash-upstream","choices":[{"index":0,"delta":%s,"finish_reason":%s}]%s}`+"\n\n", delta, finish, usage)
	}
	chunk(`{"role":"assistant","content":""}`, "null", "")
	chunk(fmt.Sprintf(`{"content":%q}`, answer), "null", "")
	chunk(`{}`, `"stop"`, `,"usage":`+usage)
	bw.WriteString("data: [DONE]\n\n")
	bw.Flush()
}

func sqliteRows(t *testing.T, path string) []crashRow {
	t.Helper()
	db := openSQLite(t, path)
	defer db.Close()
	rows, err := db.Query(`SELECT request_id, COALESCE(error_type, ''), status, prompt_tokens, completion_tokens FROM usage`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []crashRow
	for rows.Next() {
		var r crashRow
		if err := rows.Scan(&r.id, &r.errorType, &r.status, &r.prompt, &r.completion); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sqliteStrings(t *testing.T, path, query string) []string {
	t.Helper()
	db := openSQLite(t, path)
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func pgRows(t *testing.T, dsn, schema string) []crashRow {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT request_id, COALESCE(error_type, ''), status, prompt_tokens, completion_tokens FROM `+
		pgx.Identifier{schema, "usage"}.Sanitize())
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (crashRow, error) {
		var r crashRow
		err := row.Scan(&r.id, &r.errorType, &r.status, &r.prompt, &r.completion)
		return r, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
