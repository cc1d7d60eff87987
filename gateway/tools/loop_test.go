package tools

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
)

const scope = memory.Scope("u:alice/p:shop")

func rexBackend() *fakeBackend {
	return &fakeBackend{
		SearchF: func(memory.Scope, string, int) ([]memory.Memory, error) {
			return []memory.Memory{{ID: "mem_1", Content: "The user's dog is called Rex.", Score: 2.5}}, nil
		},
		GetF: func(memory.Scope, string) (memory.Memory, error) { return memory.Memory{}, memory.ErrNotFound },
	}
}

// (1) A gateway round, then the answer: the client sees only the answer;
// the second call carries the assistant tool call and the tool result.
func TestGatewayRoundThenAnswer(t *testing.T) {
	for _, includeUsage := range []bool{true, false} {
		b := rexBackend()
		m := scripted(
			toolRound("r1", 100, 20, tc{"call_1", SearchToolName, `{"query":"dog name"}`}),
			textRound("r2", 150, 30, "Your dog ", "is called Rex."),
		)
		var out strings.Builder
		res, err := Run(t.Context(), []byte(clientBody), MemoryTools(b, scope, 5), m.call, &out, includeUsage, Options{})
		if err != nil {
			t.Fatal(err)
		}
		v := parseOut(t, out.String())
		v.wellFormed(t)
		if v.text != "Your dog is called Rex." || len(v.calls) != 0 || v.finishes[0] != "stop" {
			t.Errorf("client saw text %q, calls %v, finish %v", v.text, v.calls, v.finishes)
		}
		if includeUsage {
			if v.usageChunks != 1 || v.usage.PromptTokens != 250 || v.usage.CompletionTokens != 50 || v.usage.TotalTokens != 300 {
				t.Errorf("usage chunks %d, usage %+v; want one of 250+50", v.usageChunks, v.usage)
			}
		} else if v.usageChunks != 0 || strings.Contains(out.String(), `"usage"`) {
			t.Errorf("usage sent without include_usage")
		}
		if res.Rounds != 2 || !slices.Equal(res.ToolsCalled, []string{SearchToolName}) ||
			res.Usage.PromptTokens != 250 || res.Usage.CompletionTokens != 50 || res.FinishReason != "stop" {
			t.Errorf("result %+v", res)
		}
		if got := b.calls(); !slices.Equal(got, []string{`Search u:alice/p:shop "dog name" 5`}) {
			t.Errorf("backend calls %v", got)
		}

		first := m.request(t, 1)
		if !first.Stream || first.StreamOptions == nil || !first.StreamOptions.IncludeUsage {
			t.Errorf("first request not streaming with usage")
		}
		if got := first.toolNames(); !slices.Equal(got, []string{SearchToolName, GetDocumentToolName}) {
			t.Errorf("first request tools %v", got)
		}
		second := m.request(t, 2)
		if len(second.Messages) != 3 {
			t.Fatalf("second request has %d messages, want user, assistant, tool", len(second.Messages))
		}
		a := second.Messages[1]
		if a.Role != "assistant" || a.Content != nil || len(a.ToolCalls) != 1 ||
			a.ToolCalls[0].ID != "call_1" || a.ToolCalls[0].Function.Name != SearchToolName ||
			a.ToolCalls[0].Function.Arguments != `{"query":"dog name"}` {
			t.Errorf("assistant message %+v", a)
		}
		tm := second.Messages[2]
		if tm.Role != "tool" || tm.ToolCallID != "call_1" || tm.Content == nil ||
			!strings.Contains(tm.Content.Text, "The user's dog is called Rex.") || !strings.Contains(tm.Content.Text, `"mem_1"`) {
			t.Errorf("tool message %+v", tm)
		}
	}
}

// Text the model wrote before its first tool call has streamed; the next
// visible text is set off by a blank line.
func TestTextBeforeToolCall(t *testing.T) {
	r1 := roleChunk("r1") + textChunk("r1", "Let me look.") + callStart("r1", 0, "c1", SearchToolName) +
		callArgs("r1", 0, `{"query":"dog"}`) + finishChunk("r1", "tool_calls") + usageChunk("r1", 1, 1) + doneEvent
	m := scripted(r1, textRound("r2", 1, 1, "Rex."))
	var out strings.Builder
	if _, err := Run(t.Context(), []byte(clientBody), MemoryTools(rexBackend(), scope, 5), m.call, &out, false, Options{}); err != nil {
		t.Fatal(err)
	}
	v := parseOut(t, out.String())
	v.wellFormed(t)
	if v.text != "Let me look.\n\nRex." {
		t.Errorf("text %q", v.text)
	}
	if a := m.request(t, 2).Messages[1]; a.Content == nil || a.Content.Text != "Let me look." {
		t.Errorf("assistant message lost its text: %+v", a)
	}
}

// (2) Calls of one round run at once: each tool waits for the other to
// start, so run one after the other they would time out.
func TestParallelCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		arrived := make(chan struct{}, 2)
		both := make(chan struct{})
		barrier := func(name string) *fakeTool {
			return &fakeTool{name: name, fn: func(ctx context.Context, _ json.RawMessage) (string, error) {
				arrived <- struct{}{}
				if len(arrived) == 2 {
					close(both)
				}
				select {
				case <-both:
					return "result of " + name, nil
				case <-ctx.Done():
					return "", ctx.Err()
				}
			}}
		}
		m := scripted(
			toolRound("r1", 1, 1, tc{"c1", "alpha", `{}`}, tc{"c2", "beta", `{"x":1}`}),
			textRound("r2", 1, 1, "done"),
		)
		var out strings.Builder
		if _, err := Run(t.Context(), []byte(clientBody), []Tool{barrier("alpha"), barrier("beta")}, m.call, &out, false, Options{}); err != nil {
			t.Fatal(err)
		}
		got := toolMessages(m.request(t, 2))
		if got["c1"] != "result of alpha" || got["c2"] != "result of beta" {
			t.Errorf("tool messages %v; want both results (calls ran one after the other?)", got)
		}
	})
}

// (3) The mixed-turn rule: a round with a client tool call goes to the
// client minus the gateway call, re-indexed; the gateway tool is not run.
func TestMixedTurn(t *testing.T) {
	b := rexBackend()
	body := `{"model":"gpt-test","messages":[{"role":"user","content":"weather?"}],"stream":true,` +
		`"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}`
	r1 := roleChunk("r1") + textChunk("r1", "Checking.") +
		callStart("r1", 0, "c_gw", SearchToolName) + callArgs("r1", 0, `{"query":"city"}`) +
		callStart("r1", 1, "c_cl", "get_weather") + callArgs("r1", 1, `{"city":`) + callArgs("r1", 1, `"Paris"}`) +
		finishChunk("r1", "tool_calls") + usageChunk("r1", 10, 5) + doneEvent
	m := scripted(r1)
	var out strings.Builder
	res, err := Run(t.Context(), []byte(body), MemoryTools(b, scope, 5), m.call, &out, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := parseOut(t, out.String())
	v.wellFormed(t)
	if len(v.calls) != 1 || v.calls[0].ID != "c_cl" || v.calls[0].Function.Name != "get_weather" ||
		v.calls[0].Function.Arguments != `{"city":"Paris"}` || v.calls[0].Type != "function" {
		t.Errorf("client calls %+v; want only get_weather at index 0", v.calls)
	}
	if v.finishes[0] != "tool_calls" || res.FinishReason != "tool_calls" || v.text != "Checking." {
		t.Errorf("finish %v, text %q", v.finishes, v.text)
	}
	if got := b.calls(); len(got) != 0 || m.calls() != 1 || len(res.ToolsCalled) != 0 {
		t.Errorf("gateway tool ran: backend %v, model calls %d, tools %v", got, m.calls(), res.ToolsCalled)
	}
	if got := m.request(t, 1).toolNames(); !slices.Equal(got, []string{"get_weather", SearchToolName, GetDocumentToolName}) {
		t.Errorf("tools offered %v; want the client's first", got)
	}
}

// (4) After MaxIterations gateway rounds, one last call without tools;
// a gateway call in it is dropped.
func TestMaxIterations(t *testing.T) {
	body := `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"tool_choice":"auto","parallel_tool_calls":true,` +
		`"tools":[{"type":"function","function":{"name":"client_tool"}}]}`
	tool := &fakeTool{name: "lookup", fn: func(context.Context, json.RawMessage) (string, error) { return "x", nil }}
	m := scripted(
		toolRound("r1", 1, 1, tc{"c1", "lookup", `{"n":1}`}),
		toolRound("r2", 1, 1, tc{"c2", "lookup", `{"n":2}`}),
		toolRound("r3", 1, 1, tc{"c3", "lookup", `{"n":3}`}),
	)
	var out strings.Builder
	res, err := Run(t.Context(), []byte(body), []Tool{tool}, m.call, &out, false, Options{MaxIterations: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m.calls() != 3 || tool.runs.Load() != 2 || res.Rounds != 3 {
		t.Fatalf("model calls %d, tool runs %d, rounds %d; want 3, 2, 3", m.calls(), tool.runs.Load(), res.Rounds)
	}
	for n := 1; n <= 2; n++ {
		if r := m.request(t, n); len(r.Tools) != 2 || r.raw["tool_choice"] == nil {
			t.Errorf("request %d lost its tools: %v", n, r.toolNames())
		}
	}
	last := m.request(t, 3)
	for _, k := range []string{"tools", "tool_choice", "parallel_tool_calls"} {
		if _, ok := last.raw[k]; ok {
			t.Errorf("last request still has %s", k)
		}
	}
	if len(last.Messages) != 5 {
		t.Errorf("last request has %d messages, want 5", len(last.Messages))
	}
	v := parseOut(t, out.String())
	v.wellFormed(t)
	if len(v.calls) != 0 || v.finishes[0] != "stop" {
		t.Errorf("client saw calls %v, finish %v; want the dropped gateway call to end in stop", v.calls, v.finishes)
	}
}

// (5) A tool that outlives TimeoutPerTool gets an error result with a
// retry hint, and the loop goes on; one that ignores its ctx is not
// waited for.
func TestToolTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		took := make(chan time.Duration, 1)
		slow := &fakeTool{name: "slow", fn: func(ctx context.Context, _ json.RawMessage) (string, error) {
			start := time.Now()
			<-ctx.Done()
			took <- time.Since(start)
			return "", ctx.Err()
		}}
		release := make(chan struct{})
		defer close(release)
		deaf := &fakeTool{name: "deaf", fn: func(context.Context, json.RawMessage) (string, error) {
			<-release
			return "too late", nil
		}}
		m := scripted(toolRound("r1", 1, 1, tc{"c1", "slow", `{}`}, tc{"c2", "deaf", `{}`}), textRound("r2", 1, 1, "sorry"))
		var out strings.Builder
		start := time.Now()
		_, err := Run(t.Context(), []byte(clientBody), []Tool{slow, deaf}, m.call, &out, false, Options{TimeoutPerTool: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if d := <-took; d != 5*time.Second || time.Since(start) != 5*time.Second {
			t.Errorf("tool ran %v, Run took %v; want the 5s timeout", d, time.Since(start))
		}
		got := toolMessages(m.request(t, 2))
		for _, id := range []string{"c1", "c2"} {
			msg, hint, attempt := errorResultOf(t, got[id])
			if !strings.Contains(msg, "did not answer within 5s") || hint == "" || attempt != 1 {
				t.Errorf("%s: error result %q / %q / %d", id, msg, hint, attempt)
			}
		}
		if v := parseOut(t, out.String()); v.text != "sorry" {
			t.Errorf("loop did not go on to the answer: %q", v.text)
		}
	})
}

// (6) After MaxRetries+1 failures the tool is disabled.
func TestRetriesExhausted(t *testing.T) {
	broken := &fakeTool{name: "broken", fn: func(context.Context, json.RawMessage) (string, error) {
		return "", errors.New("backend said no")
	}}
	var rounds []string
	for i := range 4 {
		rounds = append(rounds, toolRound("r", 1, 1, tc{"c" + string(rune('1'+i)), "broken", `{"try":` + string(rune('1'+i)) + `}`}))
	}
	m := scripted(append(rounds, textRound("r5", 1, 1, "gave up"))...)
	var out strings.Builder
	res, err := Run(t.Context(), []byte(clientBody), []Tool{broken}, m.call, &out, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := broken.runs.Load(); got != 3 {
		t.Errorf("tool ran %d times, want 3 (1 + MaxRetries 2)", got)
	}
	for n, want := range []struct {
		msg     string
		attempt int
		hint    string
	}{{"backend said no", 1, "call it again"}, {"backend said no", 2, "call it again"}, {"backend said no", 3, "disabled"}, {"tool disabled after 3 failures", 3, "do not call"}} {
		id := "c" + string(rune('1'+n))
		msg, hint, attempt := errorResultOf(t, toolMessages(m.request(t, n+2))[id])
		if msg != want.msg || attempt != want.attempt || !strings.Contains(hint, want.hint) {
			t.Errorf("round %d: %q / %q / %d; want %q / …%s… / %d", n+1, msg, hint, attempt, want.msg, want.hint, want.attempt)
		}
	}
	if len(res.ToolsCalled) != 4 {
		t.Errorf("ToolsCalled %v", res.ToolsCalled)
	}
}

// (7) The same call again (in another round, or twice in one round) is
// answered from the first result.
func TestIdenticalCallsRunOnce(t *testing.T) {
	b := rexBackend()
	m := scripted(
		toolRound("r1", 1, 1, tc{"c1", SearchToolName, `{"query":"dog","containerTag":null}`}),
		toolRound("r2", 1, 1, tc{"c2", SearchToolName, `{ "containerTag" : null, "query" : "dog" }`},
			tc{"c3", SearchToolName, `{"query":"cat"}`}, tc{"c4", SearchToolName, `{"query": "cat"}`}),
		textRound("r3", 1, 1, "Rex."),
	)
	var out strings.Builder
	if _, err := Run(t.Context(), []byte(clientBody), MemoryTools(b, scope, 5), m.call, &out, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := b.calls(); len(got) != 2 {
		t.Errorf("backend calls %v; want one search for dog, one for cat", got)
	}
	r2, r3 := toolMessages(m.request(t, 2)), toolMessages(m.request(t, 3))
	if r3["c2"] != r2["c1"] || r3["c3"] == "" || r3["c4"] != r3["c3"] {
		t.Errorf("repeated calls not answered alike: %v %v", r2, r3)
	}
}

// The client's tool_choice forcing a gateway tool is relaxed after that
// round; a gateway tool the client declares itself is the client's.
func TestToolChoiceAndShadowing(t *testing.T) {
	body := `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],` +
		`"tool_choice":{"type":"function","function":{"name":"lookup"}}}`
	tool := &fakeTool{name: "lookup", fn: func(context.Context, json.RawMessage) (string, error) { return "x", nil }}
	m := scripted(toolRound("r1", 1, 1, tc{"c1", "lookup", `{}`}), textRound("r2", 1, 1, "ok"))
	if _, err := Run(t.Context(), []byte(body), []Tool{tool}, m.call, &strings.Builder{}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := string(m.request(t, 2).raw["tool_choice"]); got != `"auto"` {
		t.Errorf("tool_choice after the forced round = %s", got)
	}

	body = `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"lookup"}}]}`
	m = scripted(toolRound("r1", 1, 1, tc{"c1", "lookup", `{}`}))
	var out strings.Builder
	if _, err := Run(t.Context(), []byte(body), []Tool{tool}, m.call, &out, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if v := parseOut(t, out.String()); len(v.calls) != 1 || len(m.request(t, 1).Tools) != 1 || tool.runs.Load() != 1 {
		t.Errorf("client's own lookup: client calls %v, tools offered %v, gateway runs %d",
			v.calls, m.request(t, 1).toolNames(), tool.runs.Load())
	}
}

func TestBadRequest(t *testing.T) {
	for _, body := range []string{`[]`, `{"messages":"x"}`, `{"messages":[],"n":2}`, `nope`} {
		var out strings.Builder
		m := scripted()
		_, err := Run(t.Context(), []byte(body), nil, m.call, &out, false, Options{})
		if !errors.Is(err, ErrBadRequest) || out.Len() != 0 || m.calls() != 0 {
			t.Errorf("%s: err %v, wrote %q, calls %d", body, err, out.String(), m.calls())
		}
	}
}
