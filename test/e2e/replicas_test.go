package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memproxy/memproxy/test/services"
)

// TestReplicasOnePostgresOneRedis (issue 14): three gateway processes on one
// PostgreSQL and one Redis, two edges logged in to all three, a steady load
// of streamed and plain requests through both edges. One replica is killed
// (kill -9), another stopped (SIGTERM), both brought back. Only requests in
// flight at the kill may fail; an MCP session opened on the killed replica
// goes on through another, where the memory it wrote is found; a key's
// budget is spent once across the three, not once per replica.
func TestReplicasOnePostgresOneRedis(t *testing.T) {
	dsn, schema := freshPostgresSchema(t)
	addr := services.RequireRedis(t)
	host, port, _ := strings.Cut(addr, ":")
	cfg := "  database_url: " + dsn + "\n" + `model_list:
  - model_name: mock
    litellm_params: {model: mock/echo, input_cost_per_token: 0.001, output_cost_per_token: 0.001}
context_retrieval:
  enabled: true
litellm_settings:
  cache_params: {type: redis, host: ` + host + `, port: ` + port + `}
`
	var gs []*gateway
	for range 3 {
		gs = append(gs, startGateway(t, cfg))
	}
	all := gs[0].grpcAddr + "," + gs[1].grpcAddr + "," + gs[2].grpcAddr
	var urls []string
	var edges []*edgeHome
	for _, user := range []string{"alice", "bob"} {
		e := newEdge(t, gs[0], user)
		e.run("login", "--gateway", all, "--key", gs[0].masterKey, "--user", user)
		urls, edges = append(urls, e.start("shop")), append(edges, e)
	}

	// The MCP session opens on replica 0 and writes a memory there.
	lb := &balancer{}
	lb.to(gs[0].httpURL)
	cs := mcpVia(t, lb, map[string]string{"Authorization": "Bearer " + gs[0].masterKey, "X-Memory-User-Id": "carol", "X-Memory-Project": "shop"})
	if out := mcpTool(t, cs, "memory_add", map[string]any{"content": "The replicas share one PostgreSQL."}); !strings.Contains(out, `"created":true`) {
		t.Fatalf("memory_add on replica 0: %s", out)
	}

	// Through an edge, an MCP session's calls are spread over the three
	// replicas like any request: every one is served.
	ecs := mcpSession(t, urls[0], true)
	if out := mcpTool(t, ecs, "memory_add", map[string]any{"content": "Edge sessions span replicas."}); !strings.Contains(out, `"created":true`) {
		t.Fatalf("memory_add through the edge: %s", out)
	}
	for i := range 6 {
		if out := mcpTool(t, ecs, "memory_search", map[string]any{"query": "edge sessions span"}); !strings.Contains(out, "span replicas") {
			t.Fatalf("memory_search %d through the edge: %s", i, out)
		}
	}

	ld := startSteadyLoad(t, urls)
	ld.waitDone(t, 100)

	killAt := time.Now()
	gs[0].kill()
	killed := time.Now()
	lb.to(gs[1].httpURL)
	if out := mcpTool(t, cs, "memory_search", map[string]any{"query": "replicas PostgreSQL"}); !strings.Contains(out, "share one PostgreSQL") {
		t.Errorf("the MCP session on replica 1 after replica 0's death: %s", out)
	}
	ld.waitDone(t, ld.done()+100)

	gs[1].stop() // SIGTERM: drains, then exits
	lb.to(gs[2].httpURL)
	if out := mcpTool(t, cs, "memory_search", map[string]any{"query": "replicas PostgreSQL"}); !strings.Contains(out, "share one PostgreSQL") {
		t.Errorf("the MCP session on replica 2: %s", out)
	}
	ld.waitDone(t, ld.done()+100)
	gs[0].start()
	gs[1].start()
	ld.waitDone(t, ld.done()+100)
	for _, e := range edges { // both edges are back on all three
		waitFor(t, "every replica serving in memedge doctor", func() bool {
			doc := e.run("doctor")
			return strings.Count(doc, ": serving") >= 3 && !strings.Contains(doc, "not serving")
		})
	}
	results := ld.stop()

	var failed []result
	for _, r := range results {
		if r.err != nil {
			failed = append(failed, r)
		}
	}
	t.Logf("%d requests through two edges, %d failed", len(results), len(failed))
	for _, r := range failed {
		t.Logf("failed in flight: %v", r.err)
		// In flight on the killed replica: started before it was gone,
		// ended after it was killed.
		if !r.start.Before(killed) || r.end.Before(killAt) {
			t.Errorf("a request not in flight at the kill failed (%s to %s; kill at %s): %v",
				r.start.Format(time.StampMilli), r.end.Format(time.StampMilli), killAt.Format(time.StampMilli), r.err)
		}
	}
	if len(failed) > ld.workers {
		t.Errorf("%d requests failed, more than the %d that can be in flight", len(failed), ld.workers)
	}

	budgetRequests := checkBudgetAcrossReplicas(t, gs)

	// Rows: every answered request has one (each replica journals its rows
	// before answering and replays the journal when it starts again), and
	// none is counted twice; a request that failed in flight may have one
	// (gateway_crash) or not (it never reached a replica). A request the
	// killed replica had admitted before its answer header left it is sent
	// again by the edge (nothing said it was taken) and answered elsewhere:
	// it has its gateway_crash row (no tokens) beside the answered one, so
	// crash rows are counted apart. Stopping the replicas writes out their
	// queues.
	for _, g := range gs {
		g.stop()
	}
	count := func(where string) (n int) {
		if v := pgQuery(t, dsn, `SELECT count(*)::text FROM `+pgIdent(schema, "usage")+where); len(v) == 1 {
			fmt.Sscan(v[0], &n)
		}
		return n
	}
	rows, crashed := count(""), count(` WHERE error_type = 'gateway_crash'`)
	sent := len(results) + budgetRequests
	t.Logf("usage rows %d (%d gateway_crash) for %d requests (%d through the edges, %d of the budget run)", rows, crashed, sent, len(results), budgetRequests)
	if answered := len(results) - len(failed) + budgetRequests; rows-crashed < answered || rows-crashed > sent {
		t.Errorf("%d usage rows besides %d gateway_crash: want between the %d answered requests and the %d sent", rows-crashed, crashed, answered, sent)
	}
	if crashed > ld.workers {
		t.Errorf("%d gateway_crash rows, more than the %d requests that can be in flight", crashed, ld.workers)
	}
}

// result is one request of the steady load.
type result struct {
	start, end time.Time
	err        error
}

// steadyLoad sends, from two workers per edge (one streaming, one not),
// requests one after another until stopped.
type steadyLoad struct {
	workers int
	quit    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	res     []result
	ok      atomic.Int64
}

const maxLoadRequests = 5000 // per worker: a bound, never reached in a passing run

func startSteadyLoad(t *testing.T, urls []string) *steadyLoad {
	l := &steadyLoad{quit: make(chan struct{})}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, u := range urls {
		for _, stream := range []bool{false, true} {
			l.workers++
			l.wg.Go(func() {
				for i := range maxLoadRequests {
					select {
					case <-l.quit:
						return
					default:
					}
					r := result{start: time.Now()}
					r.err = edgeChat(client, u, stream, i)
					r.end = time.Now()
					if r.err == nil {
						l.ok.Add(1)
					}
					l.mu.Lock()
					l.res = append(l.res, r)
					l.mu.Unlock()
				}
			})
		}
	}
	t.Cleanup(func() { l.stop() })
	return l
}

func (l *steadyLoad) done() int64 { return l.ok.Load() }

// waitDone waits until n requests have succeeded.
func (l *steadyLoad) waitDone(t *testing.T, n int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d answered requests", n), func() bool { return l.ok.Load() >= n })
}

func (l *steadyLoad) stop() []result {
	select {
	case <-l.quit:
	default:
		close(l.quit)
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.res)
}

// edgeChat sends one chat request through an edge port; a streamed answer
// must end with [DONE] and carry no error event.
func edgeChat(client *http.Client, base string, stream bool, i int) error {
	body := fmt.Sprintf(`{"model":"mock","stream":%v,"messages":[{"role":"user","content":"steady %d"}]}`, stream, i)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return fmt.Errorf("status %d, body cut: %w", resp.StatusCode, err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	case stream && (!strings.Contains(string(b), "data: [DONE]") || strings.Contains(string(b), `"error"`)):
		return fmt.Errorf("stream cut or failed: %s", b)
	case !stream && !strings.Contains(string(b), fmt.Sprintf("steady %d", i)):
		return fmt.Errorf("answer: %s", b)
	}
	return nil
}

// checkBudgetAcrossReplicas mints a key whose budget is 10.5 requests'
// cost and spends it one request at a time, round robin over the replicas.
// It is refused once the spend reaches the budget, on every replica: 11
// requests (12 if a charge is still on its way when the next is admitted),
// never 3× that.
func checkBudgetAcrossReplicas(t *testing.T, gs []*gateway) (requests int) {
	t.Helper()
	send := func(g *gateway, key string) (int, float64) {
		req, _ := http.NewRequest(http.MethodPost, g.httpURL+"/v1/chat/completions",
			strings.NewReader(`{"model":"mock","messages":[{"role":"user","content":"budget"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Usage struct {
				Prompt     float64 `json:"prompt_tokens"`
				Completion float64 `json:"completion_tokens"`
			} `json:"usage"`
		}
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, (out.Usage.Prompt + out.Usage.Completion) * 0.001
	}
	code, cost := send(gs[0], gs[0].masterKey)
	if code != 200 || cost <= 0 {
		t.Fatalf("pricing the budget request: %d, cost %v", code, cost)
	}
	key := mintKey(t, gs[0], "--user", "dave", "--max-budget", fmt.Sprint(10.5*cost))
	admitted := 0
	for i := range 100 {
		code, _ := send(gs[i%3], key)
		if code == http.StatusTooManyRequests {
			break
		}
		if code != 200 {
			t.Fatalf("budget request %d on replica %d: %d", i, i%3, code)
		}
		admitted++
	}
	t.Logf("budget of 10.5 requests: %d admitted across three replicas", admitted)
	if admitted < 11 || admitted > 12 {
		t.Errorf("a budget of 10.5 requests admitted %d across three replicas, want 11 (or 12)", admitted)
	}
	for i, g := range gs {
		if code, _ := send(g, key); code != http.StatusTooManyRequests {
			t.Errorf("replica %d after the budget was spent: %d, want 429", i, code)
		}
	}
	return 1 + admitted + 1 + len(gs) // pricing, admitted, the first refusal, one refusal per replica
}

// mintKey creates a key with memgateway keys create against g's config
// (its database) and returns it.
func mintKey(t *testing.T, g *gateway, args ...string) string {
	t.Helper()
	cfg := g.args[slices.Index(g.args, "--config")+1]
	out := runGatewayCLI(t, append([]string{"keys", "create", "--config", cfg, "--data-dir", g.dataDir()}, args...)...)
	for line := range strings.SplitSeq(out, "\n") {
		if k, ok := strings.CutPrefix(line, "key: "); ok {
			return strings.TrimSpace(k)
		}
	}
	t.Fatalf("keys create printed no key:\n%s", out)
	return ""
}

// balancer sends every request to the replica it points at, as a load
// balancer does once a replica is gone.
type balancer struct{ target atomic.Pointer[url.URL] }

func (b *balancer) to(raw string) { u, _ := url.Parse(raw); b.target.Store(u) }

// mcpVia opens an MCP session through lb, with hdr on every request.
func mcpVia(t *testing.T, lb *balancer, hdr map[string]string) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		u := lb.target.Load()
		r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, u.Host
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	c := sdk.NewClient(&sdk.Implementation{Name: "e2e-ide", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: "http://balancer/mcp", HTTPClient: &http.Client{Transport: rt}}, nil)
	if err != nil {
		t.Fatalf("connecting to /mcp: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// runGatewayCLI runs memgateway with args and returns its output.
func runGatewayCLI(t *testing.T, args ...string) string {
	t.Helper()
	b, err := exec.Command(filepath.Join(bin, "memgateway"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("memgateway %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return string(b)
}

func pgIdent(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// TestSecondGatewayOnOneSQLiteFileRefused: a second memgateway on the data
// directory (the SQLite file) of a running one exits at once, saying why;
// after the first was killed (kill -9), a new one starts.
func TestSecondGatewayOnOneSQLiteFileRefused(t *testing.T) {
	g := startGateway(t, modelConfig("http://127.0.0.1:9"))
	cfg := g.args[slices.Index(g.args, "--config")+1]
	second := func() *exec.Cmd {
		return exec.Command(filepath.Join(bin, "memgateway"), "serve", "--config", cfg, "--data-dir", g.dataDir(),
			"--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0")
	}
	out, err := second().CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another gateway is using this SQLite database") ||
		!strings.Contains(string(out), "PostgreSQL") {
		t.Fatalf("a second gateway on one SQLite file: %v\n%s", err, out)
	}
	g.kill()
	g.start() // the dead one's heartbeat does not block its restart
}
