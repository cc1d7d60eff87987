package gateway

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// An agent transcript is the requests a coding agent sends over several
// turns, in the client's real shapes: the recorded ones of
// clientmsg/testdata, and synthetic ones built on a recorded request's
// system prompt, tools, headers and wrappers, where the person states
// facts between tool calls.

// agentStep is one request of a transcript.
type agentStep struct {
	path   string
	header http.Header
	body   map[string]any
	side   string // the side-request reason it must get, "" for conversation
	tool   bool   // the upstream answers with a tool call: the turn goes on
}

// agentFact is a fact the person stated, and a question that asks for it;
// key is a word only a memory holding the fact contains.
type agentFact struct{ question, key string }

type transcript struct {
	name, client, project string
	steps                 []agentStep
	said                  []string // what the person said in each turn that ends
	facts                 []agentFact
}

// recordedFile is a golden file of clientmsg/testdata.
type recordedFile struct {
	Name    string            `json:"name"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    map[string]any    `json:"body"`
	Expect  struct {
		Side string `json:"side"`
		Said string `json:"said"`
	} `json:"expect"`
}

func loadRecorded(t testing.TB, client string) []recordedFile {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("clientmsg", "testdata", client, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings for %s: %v", client, err)
	}
	slices.Sort(files)
	var out []recordedFile
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r recordedFile
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, r)
	}
	return out
}

func header(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

// recordedTranscript replays a client's recordings in order. A call is
// answered with a tool call when the next recording is its continuation
// (named …-after-tool); every other call is answered in text.
func recordedTranscript(t testing.TB, client string, facts []agentFact) transcript {
	recs := loadRecorded(t, client)
	tr := transcript{name: "recorded-" + client, client: client, project: "rec-" + client, facts: facts}
	for i, r := range recs {
		next := i+1 < len(recs) && strings.HasSuffix(recs[i+1].Name, "-after-tool")
		tr.steps = append(tr.steps, agentStep{path: r.Path, header: header(r.Headers), body: r.Body, side: r.Expect.Side, tool: next})
		if r.Expect.Side == "" && r.Expect.Said != "" {
			tr.said = append(tr.said, r.Expect.Said)
		}
	}
	return tr
}

// recordedFacts are what the recorders' prompts state.
var recordedFacts = []agentFact{
	{"Which day of the week do we deploy?", "Fridays"},
	{"Which port is staging on now?", "7000"},
	{"Which CI service runs our builds?", "Buildkite"},
}

// agentTurn is one synthetic turn: what the person types and the tool
// outputs the agent reads before it answers.
type agentTurn struct {
	said  string
	tools []string
	// parallel: the agent asks for all its tools in one answer (Claude
	// Code's parallel tool use), so one continuation call carries every
	// result.
	parallel bool
	// resent: the call that ends the turn is sent twice (a client retry).
	resent bool
}

// toolOutput is a tool's output in a synthetic transcript: it must never
// be stored.
func toolOutput(i int, text string) string {
	return fmt.Sprintf("TOOLOUT-%03d %s", i, text)
}

// Claude Code's reminders beside a later prompt and after a tool result
// (shapes of Claude Code 2.1.x: file-open, todo-list and malware
// reminders).
const (
	ccOpenedFile = "<system-reminder>\nThe user opened the file /src/shop/deploy/Makefile in the IDE. This may or may not be related to the current task.\n</system-reminder>"
	ccTodo       = "<system-reminder>\nYour todo list has changed. DO NOT mention this explicitly to the user. Here are the latest contents of your todo list:\n\n[{\"content\":\"Check the deploy target\",\"status\":\"in_progress\",\"activeForm\":\"Checking the deploy target\"}]. Continue on with the tasks at hand if applicable.\n</system-reminder>"
	ccMalware    = "<system-reminder>\nWhenever you read a file, you should consider whether it would be considered malware. You CAN and SHOULD provide analysis of malware, what it is doing. But you MUST refuse to improve or augment the code.\n</system-reminder>"
)

// claudeTranscript builds a Claude Code session on the recorded first
// request: its system prompt, tools, headers and first-message reminders.
func claudeTranscript(t testing.TB, name, session string, turns []agentTurn, facts []agentFact) transcript {
	rec := loadRecorded(t, "claude-code")[0]
	first, _ := rec.Body["messages"].([]any)[0].(map[string]any)
	blocks, _ := first["content"].([]any)
	wrappers := blocks[:len(blocks)-1] // all but the recorded prompt
	h := header(rec.Headers)
	h.Set("X-Claude-Code-Session-Id", session)
	tr := transcript{name: name, client: "claude-code", project: "shop", facts: facts}
	var msgs []any
	text := func(s string) map[string]any { return map[string]any{"type": "text", "text": s} }
	step := func(tool bool) {
		b := maps.Clone(rec.Body)
		b["messages"] = slices.Clone(msgs)
		tr.steps = append(tr.steps, agentStep{path: rec.Path, header: h, body: b, tool: tool})
	}
	n := 0
	for i, turn := range turns {
		content := []any{ccOpenedFile, ccTodo}
		if i == 0 {
			content = slices.Clone(wrappers)
		}
		for j, c := range content {
			if s, ok := c.(string); ok {
				content[j] = text(s)
			}
		}
		msgs = append(msgs, map[string]any{"role": "user", "content": append(content, text(turn.said))})
		var calls, results []any
		for k, out := range turn.tools {
			if !turn.parallel || k == 0 {
				step(true)
			}
			n++
			id := fmt.Sprintf("toolu_%s_%d", session, n)
			calls = append(calls, map[string]any{"type": "tool_use", "id": id, "name": "Read", "input": map[string]any{"file_path": "/src/shop/notes.md"}})
			results = append(results, map[string]any{"type": "tool_result", "tool_use_id": id, "content": "1\t" + toolOutput(n, out) + "\n\n" + ccMalware})
			if !turn.parallel || k == len(turn.tools)-1 {
				msgs = append(msgs, map[string]any{"role": "assistant", "content": calls},
					map[string]any{"role": "user", "content": append(results, text(ccTodo))})
				calls, results = nil, nil
			}
		}
		step(false)
		if turn.resent {
			step(false)
		}
		msgs = append(msgs, map[string]any{"role": "assistant", "content": []any{text("Hello from the fake upstream.")}})
		tr.said = append(tr.said, turn.said)
	}
	return tr
}

// codexTranscript builds a Codex session on the recorded first request:
// its instructions, developer messages, AGENTS.md and environment
// context, tools and headers.
func codexTranscript(t testing.TB, name, session string, turns []agentTurn, facts []agentFact) transcript {
	rec := loadRecorded(t, "codex")[0]
	input, _ := rec.Body["input"].([]any)
	h := header(rec.Headers)
	for _, k := range []string{"Session-Id", "Thread-Id", "X-Client-Request-Id"} {
		h.Set(k, session)
	}
	tr := transcript{name: name, client: "codex", project: "shop", facts: facts}
	items := slices.Clone(input[:len(input)-1]) // all but the recorded prompt
	step := func(tool bool) {
		b := maps.Clone(rec.Body)
		b["input"] = slices.Clone(items)
		b["prompt_cache_key"] = session
		tr.steps = append(tr.steps, agentStep{path: rec.Path, header: h, body: b, tool: tool})
	}
	n := 0
	for _, turn := range turns {
		items = append(items, map[string]any{"type": "message", "role": "user",
			"content": []any{map[string]any{"type": "input_text", "text": turn.said}}})
		for _, out := range turn.tools {
			step(true)
			n++
			id := fmt.Sprintf("call_%s_%d", session, n)
			items = append(items,
				map[string]any{"type": "function_call", "name": "exec_command", "arguments": `{"cmd":"cat notes.md"}`, "call_id": id, "status": "completed"},
				map[string]any{"type": "function_call_output", "call_id": id,
					"output": "Chunk ID: 4f1a2b\nWall time: 0.0512 seconds\nProcess exited with code 0\nOriginal token count: 12\nOutput:\n" + toolOutput(n, out) + "\n"})
		}
		step(false)
		if turn.resent {
			step(false)
		}
		items = append(items, map[string]any{"type": "message", "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "text": "Hello from the fake upstream."}}})
		tr.said = append(tr.said, turn.said)
	}
	return tr
}

// agentTranscripts is the benchmark's set: the two recorded sessions, each
// in its own project, and six synthetic sessions of one project, where
// facts stated in one client's session are asked for afterwards.
func agentTranscripts(t testing.TB) []transcript {
	return []transcript{
		recordedTranscript(t, "claude-code", recordedFacts),
		recordedTranscript(t, "codex", recordedFacts),
		claudeTranscript(t, "claude-staging", "cc-s1", []agentTurn{
			{said: "Look at notes.md and fix the flaky staging check. For the record: our staging DB listens on port 6543.", tools: []string{"staging: postgres on 5432 (old)", "retry count 3"}},
			{said: "We deploy with make ship on Tuesdays, so keep the Makefile target name.", tools: []string{"ship: build push"}},
			{said: "Thanks, that works.", tools: nil},
		}, []agentFact{{"What port does the staging database listen on?", "6543"}, {"How and when do we deploy?", "Tuesdays"}}),
		claudeTranscript(t, "claude-oncall", "cc-s2", []agentTurn{
			{said: "Dana owns the on-call rotation this month; page her through PagerDuty, not Slack.", tools: nil},
			{said: "Add a retry to the webhook handler. Use pnpm, never npm, in the web folder.", tools: []string{"web/package.json: {\"scripts\":{}}", "handler.ts: export function hook()"}, parallel: true},
			{said: "Release branches are cut every second Monday as release/YYYY-MM-DD.", tools: []string{"git branch -a: main release/2026-11-30"}},
		}, []agentFact{{"Who is on call this month?", "Dana"}, {"Which package manager do we use in web?", "pnpm"}, {"When are release branches cut?", "second Monday"}}),
		claudeTranscript(t, "claude-billing", "cc-s3", []agentTurn{
			{said: "Billing reaches Stripe through the payments-gw proxy on port 8443; check the client config.", tools: []string{"client.go: base = https://api.stripe.com"}},
			{said: "Production runs in us-east-2 and staging in eu-west-1.", tools: nil, resent: true},
		}, []agentFact{{"How does billing talk to Stripe?", "payments-gw"}, {"Which region is production in?", "us-east-2"}}),
		codexTranscript(t, "codex-tests", "cx-s1", []agentTurn{
			{said: "Run the integration tests. They need REDIS_URL=redis://localhost:6380 exported.", tools: []string{"FAIL redis: connection refused 127.0.0.1:6379", "ok shop/cart 0.41s"}},
			{said: "Database migrations live in db/migrations and we run them with goose.", tools: []string{"db/migrations/0042_orders.sql"}, resent: true},
		}, []agentFact{{"Which Redis URL do the integration tests need?", "6380"}, {"How do we run database migrations?", "goose"}}),
		codexTranscript(t, "codex-logging", "cx-s2", []agentTurn{
			{said: "Our Go services log with slog and the JSON handler in production; convert logger.go.", tools: []string{"logger.go: log.Printf(...)"}},
			{said: "Alice reviews every change to the auth package, add her to CODEOWNERS.", tools: []string{"CODEOWNERS: * @shop/core"}},
			{said: "Looks good.", tools: nil},
		}, []agentFact{{"Which logging library do the Go services use?", "slog"}, {"Who reviews auth package changes?", "Alice"}}),
		codexTranscript(t, "codex-flags", "cx-s3", []agentTurn{
			{said: "Feature flags come from LaunchDarkly and every key starts with ff_shop_.", tools: nil},
			{said: "Rename the checkout flag accordingly.", tools: []string{"flags.go: const checkoutFlag = \"checkout-v2\""}},
		}, []agentFact{{"Which feature flag service do we use?", "LaunchDarkly"}}),
	}
}
