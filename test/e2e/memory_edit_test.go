package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// memoryRows is the data of a `memedge memory list|search|history --json`
// answer.
type memoryRows struct {
	Data []struct {
		ID           string `json:"id"`
		Content      string `json:"content"`
		Status       string `json:"status"`
		SupersededBy string `json:"superseded_by"`
		Source       *struct {
			Client string `json:"client"`
		} `json:"source"`
	} `json:"data"`
}

func parseRows(t *testing.T, out string) memoryRows {
	t.Helper()
	var r memoryRows
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	return r
}

// TestMemoryEditCLI: a person corrects a memory with memedge; the old text
// is kept in its history, no longer listed or searched, and another
// project cannot edit it.
func TestMemoryEditCLI(t *testing.T) {
	fake := providertest.NewOpenAI(t)
	g := startGateway(t, memoryConfig(fake.URL))
	e := newEdge(t, g, "alice")
	e.start("shop")
	e.start("billing")

	e.run("memory", "add", "--project", "shop", "The staging database listens on port 6543.")
	rows := parseRows(t, e.run("memory", "list", "--project", "shop", "--json"))
	if len(rows.Data) != 1 || rows.Data[0].Status != "active" || rows.Data[0].Source == nil {
		t.Fatalf("list --json: %+v", rows)
	}
	old := rows.Data[0].ID

	cmd := exec.Command(filepath.Join(bin, "memedge"), "memory", "edit", "--project", "billing", old, "hijacked")
	cmd.Env = e.env
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no such memory") {
		t.Errorf("editing shop's memory from billing: %v %s; want refused as not found", err, out)
	}
	out := e.run("memory", "edit", "--project", "shop", old, "We moved the staging database to port 7000.")
	if !strings.Contains(out, old+" is superseded by mem_") {
		t.Fatalf("memory edit: %s", out)
	}
	found := parseRows(t, e.run("memory", "search", "--project", "shop", "staging database port", "--json"))
	if len(found.Data) != 1 || !strings.Contains(found.Data[0].Content, "7000") {
		t.Errorf("search after the edit: %+v; want only the new text", found.Data)
	}
	hist := parseRows(t, e.run("memory", "history", "--project", "shop", old, "--json"))
	if len(hist.Data) != 2 || hist.Data[0].ID != old || hist.Data[0].Status != "superseded" || hist.Data[0].SupersededBy != hist.Data[1].ID ||
		hist.Data[1].Source == nil || hist.Data[1].Source.Client != "edit" {
		t.Errorf("history --json: %+v", hist.Data)
	}
	if table := e.run("memory", "history", "--project", "shop", old); !strings.Contains(table, "superseded by "+hist.Data[1].ID) || !strings.Contains(table, "6543") {
		t.Errorf("history table:\n%s", table)
	}
	if all := parseRows(t, e.run("memory", "list", "--project", "shop", "--all", "--json")); len(all.Data) != 2 {
		t.Errorf("list --all: %d memories; want 2", len(all.Data))
	}
	if l := e.run("memory", "list", "--project", "shop"); strings.Contains(l, "6543") {
		t.Errorf("list shows the superseded text:\n%s", l)
	}
}
