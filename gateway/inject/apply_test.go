package inject

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/jsonscan"
)

const block = "<memproxy-context>\nM\n</memproxy-context>"

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("result is not JSON: %v: %s", err, b)
	}
	return m
}

// jsonOf is a canonical JSON form of v (map keys sorted).
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	var a any
	_ = json.Unmarshal(b, &a)
	b, _ = json.Marshal(a)
	return string(b)
}

var (
	oai = Layout{Messages: "messages", TextType: "text", SystemRole: "system"}
	ant = Layout{Messages: "messages", TextType: "text", System: "system", SystemRole: "system"}
	rsp = Layout{Messages: "input", TextType: "input_text", System: "instructions", SystemRole: "developer"}
)

func TestApplyOpenAI(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"user","content":"what now?"}],"temperature":0.2}`)
	cases := map[string]func(ms []any) bool{
		System: func(ms []any) bool { return ms[0].(map[string]any)["content"] == block+"\n\nbe brief" && len(ms) == 4 },
		Dual: func(ms []any) bool {
			return len(ms) == 5 && ms[1].(map[string]any)["role"] == "system" && ms[1].(map[string]any)["content"] == block
		},
		UserPrefix: func(ms []any) bool { return ms[1].(map[string]any)["content"] == block+"\n\nhi" },
		UserSuffix: func(ms []any) bool { return ms[3].(map[string]any)["content"] == "what now?\n\n"+block },
		CacheAware: func(ms []any) bool {
			return jsonOf(ms[3].(map[string]any)["content"]) == jsonOf([]part{{"text", "what now?"}, {"text", block}}) && len(ms) == 4
		},
	}
	for strategy, ok := range cases {
		out, err := Apply(oai, body, strategy, block, 3)
		if err != nil {
			t.Fatalf("%s: %v", strategy, err)
		}
		m := decode(t, out)
		if !ok(m["messages"].([]any)) || m["temperature"] != 0.2 || m["model"] != "m" {
			t.Errorf("%s: %s", strategy, out)
		}
	}
	// No system message: System creates one.
	out, _ := Apply(oai, []byte(`{"messages":[{"role":"user","content":"hi"}]}`), System, block, 0)
	if ms := decode(t, out)["messages"].([]any); len(ms) != 2 || ms[0].(map[string]any)["role"] != "system" {
		t.Errorf("system created: %s", out)
	}
	// A final tool turn: cache_aware goes to the turn's human message, so
	// every call of the turn carries the block in the same place.
	tool := []byte(`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[]},{"role":"tool","content":"x","tool_call_id":"c"}]}`)
	out, err := Apply(oai, tool, CacheAware, block, 0)
	if ms := decode(t, out)["messages"].([]any); err != nil || jsonOf(ms[0].(map[string]any)["content"]) != jsonOf([]part{{"text", "hi"}, {"text", block}}) ||
		jsonOf(ms[2]) != jsonOf(decode(t, tool)["messages"].([]any)[2]) {
		t.Errorf("tool turn: %v %s", err, out)
	}
	// No human message: no place.
	if out, err := Apply(oai, tool, CacheAware, block, -1); !errors.Is(err, ErrNoPlace) || !bytes.Equal(out, tool) {
		t.Errorf("no human message: %v %s", err, out)
	}
	// at must name a user message.
	if _, err := Apply(oai, tool, CacheAware, block, 2); err == nil || errors.Is(err, ErrNoPlace) {
		t.Errorf("at a tool message: %v", err)
	}
}

func TestApplyAnthropicSystem(t *testing.T) {
	for body, want := range map[string]string{
		`{"messages":[{"role":"user","content":"hi"}]}`:                                       jsonOf(block),
		`{"system":"be brief","messages":[{"role":"user","content":"hi"}]}`:                   jsonOf(block + "\n\nbe brief"),
		`{"system":[{"type":"text","text":"a"}],"messages":[{"role":"user","content":"hi"}]}`: jsonOf([]part{{"text", block}, {"text", "a"}}),
	} {
		out, err := Apply(ant, []byte(body), System, block, 0)
		if err != nil || jsonOf(decode(t, out)["system"]) != want {
			t.Errorf("%s → %s (%v)", body, out, err)
		}
	}
	out, _ := Apply(ant, []byte(`{"system":"be brief","messages":[{"role":"user","content":"hi"}]}`), Dual, block, 0)
	sys := decode(t, out)["system"].([]any)
	if len(sys) != 2 || sys[0].(map[string]any)["cache_control"] == nil || sys[1].(map[string]any)["text"] != block {
		t.Errorf("dual: %s", out)
	}
}

// TestCacheAwareKeepsCachedPrefix pins what the default strategy exists
// for: a Claude Code request's system prompt, tools and earlier turns, up
// to its last cache breakpoint, are byte for byte what they were.
func TestCacheAwareKeepsCachedPrefix(t *testing.T) {
	body := []byte(`{"model":"claude","max_tokens":100,
 "system":[{"type":"text","text":"You are Claude Code."},{"type":"text","text":"Long instructions","cache_control":{"type":"ephemeral"}}],
 "tools":[{"name":"Bash","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}],
 "messages":[{"role":"user","content":[{"type":"text","text":"fix the bug"}]},
  {"role":"assistant","content":[{"type":"text","text":"ok"}]},
  {"role":"user","content":[{"type":"text","text":"and the tests","cache_control":{"type":"ephemeral"}}]}]}`)
	out, err := Apply(ant, body, CacheAware, block, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"system", "tools", "model", "max_tokens"} {
		s1, e1, _ := jsonscan.TopLevel(body, key)
		s2, e2, _ := jsonscan.TopLevel(out, key)
		if !bytes.Equal(body[s1:e1], out[s2:e2]) {
			t.Errorf("%s changed:\n%s\n%s", key, body[s1:e1], out[s2:e2])
		}
	}
	before, after := decode(t, body)["messages"].([]any), decode(t, out)["messages"].([]any)
	if jsonOf(before[:2]) != jsonOf(after[:2]) {
		t.Error("earlier turns changed")
	}
	last := after[2].(map[string]any)["content"].([]any)
	if len(last) != 2 || jsonOf(last[0]) != jsonOf(before[2].(map[string]any)["content"].([]any)[0]) || last[1].(map[string]any)["text"] != block {
		t.Errorf("final turn: memories must follow the breakpoint: %s", jsonOf(last))
	}
	if !strings.Contains(string(out), "<memproxy-context>") {
		t.Error("fence was HTML-escaped")
	}
}

func TestApplyResponses(t *testing.T) {
	items := []byte(`{"model":"m","instructions":"You are Codex.","input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":"<permissions>"}]},` +
		`{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>x</environment_context>"}]},` +
		`{"type":"message","role":"user","content":[{"type":"input_text","text":"fix it"}]},` +
		`{"type":"function_call","call_id":"c1","name":"shell","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"ok"}],"stream":true}`)
	cases := map[string]func(m map[string]any) bool{
		System: func(m map[string]any) bool { return m["instructions"] == block+"\n\nYou are Codex." },
		Dual: func(m map[string]any) bool {
			in := m["input"].([]any)
			return m["instructions"] == "You are Codex." && len(in) == 6 && jsonOf(in[1]) == jsonOf(map[string]any{"role": "developer", "content": block})
		},
		UserPrefix: func(m map[string]any) bool {
			c := m["input"].([]any)[1].(map[string]any)["content"].([]any)
			return len(c) == 2 && c[0].(map[string]any)["text"] == block && c[0].(map[string]any)["type"] == "input_text"
		},
		CacheAware: func(m map[string]any) bool {
			c := m["input"].([]any)[2].(map[string]any)["content"].([]any)
			return len(c) == 2 && jsonOf(c[1]) == jsonOf(part{"input_text", block}) && len(m["input"].([]any)) == 5
		},
		UserSuffix: func(m map[string]any) bool {
			c := m["input"].([]any)[2].(map[string]any)["content"].([]any)
			return len(c) == 2 && c[1].(map[string]any)["text"] == block
		},
	}
	for strategy, ok := range cases {
		out, err := Apply(rsp, items, strategy, block, 2)
		if err != nil {
			t.Fatalf("%s: %v", strategy, err)
		}
		m := decode(t, out)
		if !ok(m) || m["model"] != "m" || m["stream"] != true {
			t.Errorf("%s: %s", strategy, out)
		}
		if strategy == CacheAware || strategy == Dual {
			s1, e1, _ := jsonscan.TopLevel(items, "instructions")
			s2, e2, _ := jsonscan.TopLevel(out, "instructions")
			if !bytes.Equal(items[s1:e1], out[s2:e2]) {
				t.Errorf("%s changed the instructions", strategy)
			}
		}
	}
	// A string input becomes one user message carrying the block.
	out, err := Apply(rsp, []byte(`{"model":"m","input":"hello"}`), CacheAware, block, 0)
	if err != nil || jsonOf(decode(t, out)["input"]) != jsonOf([]map[string]any{{"role": "user", "content": []part{{"input_text", "hello"}, {"input_text", block}}}}) {
		t.Errorf("string input: %v %s", err, out)
	}
	// No instructions: System creates them.
	out, _ = Apply(rsp, []byte(`{"input":"hi"}`), System, block, 0)
	if decode(t, out)["instructions"] != block {
		t.Errorf("instructions created: %s", out)
	}
}
