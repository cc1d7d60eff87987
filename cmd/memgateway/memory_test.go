package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/usage"
)

// TestMemoryReindex: memories stored without vectors are embedded in
// batches through the configured model, each call a usage row; a second
// run finds nothing left, and a model change embeds them all again.
func TestMemoryReindex(t *testing.T) {
	f := providertest.NewEmbeddings(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	db, err := store.Open(t.Context(), "", data)
	if err != nil {
		t.Fatal(err)
	}
	b := db.(memory.Backend)
	for _, c := range []string{"releases go out on fridays", "postgres listens on 5433", "we use tabs", "lint before push", "tests are table-driven"} {
		if _, _, err := b.Add(t.Context(), "u:a/p:b", c, nil); err != nil {
			db.Close()
			t.Fatal(err)
		}
	}
	db.Close()
	writeConfig := func(dims int) string {
		p := filepath.Join(dir, "gateway.yaml")
		y := "model_list:\n  - model_name: emb\n    litellm_params: {model: openai/text-embedding-3-small, api_base: \"" + f.URL +
			"/v1\", api_key: k}\ncontext_retrieval:\n  enabled: true\n  embedding_model: emb\n  embedding_dimensions: " + itoa(dims) + "\n"
		if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := writeConfig(16)
	out, stderr, err := runOut(t, "memory", "reindex", "--config", cfg, "--data-dir", data, "--batch", "2")
	if err != nil {
		t.Fatalf("reindex: %v (%s)", err, stderr)
	}
	for _, line := range []string{"reindex: 2/5 memories embedded (model text-embedding-3-small, 16 values)\n",
		"reindex: 4/5 memories", "reindex: 5/5 memories", "done, 5 memories embedded"} {
		if !strings.Contains(out, line) {
			t.Errorf("output %q lacks %q", out, line)
		}
	}
	if out, _, err := runOut(t, "memory", "reindex", "--config", cfg, "--data-dir", data); err != nil || !strings.Contains(out, "done, 0 memories") {
		t.Errorf("second run: %q %v; want nothing left", out, err)
	}
	if out, _, err := runOut(t, "memory", "reindex", "--config", writeConfig(32), "--data-dir", data); err != nil || !strings.Contains(out, "done, 5 memories") {
		t.Errorf("after a size change: %q %v; want all 5 embedded again", out, err)
	}
	db, err = store.Open(t.Context(), "", data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryUsage(t.Context(), usage.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	// 3 batches + 1 probe, 1 probe, 1 probe + 1 batch of 5.
	var embeds int
	for _, r := range rows {
		if r.Purpose == "memory_embedding" && r.Model == "emb" && r.Status == 200 && r.PromptTokens > 0 {
			embeds++
		}
	}
	if embeds != 7 || len(rows) != 7 {
		t.Errorf("%d embedding rows of %d; want 7 (3 probes and 4 batches)", embeds, len(rows))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
