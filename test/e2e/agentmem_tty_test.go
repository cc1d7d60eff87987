package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// claudeTyped types prompt into the interactive Claude Code UI (under
// script(1), for a terminal) pointed at url, and returns once the answer
// is on the terminal and fake has received both the session-title request
// (no tools) and the turn. It reports false, having done nothing, when
// script(1) is missing, unless MEMPROXY_REQUIRE_CLIENTS is set.
func claudeTyped(t *testing.T, claude, cwd, home, url, model, prompt string, fake *providertest.Anthropic) bool {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		if os.Getenv("MEMPROXY_REQUIRE_CLIENTS") != "" {
			t.Fatal("script(1) not found: cannot run Claude Code in a terminal")
		}
		t.Log("script(1) not found: no interactive Claude Code turn")
		return false
	}
	// Onboarding done, the folder trusted and the key approved, on top of
	// what the -p runs left in ~/.claude.json.
	state := map[string]any{}
	if b, err := os.ReadFile(filepath.Join(home, ".claude.json")); err == nil {
		_ = json.Unmarshal(b, &state)
	}
	state["hasCompletedOnboarding"], state["theme"] = true, "dark"
	state["customApiKeyResponses"] = map[string]any{"approved": []string{"dummy"}}
	projects, _ := state["projects"].(map[string]any)
	if projects == nil {
		projects = map[string]any{}
	}
	p, _ := projects[cwd].(map[string]any)
	if p == nil {
		p = map[string]any{}
	}
	p["hasTrustDialogAccepted"], p["hasCompletedProjectOnboarding"] = true, true
	projects[cwd], state["projects"] = p, projects
	b, _ := json.Marshal(state)
	if err := os.WriteFile(filepath.Join(home, ".claude.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qfec", fmt.Sprintf("%q --model %q", claude, model), "/dev/null")
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "ANTHROPIC_BASE_URL="+url, "ANTHROPIC_API_KEY=dummy", "DISABLE_TELEMETRY=1",
		"HOME="+home, "TERM=xterm-256color", "COLUMNS=120", "LINES=40")
	scr := newScreen()
	cmd.Stdout, cmd.Stderr = scr, scr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// The input box is ready: its hint line shows (which hint depends on
	// the permission mode Claude Code starts in).
	readyAny(ctx, t, scr, "? for shortcuts", "shift+tab to cycle")
	if _, err := stdin.Write([]byte(prompt)); err != nil {
		t.Fatal(err)
	}
	scr.wait(ctx, t, prompt)
	if _, err := stdin.Write([]byte("\r")); err != nil {
		t.Fatal(err)
	}
	err = fake.Await(ctx, func(reqs []providertest.Recorded) bool {
		var title, turn bool
		for _, q := range reqs {
			tools, _ := q.Body["tools"].([]any)
			title = title || q.Path == "/v1/messages" && len(tools) == 0
			turn = turn || q.Path == "/v1/messages" && len(tools) > 0
		}
		return title && turn
	})
	if err != nil {
		t.Fatalf("interactive Claude Code did not send both a title and a turn request: %v", err)
	}
	scr.wait(ctx, t, providertest.Answer())
	return true
}

// sideByShape reports whether an upstream request is one of the side
// requests this test makes Claude Code send, told by its shape alone (not
// by the gateway's rules): a session title offers no tools; a quota probe
// asks for one token; a compaction asks for a summary of the conversation.
func sideByShape(q providertest.Recorded) bool {
	tools, _ := q.Body["tools"].([]any)
	b, _ := json.Marshal(q.Body["messages"])
	return len(tools) == 0 || q.Body["max_tokens"] == float64(1) ||
		strings.Contains(string(b), "create a detailed summary of the conversation so far")
}

// readyAny returns once one of texts (compared flat) is on the screen.
func readyAny(ctx context.Context, t *testing.T, s *screen, texts ...string) {
	t.Helper()
	for {
		s.mu.Lock()
		got, changed := flat(s.buf.String()), s.changed
		s.mu.Unlock()
		for _, x := range texts {
			if strings.Contains(got, flat(x)) {
				return
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("none of %q appeared on the terminal", texts)
		}
	}
}
