package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// listPorts returns project → port (and whether it is running) from
// `memedge list --json`.
func (e *edgeHome) listPorts() map[string]struct {
	Port    int
	Running bool
} {
	e.t.Helper()
	var rows []struct {
		Project string `json:"project"`
		Port    int    `json:"port"`
		Running bool   `json:"running"`
	}
	if err := json.Unmarshal([]byte(e.run("list", "--json")), &rows); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]struct {
		Port    int
		Running bool
	}{}
	for _, r := range rows {
		out[r.Project] = struct {
			Port    int
			Running bool
		}{r.Port, r.Running}
	}
	return out
}

// TestCorruptRegistryKeepsLiveProjects (#12 item 8): with registry.json and
// its last good copy both damaged while two projects are served, `memedge
// list` still shows both on their ports (rebuilt from the daemon's live
// listeners), and after the daemon restarts each project gets its port
// back.
func TestCorruptRegistryKeepsLiveProjects(t *testing.T) {
	g := startGateway(t, mockModel)
	e := newEdge(t, g, "reg-user")
	e.start("first")
	e.start("second")
	before := e.listPorts()
	for _, name := range []string{"registry.json", "registry.json.bak"} {
		if err := os.WriteFile(filepath.Join(e.home, name), []byte(`{"version":1,"entr`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	after := e.listPorts()
	for _, p := range []string{"first", "second"} {
		if after[p] != before[p] || !after[p].Running {
			t.Errorf("after the registry was damaged, %s = %+v, want %+v", p, after[p], before[p])
		}
	}
	if m, _ := filepath.Glob(filepath.Join(e.home, "registry.json.corrupt-*")); len(m) != 1 {
		t.Errorf("damaged file set aside: %v, want one", m)
	}

	// Restart the daemon: each project comes back on its port.
	e.run("shutdown")
	waitFor(t, "edge daemon exit", func() bool {
		_, err := os.Stat(filepath.Join(e.home, "memedge.sock"))
		return os.IsNotExist(err)
	})
	e.start("second") // in the other order: allocation order must not matter
	e.start("first")
	restarted := e.listPorts()
	for _, p := range []string{"first", "second"} {
		if restarted[p].Port != before[p].Port {
			t.Errorf("after a restart %s is on port %d, was %d", p, restarted[p].Port, before[p].Port)
		}
	}
}
