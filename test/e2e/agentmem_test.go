package e2e

import (
	"cmp"
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

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// Distinctive texts of the agent-memory project: each must never reach a
// memory (the instruction files and the tool's output), while the two
// prompts state the facts a person wants remembered.
const (
	agentNotes    = "TOOLOUT-7731: the build cache lives in /var/cache/zeta\n"
	agentClaudeMD = "CLAUDEMD-4412: answer every question in one haiku.\n"
	agentAgentsMD = "AGENTSMD-9923: indent with tabs in this repository.\n"
	agentFact     = "Look at notes.txt. For the record: our staging database listens on port 6543."
	agentDeploy   = "Also remember that we deploy with make ship on Tuesdays."
	agentCI       = "Our CI runs on Buildkite, not GitHub Actions."
	agentQuestion = "Which port does our staging database listen on?"
)

// boilerplate is what a memory must never hold: client wrappers,
// environment and instruction text, tool output.
var boilerplate = []string{"system-reminder", "# Environment", "You have been invoked", "CLAUDEMD-4412", "AGENTSMD-9923",
	"TOOLOUT-7731", "environment_context", "user_instructions", "<command-", "Caveat:", "/var/cache/zeta", "tool_result", "memproxy-context"}

// TestClaudeCodeAgentMemory runs the real Claude Code CLI through an edge
// on a project with memory on: an agent turn that reads a file (the fake
// upstream asks for Read, then answers), a /compact (a side request) and
// a second turn. The scope then holds exactly one memory per turn, made
// of what the person said only; the real Codex CLI on the same project
// then asks about the fact, and the upstream finds it in Codex's request.
func TestClaudeCodeAgentMemory(t *testing.T) {
	dir := clientsDir(t)
	claude := filepath.Join(dir, "node_modules", ".bin", "claude")
	codex := filepath.Join(dir, "node_modules", ".bin", "codex")
	for _, mode := range []string{"user_only", "exchange", "extraction"} {
		t.Run(mode, func(t *testing.T) { agentMemory(t, claude, codex, mode) })
	}
}

// memoryRow is one memory as the memory API lists it.
type memoryRow struct {
	ID       string            `json:"id"`
	Content  string            `json:"content"`
	Metadata map[string]string `json:"metadata"`
	Source   struct {
		Client    string `json:"client"`
		RequestID string `json:"request_id"`
	} `json:"source"`
}

// projectMemories lists all of a project's memories, superseded ones
// too, as `memedge memory list --all --json` prints them.
func projectMemories(t *testing.T, e *edgeHome, project string) []memoryRow {
	t.Helper()
	var out struct {
		Data []memoryRow `json:"data"`
	}
	if err := json.Unmarshal([]byte(e.run("memory", "list", "--project", project, "--all", "--json")), &out); err != nil {
		t.Fatalf("memedge memory list --json: %v", err)
	}
	return out.Data
}

func agentMemory(t *testing.T, claude, codex, mode string) {
	anth, anthText, rs := providertest.NewAnthropic(t), providertest.NewAnthropic(t), providertest.NewResponses(t)
	cwd, home := t.TempDir(), t.TempDir()
	for name, text := range map[string]string{"notes.txt": agentNotes, "CLAUDE.md": agentClaudeMD, "AGENTS.md": agentAgentsMD} {
		if err := os.WriteFile(filepath.Join(cwd, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	in, _ := json.Marshal(map[string]string{"file_path": filepath.Join(cwd, "notes.txt")})
	// Two Reads a turn before the answer: three upstream calls, as in the
	// issue's report.
	anth.ToolCall, anth.ToolRounds = &providertest.ToolCall{Name: "Read", Input: string(in)}, 2
	ex := newExtractor(t)
	cfg := "model_list:\n  - model_name: claude-e2e\n    litellm_params: {model: anthropic/claude-upstream, api_base: \"" + anth.URL + "\", api_key: sk-ant-up}\n" +
		"  - model_name: claude-text\n    litellm_params: {model: anthropic/claude-upstream, api_base: \"" + anthText.URL + "\", api_key: sk-ant-up}\n" +
		"  - model_name: gpt-native\n    litellm_params: {model: openai/gpt-5-codex, api_base: \"" + rs.URL + "/v1\", api_key: sk-oai-up}\n" +
		"    model_info: {native_responses: true}\n" +
		"  - model_name: extractor\n    litellm_params: {model: openai/ex, api_base: \"" + ex.URL + "/v1\", api_key: sk-ex}\n" +
		"context_retrieval:\n  enabled: true\n  write_back: " + mode + "\n"
	if mode == "extraction" { // rules write-back underneath, facts from the scripted extractor
		cfg = strings.Replace(cfg, "write_back: extraction", "write_back: user_only\n  extraction: {model: extractor}", 1)
	}
	g := startGateway(t, cfg)
	project := "agentmem-" + strings.ReplaceAll(mode, "_", "")
	e := newEdge(t, g, "agent-user")
	url := e.start(project)

	claudeRun := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, claude, append(args, "--model", "claude-e2e")...)
		ownGroup(t, cmd)
		cmd.Dir = cwd
		cmd.Env = append(os.Environ(), "ANTHROPIC_BASE_URL="+url, "ANTHROPIC_API_KEY=dummy", "DISABLE_TELEMETRY=1", "HOME="+home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("claude %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// want is the memories each turn must leave, in the gateway's mode.
	want := func(prompt string, answer string) []string {
		switch mode {
		case "user_only":
			return []string{prompt}
		case "extraction":
			if f := extractedFact(prompt); f != "" {
				return []string{f}
			}
			return nil
		}
		return []string{"User: " + prompt + "\nAssistant: " + answer}
	}
	var stored []string
	settled := func(what string) []memoryRow {
		t.Helper()
		var ms []memoryRow
		waitFor(t, what, func() bool { ms = projectMemories(t, e, project); return len(ms) >= len(stored) })
		checkMemories(t, ms, stored)
		return ms
	}

	// Turn 1: the fake asks for Read twice, Claude Code sends the file
	// back each time, the fake answers: three upstream calls, one memory.
	n := len(anth.Requests())
	claudeRun("-p", agentFact, "--allowedTools", "Read")
	if !slices.ContainsFunc(since(anth.Requests(), n), func(q providertest.Recorded) bool { return endsWithToolResult(q.Body) }) {
		t.Fatal("Claude Code never sent the Read result back: no agent step happened")
	}
	stored = append(stored, want(agentFact, anth.Answer())...)
	settled("turn 1 written back")

	// A compaction is a side request: no memory in its prompt, none
	// written, its rows say side_request.
	n = len(anth.Requests())
	claudeRun("-p", "/compact", "--continue")
	for _, q := range since(anth.Requests(), n) {
		if b, _ := json.Marshal(q.Body); strings.Contains(string(b), "memproxy-context") {
			t.Errorf("the compaction request was given memories")
		}
	}
	waitFor(t, "a side_request usage row", func() bool {
		return slices.ContainsFunc(g.usage("project="+project), func(r map[string]any) bool { return r["memory_status"] == "side_request" })
	})

	// Turn 2, after the compaction, in the same session.
	n = len(anth.Requests())
	claudeRun("-p", agentDeploy, "--continue", "--allowedTools", "Read")
	if !slices.ContainsFunc(since(anth.Requests(), n), func(q providertest.Recorded) bool { return endsWithToolResult(q.Body) }) {
		t.Fatal("turn 2 made no agent step")
	}
	stored = append(stored, want(agentDeploy, anth.Answer())...)
	settled("turn 2 written back")

	// An interactive session: its title request is a side request, the
	// turn (answered in text) is stored.
	if claudeTyped(t, claude, cwd, home, url, "claude-text", agentCI, anthText) {
		stored = append(stored, want(agentCI, anthText.Answer())...)
		settled("the interactive turn written back")
	}

	// Codex on the same project asks about the fact: it is in Codex's request.
	chome := t.TempDir()
	toml := fmt.Sprintf("model = \"gpt-native\"\nmodel_provider = \"memproxy\"\n\n[model_providers.memproxy]\nname = \"memproxy\"\nbase_url = %q\nwire_api = \"responses\"\n", url+"/v1")
	if err := os.WriteFile(filepath.Join(chome, "config.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, codex, "exec", "--skip-git-repo-check", agentQuestion)
	ownGroup(t, cmd)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "CODEX_HOME="+chome, "HOME="+chome, "OPENAI_API_KEY=dummy")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("codex: %v\n%s", err, out)
	}
	seen := false
	for _, r := range rs.Requests() {
		b, _ := json.Marshal(r.Body)
		seen = seen || (strings.Contains(string(b), "memproxy-context") && strings.Contains(string(b), "port 6543"))
	}
	if !seen {
		t.Fatalf("no request of Codex's carried the fact from Claude Code's turn (%d requests)", len(rs.Requests()))
	}
	stored = append(stored, want(agentQuestion, rs.Answer())...)
	settled("Codex's turn written back")

	// A stopped gateway has drained its write-back queue: nothing more is
	// on its way, so the scope's final content is what it holds now.
	g.stop()
	g.start()
	waitFor(t, "the edge back in touch with the restarted gateway", func() bool {
		resp, err := http.Get(url + "/v1/memory?limit=1")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	ms := projectMemories(t, e, project)
	checkMemories(t, ms, stored)
	for _, m := range ms {
		client := "claude-code"
		if strings.Contains(m.Content, agentQuestion) {
			client = "codex"
		}
		// Rules write-back names them in the metadata, extraction in the
		// memory's source.
		if cmp.Or(m.Source.Client, m.Metadata["client"]) != client || cmp.Or(m.Source.RequestID, m.Metadata["request_id"]) == "" {
			t.Errorf("memory %s: metadata %v, source %+v: want client %s and the request id", m.ID, m.Metadata, m.Source, client)
		}
	}
	t.Logf("%s: Claude Code made %d upstream calls and Codex %d for 4 turns, a /compact and a session title; the scope holds %d memories",
		mode, len(anth.Requests())+len(anthText.Requests()), len(rs.Requests()), len(ms))
	if mode == "extraction" {
		// A turn that states no fact stores nothing, so nothing above
		// waited for the last turn's extraction, which the restarted
		// gateway may still be replaying from its journal.
		prompts := []string{agentFact, agentDeploy, agentCI, agentQuestion}
		waitFor(t, "every turn given to the extractor", func() bool {
			for _, p := range prompts {
				if !slices.ContainsFunc(ex.seen(), func(s string) bool { return strings.Contains(s, p) }) {
					return false
				}
			}
			return true
		})
		checkExtracted(t, ex.seen(), prompts)
	}
	// Every request has its row (the stopped gateway wrote them all), and
	// exactly the side requests say side_request.
	var reqs []providertest.Recorded
	for _, q := range append(append(anth.Requests(), anthText.Requests()...), rs.Requests()...) {
		if q.Path == "/v1/messages" || q.Path == "/v1/responses" {
			reqs = append(reqs, q)
		}
	}
	var sides, rows, sideRows int
	for _, q := range reqs {
		if sideByShape(q) {
			sides++
		}
	}
	for _, r := range g.usage("project=" + project + "&limit=1000") {
		if r["path"] != "/v1/messages" && r["path"] != "/v1/responses" {
			continue
		}
		rows++
		if r["memory_status"] == "side_request" {
			sideRows++
		}
		if r["client"] != "claude-code" && r["client"] != "codex" {
			t.Errorf("row of client %v", r["client"])
		}
	}
	if rows != len(reqs) || sideRows != sides || sides < 2 {
		t.Errorf("%d rows for %d upstream requests; %d rows say side_request for %d side requests (compaction, title)", rows, len(reqs), sideRows, sides)
	}
}

// checkMemories asserts the scope holds exactly the memories want, each
// once (one per turn in the rules modes), none with a client's boilerplate
// or a tool's output.
func checkMemories(t *testing.T, ms []memoryRow, want []string) {
	t.Helper()
	var got []string
	for _, m := range ms {
		got = append(got, m.Content)
		for _, b := range boilerplate {
			if strings.Contains(m.Content, b) {
				t.Errorf("memory %s holds %q: %.400q", m.ID, b, m.Content)
			}
		}
	}
	slices.Sort(got)
	w := slices.Sorted(slices.Values(want))
	if !slices.Equal(got, w) {
		t.Fatalf("the scope holds %d memories, want one per turn (%d):\n got %q\nwant %q", len(got), len(w), got, w)
	}
}
