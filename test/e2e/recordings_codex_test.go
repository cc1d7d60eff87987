package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// codexConfig points Codex at a fake Responses upstream; extra is more
// top-level settings.
func codexConfig(t *testing.T, home, url, extra string) {
	cfg := fmt.Sprintf("model = \"gpt-5-codex\"\nmodel_provider = \"memproxy\"\n%s\n[model_providers.memproxy]\n"+
		"name = \"memproxy\"\nbase_url = %q\nwire_api = \"responses\"\n", extra, url+"/v1")
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func recordCodex(t *testing.T, codex string) {
	cwd, home := projectDir(t, "AGENTS.md"), t.TempDir()
	rs := providertest.NewResponses(t)
	// Codex 0.171's shell tool (recorded tools: exec_command, write_stdin, …).
	rs.ToolCall = &providertest.ToolCall{Name: "exec_command", Input: `{"cmd":"cat notes.txt"}`}
	codexConfig(t, home, rs.URL, "")
	run := func(fake *providertest.Responses, args ...string) ([]providertest.Recorded, string) {
		t.Helper()
		n := len(fake.Requests())
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, codex, append([]string{"exec", "--skip-git-repo-check"}, args...)...)
		cmd.Dir = cwd
		cmd.Env = append(os.Environ(), "CODEX_HOME="+home, "HOME="+home, "OPENAI_API_KEY=dummy")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("codex %v: %v\n%s", args, err, out)
		}
		return since(fake.Requests(), n), string(out)
	}
	rec := &recorder{t: t, client: "codex"}
	for _, step := range []struct{ label, prompt string }{{"turn", promptRead}, {"resumed-turn", promptAfter}} {
		args := []string{step.prompt}
		if step.label != "turn" {
			args = []string{"resume", "--last", step.prompt}
		}
		reqs, out := run(rs, args...)
		if !strings.Contains(out, strings.TrimSpace(notes)) {
			t.Fatalf("codex did not run the fake's exec_command call:\n%s", out)
		}
		rec.take(reqs, step.label, "", step.prompt)
	}
	// Auto-compaction: a limit below the fake's 16 tokens a call makes Codex
	// compact before the next turn. Its compaction call offers no tools;
	// every turn call does.
	plain := providertest.NewResponses(t)
	codexConfig(t, home, plain.URL, "model_auto_compact_token_limit = 12\n")
	reqs, out := run(plain, "resume", "--last", promptTyped)
	var compaction, turn []providertest.Recorded
	for _, q := range reqs {
		if tools, _ := q.Body["tools"].([]any); len(tools) == 0 {
			compaction = append(compaction, q)
		} else {
			turn = append(turn, q)
		}
	}
	if len(compaction) == 0 {
		t.Fatalf("Codex did not compact (no tool-less call); it printed:\n%s", out)
	}
	rec.take(compaction, "compact", "compaction", "")
	rec.take(turn, "after-compact", "", promptTyped)
	rec.save()
}
