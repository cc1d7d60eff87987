package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/clientmsg"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
	"github.com/memproxy/memproxy/gateway/track"
)

// agentBoilerplate is text a memory must never hold: the clients'
// wrappers, environment and instruction files, compaction prompts and
// summaries, and tool output (recorded and synthetic).
var agentBoilerplate = []string{
	"system-reminder", "# Environment", "You have been invoked", "Codebase and user instructions", "Answer in one sentence",
	"<command-", "local-command", "This session is being continued", "CRITICAL: Respond with TEXT ONLY", "<session>",
	"AGENTS.md instructions", "<INSTRUCTIONS>", "environment_context", "skills_instructions", "permissions instructions",
	"CONTEXT CHECKPOINT", "Another language model started", "Chunk ID:", "Wall time:", "Process exited",
	"TOOLOUT-", "staging database port: 6543", "memproxy-context",
}

// agentFigures are what one replay of the transcripts measured.
type agentFigures struct {
	requests, sides, turns, memories, boilerplate, facts, recalled, first int
}

func (f agentFigures) String() string {
	return fmt.Sprintf("%d requests (%d side), %d turns, %d memories (%.2f per turn), %d with boilerplate (%.1f%%), recall@5 %d/%d = %.2f, recall@1 %.2f",
		f.requests, f.sides, f.turns, f.memories, float64(f.memories)/float64(f.turns), f.boilerplate,
		100*float64(f.boilerplate)/float64(max(1, f.memories)), f.recalled, f.facts, float64(f.recalled)/float64(f.facts), float64(f.first)/float64(f.facts))
}

// agentHarness is a gateway with the local (SQLite) memory backend, in
// write-back mode mode, and four fakes: for each client's dialect one that
// answers with a tool call (model *-tool) and one that answers in text
// (*-text).
func agentHarness(t *testing.T, mode string) *harness {
	anthTool, anthText := providertest.NewAnthropic(t), providertest.NewAnthropic(t)
	anthTool.ToolCall, anthTool.ToolRounds = &providertest.ToolCall{Name: "Read", Input: `{"file_path":"/src/shop/notes.md"}`}, 100
	rsTool, rsText := providertest.NewResponses(t), providertest.NewResponses(t)
	rsTool.ToolCall, rsTool.ToolRounds = &providertest.ToolCall{Name: "exec_command", Input: `{"cmd":"cat notes.md"}`}, 100
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: cc-tool\n    litellm_params: {model: anthropic/claude-up, api_base: \"" + anthTool.URL + "\", api_key: k}\n" +
		"  - model_name: cc-text\n    litellm_params: {model: anthropic/claude-up, api_base: \"" + anthText.URL + "\", api_key: k}\n" +
		"  - model_name: cx-tool\n    litellm_params: {model: openai/gpt-5-codex, api_base: \"" + rsTool.URL + "/v1\", api_key: k}\n" +
		"    model_info: {native_responses: true}\n" +
		"  - model_name: cx-text\n    litellm_params: {model: openai/gpt-5-codex, api_base: \"" + rsText.URL + "/v1\", api_key: k}\n" +
		"    model_info: {native_responses: true}\n" +
		"context_retrieval:\n  enabled: true\n  write_back: " + mode + "\n"
	return serveYAML(t, y, providertest.NewOpenAI(t), nil)
}

// replay sends every step of trs in order, as alice on each transcript's
// project, and checks the fake answered each as the step says.
func replay(t *testing.T, h *harness, trs []transcript) (steps []agentStep) {
	for _, tr := range trs {
		for i, st := range tr.steps {
			b := make(map[string]any, len(st.body))
			for k, v := range st.body {
				b[k] = v
			}
			b["model"] = map[string]string{"claude-code": "cc-text", "codex": "cx-text"}[tr.client]
			if st.tool {
				b["model"] = strings.Replace(b["model"].(string), "-text", "-tool", 1)
			}
			raw, _ := json.Marshal(b)
			req, _ := http.NewRequest(http.MethodPost, h.httpURL+st.path, strings.NewReader(string(raw)))
			req.Header = st.header.Clone()
			req.Header.Set("Authorization", "Bearer "+testMaster)
			req.Header.Set("X-Memory-User-Id", "alice")
			req.Header.Set("X-Memory-Project", tr.project)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			called := strings.Contains(string(out), `"tool_use"`) || strings.Contains(string(out), `"function_call"`)
			if resp.StatusCode != 200 || called != st.tool {
				t.Fatalf("%s step %d: status %d, tool call %v (want %v): %.500s", tr.name, i+1, resp.StatusCode, called, st.tool, out)
			}
			steps = append(steps, st)
		}
	}
	return steps
}

// measure reads back every transcript's scope: the memories stored, their
// boilerplate, and whether a question finds each stated fact in the top 5.
func measure(t *testing.T, b memory.Backend, trs []transcript, user, mode string) agentFigures {
	ctx := context.Background()
	var f agentFigures
	said := map[memory.Scope][]string{}
	for _, tr := range trs {
		sc := memory.Scope("u:" + user + "/p:" + tr.project)
		said[sc] = append(said[sc], tr.said...)
		f.turns += len(tr.said)
		for _, q := range tr.facts {
			f.facts++
			found, err := b.Search(ctx, sc, q.question, 5)
			if err != nil {
				t.Fatal(err)
			}
			switch at := slices.IndexFunc(found, func(m memory.Memory) bool { return strings.Contains(m.Content, q.key) }); {
			case at == 0:
				f.first++
				fallthrough
			case at > 0:
				f.recalled++
			default:
				t.Logf("%s: %q did not find %q in the top 5", tr.name, q.question, q.key)
			}
		}
	}
	for sc, want := range said {
		// Superseded memories count: they were stored too.
		ms, _, err := memory.ListWith(ctx, b, sc, memory.ListOptions{Limit: 1000, IncludeSuperseded: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			f.memories++
			dirty := slices.ContainsFunc(agentBoilerplate, func(s string) bool { return strings.Contains(m.Content, s) })
			if dirty {
				f.boilerplate++
			}
			if dirty && mode != "baseline" {
				t.Errorf("%s: memory %s holds client boilerplate or tool output: %.300q", sc, m.ID, m.Content)
			}
			got = append(got, m.Content)
		}
		if mode == "user_only" {
			slices.Sort(got)
			if w := slices.Sorted(slices.Values(want)); !slices.Equal(got, w) {
				t.Errorf("%s holds %q,\nwant exactly what the person said, once per turn: %q", sc, got, w)
			}
		}
	}
	return f
}

// TestAgentTranscriptMemory replays the agent transcripts (recorded Claude
// Code and Codex sessions, and synthetic sessions in their shapes) through
// the gateway with the local SQLite backend, in each write-back mode, and
// measures what memory made of them: memories per turn (exactly one), the
// share holding client boilerplate or tool output (none), side requests
// (every one side_request), and recall@5 of the facts the person stated.
// The figures are in docs/performance.md.
func TestAgentTranscriptMemory(t *testing.T) {
	for _, mode := range []string{"user_only", "exchange"} {
		t.Run(mode, func(t *testing.T) {
			trs := agentTranscripts(t)
			h := agentHarness(t, mode)
			steps := replay(t, h, trs)
			rows := h.rows() // stops the gateway: write-back drained, usage written
			if len(rows) != len(steps) {
				t.Fatalf("%d usage rows for %d requests", len(rows), len(steps))
			}
			f := measure(t, h.srv.opts.Memory.Backend, trs, "alice", mode)
			f.requests = len(steps)
			for i, st := range steps {
				if st.side != "" {
					f.sides++
				}
				if side := rows[i].MemoryStatus == track.MemSide; side != (st.side != "") {
					t.Errorf("request %d (side %q): memory_status %q", i+1, st.side, rows[i].MemoryStatus)
				}
			}
			t.Logf("%s: %v", mode, f)
			if f.memories != f.turns || f.boilerplate != 0 {
				t.Errorf("%s: %d memories for %d turns, %d with boilerplate: want one per turn, none", mode, f.memories, f.turns, f.boilerplate)
			}
			if f.recalled*10 < f.facts*9 {
				t.Errorf("recall@5 %d/%d, below 0.9", f.recalled, f.facts)
			}
			if mode == "exchange" {
				bf := baseline(t, h.srv.opts.Memory.Backend, trs)
				t.Logf("baseline (every call stored as sent): %v", bf)
			}
		})
	}
}

// baseline stores the transcripts as memory did before it knew agent
// turns and client wrappers: every call, side requests included, written
// back as the raw text of its last user message with any (tool results
// left out, recalled memories stripped) and the answer. It measures that
// store the same way, in user "baseline"'s scopes.
func baseline(t *testing.T, b memory.Backend, trs []transcript) agentFigures {
	ctx := context.Background()
	for _, tr := range trs {
		sc := memory.Scope("u:baseline/p:" + tr.project)
		for _, st := range tr.steps {
			raw, _ := json.Marshal(st.body)
			req, err := clientmsg.Parse(tr.client, st.path, st.header, raw)
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			last := -1
			for _, m := range req.Messages {
				if m.Role == "user" && !m.ToolResult && m.Text != "" {
					if m.Index != last {
						texts, last = nil, m.Index
					}
					texts = append(texts, m.Text)
				}
			}
			if len(texts) == 0 {
				continue
			}
			content := memory.Clip("User: " + strings.Join(texts, "\n") + "\nAssistant: Hello from the fake upstream.")
			if _, _, err := b.Add(ctx, sc, content, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	f := measure(t, b, trs, "baseline", "baseline")
	f.requests = 0
	for _, tr := range trs {
		f.requests += len(tr.steps)
	}
	return f
}
