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

func TestQuery(t *testing.T) {
	oai := `{"messages":[{"role":"system","content":"sys"},{"role":"user","content":"first q"},{"role":"assistant","content":"answer one"},
		{"role":"user","content":[{"type":"text","text":"second q"},{"type":"image_url","image_url":{"url":"data:x"}}]},
		{"role":"tool","content":"tool output","tool_call_id":"c"}]}`
	ant := `{"system":"s","messages":[{"role":"user","content":"first q"},{"role":"assistant","content":[{"type":"text","text":"answer one"}]},
		{"role":"user","content":[{"type":"text","text":"second q\n\n` + strings.ReplaceAll(block, "\n", `\n`) + `"}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"tool output"}]}]}`
	for _, body := range []string{oai, ant} {
		cases := map[string]string{LastUser: "second q", FirstUser: "first q", AllUser: "first q\nsecond q", LastAssistant: "answer one", "": "second q"}
		for strategy, want := range cases {
			if got := Query([]byte(body), strategy); got != want {
				t.Errorf("Query(%s) = %q, want %q", strategy, got, want)
			}
		}
	}
}

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
		out, err := Apply(OpenAI, body, strategy, block)
		if err != nil {
			t.Fatalf("%s: %v", strategy, err)
		}
		m := decode(t, out)
		if !ok(m["messages"].([]any)) || m["temperature"] != 0.2 || m["model"] != "m" {
			t.Errorf("%s: %s", strategy, out)
		}
	}
	// No system message: System creates one.
	out, _ := Apply(OpenAI, []byte(`{"messages":[{"role":"user","content":"hi"}]}`), System, block)
	if ms := decode(t, out)["messages"].([]any); len(ms) != 2 || ms[0].(map[string]any)["role"] != "system" {
		t.Errorf("system created: %s", out)
	}
	// A final tool turn: cache_aware finds no place.
	tool := []byte(`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[]},{"role":"tool","content":"x","tool_call_id":"c"}]}`)
	if out, err := Apply(OpenAI, tool, CacheAware, block); !errors.Is(err, ErrNoPlace) || !bytes.Equal(out, tool) {
		t.Errorf("tool turn: %v %s", err, out)
	}
}

func TestApplyAnthropicSystem(t *testing.T) {
	for body, want := range map[string]string{
		`{"messages":[{"role":"user","content":"hi"}]}`:                                       jsonOf(block),
		`{"system":"be brief","messages":[{"role":"user","content":"hi"}]}`:                   jsonOf(block + "\n\nbe brief"),
		`{"system":[{"type":"text","text":"a"}],"messages":[{"role":"user","content":"hi"}]}`: jsonOf([]part{{"text", block}, {"text", "a"}}),
	} {
		out, err := Apply(Anthropic, []byte(body), System, block)
		if err != nil || jsonOf(decode(t, out)["system"]) != want {
			t.Errorf("%s → %s (%v)", body, out, err)
		}
	}
	out, _ := Apply(Anthropic, []byte(`{"system":"be brief","messages":[{"role":"user","content":"hi"}]}`), Dual, block)
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
	out, err := Apply(Anthropic, body, CacheAware, block)
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
