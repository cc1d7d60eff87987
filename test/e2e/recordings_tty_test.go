package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// screen collects what a program writes to its terminal and lets a test
// wait for a text to appear on it.
type screen struct {
	mu      sync.Mutex
	buf     strings.Builder
	changed chan struct{}
}

func newScreen() *screen { return &screen{changed: make(chan struct{})} }

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

// ansi matches terminal escape sequences (CSI and OSC).
var ansi = regexp.MustCompile(`\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-B]|[=>78])`)

// flat is text without escapes and whitespace: a TUI draws spaces as
// cursor moves, so only the letters are comparable.
func flat(s string) string {
	return strings.Join(strings.Fields(ansi.ReplaceAllString(s, "")), "")
}

// wait returns once text (compared flat) is on the screen.
func (s *screen) wait(ctx context.Context, t *testing.T, text string) {
	t.Helper()
	want := flat(text)
	for {
		s.mu.Lock()
		got, changed := s.buf.String(), s.changed
		s.mu.Unlock()
		if strings.Contains(flat(got), want) {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%q never appeared on the terminal; it shows:\n%s", text, ansi.ReplaceAllString(got, ""))
		}
	}
}

// recordClaudeInteractive types a prompt into the interactive Claude Code
// UI, run under script(1) for a terminal, to record what -p never sends:
// the session-title request. Without script(1) it logs and returns, unless
// MEMPROXY_REQUIRE_CLIENTS is set.
func recordClaudeInteractive(t *testing.T, claude, cwd, home string, rec *recorder) {
	script, err := exec.LookPath("script")
	if err != nil {
		if os.Getenv("MEMPROXY_REQUIRE_CLIENTS") != "" {
			t.Fatal("script(1) not found: cannot run Claude Code in a terminal")
		}
		t.Log("script(1) not found: the interactive Claude Code session is not recorded")
		return
	}
	// Onboarding done, the folder trusted and the key approved, as after a
	// first interactive start.
	state, _ := json.Marshal(map[string]any{"hasCompletedOnboarding": true, "theme": "dark",
		"customApiKeyResponses": map[string]any{"approved": []string{"dummy"}},
		"projects":              map[string]any{cwd: map[string]any{"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true}}})
	if err := os.WriteFile(filepath.Join(home, ".claude.json"), state, 0o600); err != nil {
		t.Fatal(err)
	}
	anth := providertest.NewAnthropic(t) // answers in text: no tool call
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "-qfec", fmt.Sprintf("%q --model %q", claude, recordModel), "/dev/null")
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "ANTHROPIC_BASE_URL="+anth.URL, "ANTHROPIC_API_KEY=dummy", "DISABLE_TELEMETRY=1",
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
	defer func() { killTree(cmd.Process.Pid); _ = cmd.Wait() }()
	type_ := func(s string) {
		if _, err := stdin.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	scr.wait(ctx, t, "? for shortcuts")
	type_(promptTyped)
	scr.wait(ctx, t, promptTyped) // echoed: the input box has it
	type_("\r")
	err = anth.Await(ctx, func(reqs []providertest.Recorded) bool {
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
	var title, turn []providertest.Recorded
	for _, q := range anth.Requests() {
		if tools, _ := q.Body["tools"].([]any); len(tools) == 0 {
			title = append(title, q)
		} else {
			turn = append(turn, q)
		}
	}
	rec.take(title, "session-title", "title", "")
	rec.prompts = nil // a new session
	rec.take(turn, "interactive-turn", "", promptTyped)
}
