// Edge and gateway hardening end to end: replicas and failover, login's
// resolved user, the SIGTERM drain, the memory opt-out through the edge.

package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

const mockChat = `{"model":"mock","messages":[{"role":"user","content":"hello"}]}`

// askOK sends one chat request through the edge and fails the test unless
// it is answered 200.
func askOK(t *testing.T, url, what string) {
	t.Helper()
	if resp, body := chat(t, url, mockChat, "curl/8"); resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", what, resp.StatusCode, body)
	}
}

// TestEdgeFailsOverBetweenReplicas: one edge logged in to two gateway
// processes spreads requests over both, keeps answering when one is killed
// (kill -9) or stopped (SIGTERM), uses a restarted one again, and doctor
// shows each replica's state.
func TestEdgeFailsOverBetweenReplicas(t *testing.T) {
	g1, g2 := startGateway(t, modelConfig("http://127.0.0.1:1")), startGateway(t, modelConfig("http://127.0.0.1:1"))
	e := newEdge(t, g1, "alice")
	out := e.run("login", "--gateway", g1.grpcAddr+","+g2.grpcAddr, "--key", g1.masterKey, "--user", "alice")
	if !strings.Contains(out, "as alice (master key") {
		t.Errorf("login output: %s", out)
	}
	url := e.start("shop")

	rows := func(g *gateway) int { return len(g.usage("limit=1000")) }
	waitFor(t, "requests on both replicas", func() bool {
		askOK(t, url, "both replicas up")
		return rows(g1) > 0 && rows(g2) > 0
	})
	doc := e.run("doctor")
	for _, g := range []*gateway{g1, g2} {
		if !strings.Contains(doc, "replica "+g.grpcAddr+": serving") {
			t.Errorf("doctor does not show %s serving:\n%s", g.grpcAddr, doc)
		}
	}

	// kill -9 one replica: every later request is answered by the other.
	_ = g1.cmd.Process.Kill()
	<-g1.exited // the harness's own Wait: a second Wait on one process can hang
	g1.terminated = true
	for i := range 10 {
		askOK(t, url, fmt.Sprintf("request %d after kill -9 of one replica", i))
	}
	if doc := e.run("doctor"); !strings.Contains(doc, "replica "+g1.grpcAddr+": not serving") {
		t.Errorf("doctor does not show the killed replica:\n%s", doc)
	}

	// It comes back and is used again; then the other stops (SIGTERM).
	g1.start()
	before := rows(g1)
	waitFor(t, "the restarted replica taking requests", func() bool {
		askOK(t, url, "after the restart")
		return rows(g1) > before
	})
	g2.stop()
	for i := range 10 {
		askOK(t, url, fmt.Sprintf("request %d after SIGTERM of one replica", i))
	}
}

// TestLoginShowsTheKeysUser: with a user key, login prints the user the
// gateway resolved from the key, not the OS user or --user.
func TestLoginShowsTheKeysUser(t *testing.T) {
	g := startGateway(t, modelConfig("http://127.0.0.1:1"))
	dataDir := ""
	for i, a := range g.args {
		if a == "--data-dir" {
			dataDir = g.args[i+1]
		}
	}
	cmd := exec.Command(filepath.Join(bin, "memgateway"), "keys", "create", "--user", "mallory-from-the-key", "--data-dir", dataDir)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("keys create: %v\n%s", err, b)
	}
	var key string
	for _, line := range strings.Split(string(b), "\n") {
		if k, ok := strings.CutPrefix(line, "key: "); ok {
			key = strings.TrimSpace(k)
		}
	}
	e := newEdge(t, g, "someone")
	out := e.run("login", "--gateway", g.grpcAddr, "--key", key, "--user", "os-user")
	if !strings.Contains(out, "as mallory-from-the-key (the key's user") {
		t.Fatalf("login output: %s", out)
	}
	if _, err := e.runErr("login", "--gateway", g.grpcAddr, "--key", "sk-mp-not-a-key"); err == nil {
		t.Fatal("login accepted a key the gateway refuses")
	}
}

// TestSIGTERMDrainsThroughTheEdge: a stream running through the edge when
// the gateway gets SIGTERM finishes; with a short --drain-timeout it is cut
// with an error event in the client's dialect instead.
func TestSIGTERMDrainsThroughTheEdge(t *testing.T) {
	for _, short := range []bool{false, true} {
		t.Run(fmt.Sprintf("drain-timeout-cut=%v", short), func(t *testing.T) {
			fake := providertest.NewOpenAI(t)
			fake.Hold = make(chan struct{})
			var extra []string
			if short {
				extra = []string{"--drain-timeout", "300ms"}
			}
			g := startGateway(t, modelConfig(fake.URL), extra...)
			url := newEdge(t, g, "alice").start("shop")
			req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions",
				strings.NewReader(`{"model":"gpt-e2e","stream":true,"messages":[{"role":"user","content":"hello"}]}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: ") {
				t.Fatalf("first line %q, %v", line, err)
			}
			_ = g.cmd.Process.Signal(syscall.SIGTERM)
			exited := g.exited // the harness waits for the process; a second Wait can hang
			g.terminated = true
			if !short {
				waitFor(t, "the gateway refusing new connections", func() bool {
					resp, err := http.Get(g.httpURL + "/health")
					if err == nil {
						resp.Body.Close()
					}
					return err != nil || resp.StatusCode == http.StatusServiceUnavailable
				})
				close(fake.Hold)
			}
			rest := readAll(t, br)
			<-exited
			switch {
			case !short && !strings.HasSuffix(rest, "data: [DONE]\n\n"):
				t.Fatalf("stream during the drain did not finish: %q", rest)
			case short && !strings.Contains(rest, "drain timeout"):
				t.Fatalf("stream cut at the drain timeout without an error event: %q", rest)
			}
			if short {
				close(fake.Hold)
			}
		})
	}
}

// TestMemoryOptOutThroughTheEdge: a client's x-memory-disable: 1 crosses the
// edge, so the gateway injects nothing; without it the memory is injected.
func TestMemoryOptOutThroughTheEdge(t *testing.T) {
	fake := providertest.NewOpenAI(t)
	g := startGateway(t, memoryConfig(fake.URL))
	e := newEdge(t, g, "alice")
	shop := e.start("shop")
	e.run("memory", "add", "--project", "shop", "The shop project deploys with `make ship` on Tuesdays.")
	ask := func(optOut bool) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, shop+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-e2e","messages":[{"role":"user","content":"how do we deploy this project?"}]}`))
		req.Header.Set("Content-Type", "application/json")
		if optOut {
			req.Header.Set("x-memory-disable", "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := ask(true); resp.StatusCode != 200 || resp.Header.Get("X-Memproxy-Memories") != "" {
		t.Fatalf("opted out: %d, memories %q", resp.StatusCode, resp.Header.Get("X-Memproxy-Memories"))
	}
	if strings.Contains(fmt.Sprint(fake.Requests()[0].Body["messages"]), "make ship") {
		t.Fatal("the opted-out prompt holds the memory")
	}
	if resp := ask(false); resp.Header.Get("X-Memproxy-Memories") == "" {
		t.Fatal("without the opt-out no memory was injected: the test proves nothing")
	}
}
