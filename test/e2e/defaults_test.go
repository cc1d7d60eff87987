package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDefaultsRemember is make demo as a test: a gateway on its embedded
// defaults (no --config: mock model, SQLite, memory on) and an edge; a
// fact taught with `memedge memory add` comes back fenced in the mock's
// echo of what it received, and x-memproxy-memories names it.
func TestDefaultsRemember(t *testing.T) {
	g := prepareGateway(t, "")
	i := slices.Index(g.args, "--config")
	g.args = slices.Delete(slices.Clone(g.args), i, i+2) // embedded defaults
	g.start()
	key, err := os.ReadFile(filepath.Join(g.dataDir(), "master.key"))
	if err != nil {
		t.Fatalf("the generated master key: %v", err)
	}
	g.masterKey = strings.TrimSpace(string(key))
	e := newEdge(t, g, "demo")
	url := e.start("demo")

	added := e.run("memory", "add", "--project", "demo", "The demo database listens on port 6543.")
	id := strings.TrimSpace(strings.TrimPrefix(added, "remembered as "))
	if !strings.HasPrefix(id, "mem_") {
		t.Fatalf("memory add printed %q", added)
	}
	resp, body := chat(t, url, `{"model":"mock","messages":[{"role":"user","content":"which port does the demo database listen on?"}]}`, "curl/8")
	if resp.StatusCode != 200 || resp.Header.Get("X-Memproxy-Memories") != id {
		t.Fatalf("answer %d, x-memproxy-memories %q (want %s): %s", resp.StatusCode, resp.Header.Get("X-Memproxy-Memories"), id, body)
	}
	if !strings.Contains(body, `memproxy-context`) || !strings.Contains(body, "port 6543") {
		t.Errorf("the mock's echo lacks the fenced memory: %s", body)
	}
}
