package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/clientmsg"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// recording is one request a real client sent, as kept in
// gateway/clientmsg/testdata, with what clientmsg must make of it.
type recording struct {
	Client  string            `json:"client"`
	Name    string            `json:"name"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	Expect  struct {
		Side    string   `json:"side,omitempty"`    // the side-request reason, "" for conversation
		Said    string   `json:"said"`              // clientmsg.Said of a conversation request
		Prompts []string `json:"prompts,omitempty"` // every prompt given in the session so far
	} `json:"expect"`
}

// keptHeaders are the request headers a recording keeps (never a key).
var keptHeaders = []string{"User-Agent", "Anthropic-Beta", "Anthropic-Version", "X-App", "X-Claude-Code-Session-Id",
	"Originator", "Session-Id", "Thread-Id", "X-Client-Request-Id", "X-Codex-Turn-Metadata", "X-Codex-Window-Id",
	"X-Codex-Beta-Features", "X-Openai-Subagent", "X-Openai-Memgen-Request"}

// recorder turns what a fake received into recordings, and checks each
// against clientmsg the moment it is taken.
type recorder struct {
	t       *testing.T
	client  string
	prompts []string
	out     []recording
}

// take records reqs: side ones with reason side, the others as
// conversation whose last turn said prompt (or nothing, after a tool).
func (r *recorder) take(reqs []providertest.Recorded, label, side, prompt string) {
	r.t.Helper()
	if prompt != "" && !slices.Contains(r.prompts, prompt) {
		r.prompts = append(r.prompts, prompt)
	}
	for _, q := range reqs {
		if q.Path != "/v1/messages" && q.Path != "/v1/responses" {
			continue // Claude Code's /api/hello connectivity check
		}
		rec := recording{Client: r.client, Path: q.Path, Headers: map[string]string{}}
		for _, h := range keptHeaders {
			if v := q.Header.Get(h); v != "" {
				rec.Headers[strings.ToLower(h)] = v
			}
		}
		rec.Body = trimTools(r.t, q.Body)
		rec.Expect.Side = side
		name := label
		if side == "" {
			rec.Expect.Prompts = slices.Clone(r.prompts)
			if endsWithToolResult(q.Body) {
				name = label + "-after-tool"
			} else {
				rec.Expect.Said = prompt
			}
		}
		rec.Name = fmt.Sprintf("%02d-%s", len(r.out)+1, name)
		r.check(rec)
		r.out = append(r.out, rec)
	}
}

// check asserts what the rules rely on still holds for rec: Side names it
// as the client's behaviour says, Said is exactly the prompt given, and
// every user text block cleans to nothing or to a prompt of the session.
func (r *recorder) check(rec recording) {
	r.t.Helper()
	h := http.Header{}
	for k, v := range rec.Headers {
		h.Set(k, v)
	}
	req, err := clientmsg.Parse(rec.Client, rec.Path, h, rec.Body)
	if err != nil {
		r.t.Fatalf("%s: %v", rec.Name, err)
	}
	reason, _ := clientmsg.Side(req)
	if reason != rec.Expect.Side {
		r.t.Errorf("%s %s: Side says %q, want %q", rec.Client, rec.Name, reason, rec.Expect.Side)
	}
	if rec.Expect.Side != "" {
		return
	}
	if got := clientmsg.Said(req); got != rec.Expect.Said {
		r.t.Errorf("%s %s: Said %q, want %q", rec.Client, rec.Name, got, rec.Expect.Said)
	}
	for _, m := range req.Messages {
		if c := clientmsg.Clean(rec.Client, m.Text); m.Role == "user" && !m.ToolResult && c != "" && !slices.Contains(rec.Expect.Prompts, c) {
			r.t.Errorf("%s %s: a user text block cleans to %.300q, neither empty nor a prompt given", rec.Client, rec.Name, c)
		}
	}
}

// save writes the recordings as golden files when MEMPROXY_RECORD is set.
func (r *recorder) save() {
	r.t.Helper()
	if os.Getenv("MEMPROXY_RECORD") == "" {
		return
	}
	dir := filepath.Join("..", "..", "gateway", "clientmsg", "testdata", r.client)
	old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	for _, rec := range r.out {
		b, err := json.MarshalIndent(rec, "", " ")
		if err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rec.Name+".json"), append(b, '\n'), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.t.Logf("wrote %d recordings to %s", len(r.out), dir)
}

// trimTools keeps each offered tool's name and type only: the definitions
// are most of a body's size and no rule reads them.
func trimTools(t *testing.T, body map[string]any) json.RawMessage {
	b := make(map[string]any, len(body))
	for k, v := range body {
		b[k] = v
	}
	if tools, ok := body["tools"].([]any); ok {
		var kept []any
		for _, tool := range tools {
			m, _ := tool.(map[string]any)
			k := map[string]any{}
			for _, f := range []string{"name", "type"} {
				if m[f] != nil {
					k[f] = m[f]
				}
			}
			kept = append(kept, k)
		}
		b["tools"] = kept
	}
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// endsWithToolResult reports whether the last message carries a tool's
// output: an Anthropic tool_result block or a Responses
// function_call_output item.
func endsWithToolResult(body map[string]any) bool {
	for _, key := range []string{"messages", "input"} {
		items, _ := body[key].([]any)
		if len(items) == 0 {
			continue
		}
		last, _ := items[len(items)-1].(map[string]any)
		if last["type"] == "function_call_output" {
			return true
		}
		blocks, _ := last["content"].([]any)
		for _, b := range blocks {
			if bm, _ := b.(map[string]any); bm["type"] == "tool_result" {
				return true
			}
		}
	}
	return false
}

// since returns what a fake received after its first n requests.
func since(reqs []providertest.Recorded, n int) []providertest.Recorded { return reqs[n:] }

// TestRecordClients drives the real Claude Code and Codex CLIs through
// agent turns against recording fakes, and checks every request against
// clientmsg's rules. MEMPROXY_RECORD=1 also rewrites the golden files in
// gateway/clientmsg/testdata, which TestRecordedFixtures reads.
func TestRecordClients(t *testing.T) {
	dir := clientsDir(t)
	t.Run("claude-code", func(t *testing.T) { recordClaudeCode(t, filepath.Join(dir, "node_modules", ".bin", "claude")) })
	t.Run("codex", func(t *testing.T) { recordCodex(t, filepath.Join(dir, "node_modules", ".bin", "codex")) })
}

const (
	notes         = "staging database port: 6543\n"
	promptRead    = "Read notes.txt and tell me the staging port. For the record, we deploy on Fridays."
	promptAfter   = "We moved staging to port 7000; remember that."
	promptTyped   = "Our CI runs on Buildkite, not GitHub Actions."
	recordModel   = "claude-opus-4-5"
	recordTimeout = 120 * time.Second
)

// projectDir is a temp project with a notes file and the client's
// instruction file, whose text must never come out of Clean.
func projectDir(t *testing.T, instructions string) string {
	cwd := t.TempDir()
	for name, text := range map[string]string{"notes.txt": notes, instructions: "Answer in one sentence.\n"} {
		if err := os.WriteFile(filepath.Join(cwd, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cwd
}

func recordClaudeCode(t *testing.T, claude string) {
	cwd, home := projectDir(t, "CLAUDE.md"), t.TempDir()
	anth := providertest.NewAnthropic(t)
	in, _ := json.Marshal(map[string]string{"file_path": filepath.Join(cwd, "notes.txt")})
	anth.ToolCall = &providertest.ToolCall{Name: "Read", Input: string(in)}
	run := func(args ...string) []providertest.Recorded {
		t.Helper()
		n := len(anth.Requests())
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, claude, append(args, "--model", recordModel)...)
		ownGroup(t, cmd)
		cmd.Dir = cwd
		cmd.Env = append(os.Environ(), "ANTHROPIC_BASE_URL="+anth.URL, "ANTHROPIC_API_KEY=dummy", "DISABLE_TELEMETRY=1", "HOME="+home)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("claude %v: %v\n%s", args, err, out)
		}
		return since(anth.Requests(), n)
	}
	rec := &recorder{t: t, client: "claude-code"}
	// An agent turn: the fake asks for Read, Claude Code runs it, the fake answers.
	turn := run("-p", promptRead, "--allowedTools", "Read")
	if !slices.ContainsFunc(turn, func(q providertest.Recorded) bool { return endsWithToolResult(q.Body) }) {
		t.Fatal("Claude Code never sent the Read result back: no agent turn recorded")
	}
	rec.take(turn, "turn", "", promptRead)
	rec.take(run("-p", "/compact", "--continue"), "compact", "compaction", "")
	rec.take(run("-p", promptAfter, "--continue", "--allowedTools", "Read"), "after-compact", "", promptAfter)
	recordClaudeInteractive(t, claude, cwd, home, rec)
	rec.save()
}
