package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// clientEnv is the environment of a client run with nothing but its own
// config files: HOME (and the clients' config dirs) in a fresh directory,
// no ANTHROPIC_*/OPENAI_* variables from the machine.
func clientEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ANTHROPIC_") || strings.HasPrefix(k, "OPENAI_") || k == "HOME" ||
			k == "CODEX_HOME" || k == "CLAUDE_CONFIG_DIR" || k == "CONTINUE_GLOBAL_DIR" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, append([]string{"HOME=" + home}, extra...)...)
}

// runIn runs memedge with args and the clients' home; it returns stdout
// and the error.
func (e *edgeHome) runIn(home string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(bin, "memedge"), args...)
	cmd.Env = append(clientEnv(home), "MEMPROXY_HOME="+e.home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String() + errb.String(), err
}

// TestSetupRealClients: `memedge setup` writes Claude Code's and Codex's
// own config for a project's port; the real CLIs, run with only that
// (fresh HOME, no base-URL or key variables), answer through the edge;
// `memedge doctor CLIENT` passes; --undo restores.
func TestSetupRealClients(t *testing.T) {
	dir := clientsDir(t)
	oai, anth := providertest.NewOpenAI(t), providertest.NewAnthropic(t)
	g := startGateway(t, twoProviders(oai, anth))
	e := newEdge(t, g, "setup-user")
	url := e.start("sp")
	home := t.TempDir()

	t.Run("claude-code", func(t *testing.T) {
		out, err := e.runIn(home, "setup", "claude-code", "--project", "sp", "--model", "claude-e2e")
		if err != nil || !strings.Contains(out, url) {
			t.Fatalf("setup: %v\n%s", err, out)
		}
		if again, _ := e.runIn(home, "setup", "claude-code", "--project", "sp", "--model", "claude-e2e"); !strings.Contains(again, "nothing to change") {
			t.Errorf("second setup: %s", again)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(dir, "node_modules", ".bin", "claude"), "-p", "Say hello")
		ownGroup(t, cmd)
		cmd.Dir = t.TempDir()
		cmd.Env = clientEnv(home, "DISABLE_TELEMETRY=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
		b, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(b), providertest.Answer()) {
			t.Fatalf("claude with only what setup wrote: %v\n%s", err, b)
		}
		if len(anth.Requests()) == 0 {
			t.Error("the Anthropic upstream received nothing")
		}
		if out, err := e.runIn(home, "doctor", "claude-code"); err != nil || !strings.HasPrefix(out, "ok    claude-code → "+url) {
			t.Errorf("doctor claude-code: %v\n%s", err, out)
		}
	})

	t.Run("codex", func(t *testing.T) {
		codexHome := filepath.Join(home, ".codex")
		if out, err := e.runIn(home, "setup", "codex", "--project", "sp", "--model", "gpt-e2e"); err != nil {
			t.Fatalf("setup: %v\n%s", err, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(dir, "node_modules", ".bin", "codex"), "exec", "--skip-git-repo-check", "Say hello")
		ownGroup(t, cmd)
		cmd.Dir = t.TempDir()
		cmd.Env = clientEnv(home)
		b, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(b), providertest.Answer()) {
			t.Fatalf("codex with only what setup wrote: %v\n%s", err, b)
		}
		if len(oai.Requests()) == 0 {
			t.Error("the OpenAI upstream received nothing")
		}
		if out, err := e.runIn(home, "doctor", "codex"); err != nil || !strings.HasPrefix(out, "ok    codex → "+url) {
			t.Errorf("doctor codex: %v\n%s", err, out)
		}
		if out, err := e.runIn(home, "setup", "codex", "--undo"); err != nil || !strings.Contains(out, "removed") {
			t.Errorf("undo: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(codexHome, "config.toml")); !os.IsNotExist(err) {
			t.Errorf("config.toml after undo: %v", err)
		}
	})

	// A client never set up: one line saying what to do, and a failure.
	out, err := e.runIn(home, "doctor", "continue")
	if err == nil || !strings.HasPrefix(out, "FAIL  continue: ") || !strings.Contains(out, "memedge setup continue") {
		t.Errorf("doctor continue before setup: %v\n%s", err, out)
	}
	// A stopped project: doctor says nothing answers.
	if _, err := e.runIn(home, "setup", "continue", "--project", "sp"); err != nil {
		t.Fatal(err)
	}
	e.run("stop", "--project", "sp")
	if out, err := e.runIn(home, "doctor", "continue"); err == nil || !strings.Contains(out, "run 'memedge start'") {
		t.Errorf("doctor continue with the project stopped: %v\n%s", err, out)
	}
}
