package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// direction is one request translation, with the raw function (no
// stashing) and the one the gateway calls.
type direction struct {
	name, dir string
	raw       func([]byte) ([]byte, error)
	public    func([]byte) ([]byte, error)
}

var directions = []direction{
	{"anthropic→openai", "testdata/anthropic_openai/request",
		func(b []byte) ([]byte, error) { return anthropicToOpenAIChat(b, "gpt-x", nil) },
		func(b []byte) ([]byte, error) { return AnthropicToOpenAIChat(b, "gpt-x") }},
	{"openai→anthropic", "testdata/openai_anthropic/request",
		func(b []byte) ([]byte, error) { return openAIChatToAnthropic(b, "claude-x", 1024, nil) },
		func(b []byte) ([]byte, error) { return OpenAIChatToAnthropic(b, "claude-x", 1024) }},
	{"openai→gemini", "testdata/gemini_request",
		func(b []byte) ([]byte, error) { return openAIChatToGemini(b, nil) },
		OpenAIChatToGemini},
	{"responses→openai", "testdata/responses_openai/request",
		func(b []byte) ([]byte, error) { return responsesToOpenAIChat(b, "gpt-x", nil) },
		func(b []byte) ([]byte, error) { return ResponsesToOpenAIChat(b, "gpt-x") }},
}

// stashAll makes every string of more than a few bytes stashed.
func stashAll(t *testing.T, keep int) {
	t.Helper()
	minimum, k := stashMin, stashKeep
	stashMin, stashKeep = keep+1, keep
	t.Cleanup(func() { stashMin, stashKeep = minimum, k })
}

// tricky is string content in the escapes and characters whose rendering
// differs between contexts: escapes Go writes otherwise, HTML characters,
// U+2028, surrogate pairs, lone surrogates, control characters.
const tricky = `x\u00e9\/<b>&amp;\u2028 ` + "\u2028\u2029" + `\ud83d\ude00 \ud800z\udc00 \u0000\b\f\n\r\t\"\\ é😀 \u003C\u0026end`

// withTricky returns b with tricky appended to every string value under a
// stashed key, so that every context meets every rendering.
func withTricky(b []byte) []byte {
	var out []byte
	at := 0
	var key []byte
	for i := 0; ; {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			break
		}
		start := i + q + 1
		end := stringEnd(b, start)
		if end < 0 {
			break
		}
		i = end + 1
		if nextByte(b, i) == ':' {
			key = b[start:end]
			continue
		}
		if prevByte(b, start-2) == ':' && stashKeys[string(key)] {
			out = append(append(out, b[at:end]...), tricky...)
			at = end
		}
	}
	return append(out, b[at:]...)
}

// Stashing changes nothing: every request of the golden tests, and the
// same with tricky content in every stashed string, translates to the
// same bytes (or the same error) with every string stashed as without.
func TestStashSameOutput(t *testing.T) {
	stashed := map[string]int{}
	for _, keep := range []int{0, 4, 40} {
		stashAll(t, keep)
		for _, d := range directions {
			files, _ := filepath.Glob(filepath.Join(d.dir, "*.json"))
			if len(files) == 0 {
				t.Fatalf("%s: no inputs in %s", d.name, d.dir)
			}
			files = append(files, "stash:extra")
			for _, f := range files {
				in := []byte(stashCases[d.name])
				if f != "stash:extra" {
					var err error
					if in, err = os.ReadFile(f); err != nil {
						t.Fatal(err)
					}
				}
				for _, body := range [][]byte{in, withTricky(in)} {
					if _, st := stashBody(body); st != nil {
						stashed[d.name]++
					}
					want, werr := d.raw(body)
					got, gerr := d.public(body)
					if !bytes.Equal(got, want) || errText(gerr) != errText(werr) {
						t.Errorf("%s %s keep %d:\n got %s %v\nwant %s %v", d.name, f, keep, got, gerr, want, werr)
					}
				}
			}
		}
	}
	for _, d := range directions {
		if stashed[d.name] == 0 {
			t.Errorf("%s: no body was stashed", d.name)
		}
	}
}

// stashCases reach what no golden input does: JSON text inside strings
// whose content is stashed (tool arguments, a Gemini tool result that is
// a JSON object), schemas, tool_use input.
var stashCases = map[string]string{
	"anthropic→openai": `{"model":"m","max_tokens":10,"system":"be brief \u00e9 <x>","messages":[
		{"role":"user","content":"hello \/ world"},
		{"role":"assistant","content":[{"type":"text","text":"calling"},{"type":"tool_use","id":"t1","name":"write",
			"input":{"content":"line \"one\"\n<two> \u00e9 \u2028","path":"a.go"}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"done \\ ok"}]}],
		"tools":[{"name":"write","description":"writes \u0026 more","input_schema":{"type":"object","description":"a \/ schema \u00e9"}}]}`,
	"openai→anthropic": `{"model":"m","messages":[{"role":"system","content":"sys \u00e9"},
		{"role":"user","content":"hi"},
		{"role":"assistant","content":"ok","tool_calls":[{"id":"c1","type":"function","function":{"name":"w",
			"arguments":"{\"content\":\"big \\u00e9 \\\"q\\\" <x> \\/\",  \"n\": 1}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"{\"result\":\"fine \\u00e9\"}"}],
		"tools":[{"type":"function","function":{"name":"w","description":"d \u00e9","parameters":{"type":"object","description":"s \/ \u00e9 <"}}}]}`,
	"openai→gemini": `{"model":"m","messages":[{"role":"system","content":"sys \u00e9"},
		{"role":"user","content":"hi"},
		{"role":"assistant","content":"ok","tool_calls":[{"id":"c1","type":"function","function":{"name":"w",
			"arguments":"{\"content\":\"big \\u00e9 \\\"q\\\" <x> \\/\"}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"  {\"result\":\"fine \\u00e9 <\"}"},
		{"role":"assistant","content":"again","tool_calls":[{"id":"c2","type":"function","function":{"name":"w","arguments":""}}]},
		{"role":"tool","tool_call_id":"c2","content":"plain \u00e9 text"}],
		"tools":[{"type":"function","function":{"name":"w","description":"d \u00e9","parameters":{"type":"object","properties":{"content":{"type":"string","description":"s \/ \u00e9 <"}}}}}]}`,
	"responses→openai": `{"model":"m","instructions":"be \u00e9","input":[{"role":"user","content":[{"type":"input_text","text":"hi \/"}]},
		{"type":"function_call","call_id":"c1","name":"w","arguments":"{\"a\":\"\\u00e9 <\"}"},
		{"type":"function_call_output","call_id":"c1","output":"out \u00e9"}],
		"tools":[{"type":"function","name":"w","description":"d \u00e9","parameters":{"type":"object","description":"s \/ \u00e9 <"}}],
		"text":{"format":{"type":"json_schema","name":"x","schema":{"type":"object","description":"q \/ \u00e9 <"}}}}`,
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// The stash did stash: a large string leaves the body, and comes back.
func TestStashBody(t *testing.T) {
	big := strings.Repeat("ab\\n", 2000)
	body := []byte(`{"messages":[{"role":"user","content":"` + big + `"}],"id":"` + big + `"}`)
	small, st := stashBody(body)
	if st == nil || len(st.spans) != 1 || len(small) > len(body)-len(big)+stashKeep+20 {
		t.Fatalf("stashed %v into %d bytes", st, len(small))
	}
	if got := st.expand(small); !bytes.Equal(got, body) {
		t.Errorf("expand(stash(body)) differs from body")
	}
	for _, b := range []string{
		`{"content":"` + big + "\uE000" + `"}`, // a placeholder rune already there
		`{"content":"` + big + `\uE001"}`,
		`{"content":"` + big + "\x01" + `"}`, // invalid: the decode must refuse it
		`{"content":"` + big + `\x"}`,
		`{"content":"` + big + "\xff" + `"}`,
		`{"content":"http://` + big + `"}`,
		`{"name":"` + big + `"}`,
	} {
		if _, st := stashBody([]byte(b)); st != nil {
			t.Errorf("stashed %.40q…", b[len(b)-20:])
		}
	}
}

// Each rendering is encoding/json's: of the decoded text (canonical), of
// the raw JSON compacted (verbatim), of the raw JSON as a string (quoted).
func TestStashRender(t *testing.T) {
	for _, s := range []string{tricky, `plain`, `\ud83d`, `\ud83dx`, `a\ud83d\ud83d\ude00`, `\u2028\u2029`, `<>&\"\\\/`, "\u007f\u0080\ufffd"} {
		raw := []byte(s)
		sp, ok := measure(raw)
		if !ok {
			t.Fatalf("measure(%q) refused", s)
		}
		var text string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &text); err != nil {
			t.Fatal(err)
		}
		canon, _ := json.Marshal(text)
		var verbatim bytes.Buffer
		_ = json.Compact(&verbatim, []byte(`"`+s+`"`))
		htmlEscape := func(b []byte) []byte {
			var out bytes.Buffer
			json.HTMLEscape(&out, b)
			return out.Bytes()
		}
		quoted, _ := json.Marshal(s)
		for _, c := range []struct {
			kind byte
			n    int
			want []byte
		}{{kindCanon, sp.canon, canon}, {kindVerbatim, sp.verbatim, htmlEscape(verbatim.Bytes())}, {kindQuoted, sp.quote, quoted}} {
			want := c.want[1 : len(c.want)-1]
			got := sp.render(nil, c.kind)
			if !bytes.Equal(got, want) || c.n != len(want) {
				t.Errorf("%q kind %x: %q (len %d), want %q", s, c.kind, got, c.n, want)
			}
		}
	}
}

// FuzzStash: whatever the body, every direction and chain writes the
// same with every string stashed as without stashing.
func FuzzStash(f *testing.F) {
	for _, d := range directions {
		files, _ := filepath.Glob(filepath.Join(d.dir, "*.json"))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
		f.Add([]byte(stashCases[d.name]))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		stashAll(t, 2)
		for _, d := range directions {
			want, werr := d.raw(body)
			got, gerr := d.public(body)
			if !bytes.Equal(got, want) || errText(gerr) != errText(werr) {
				t.Errorf("%s:\n got %s %v\nwant %s %v", d.name, got, gerr, want, werr)
			}
		}
		for _, c := range chains {
			want, werr := rawChain(body, c.raw)
			got, gerr := Chain(body, c.steps...)
			if !bytes.Equal(got, want) || errText(gerr) != errText(werr) {
				t.Errorf("%s:\n got %s %v\nwant %s %v", c.name, got, gerr, want, werr)
			}
		}
	})
}

// chains are the routes that cross the hub twice, as gateway/dialect runs
// them, with the client dialect of their input.
var chains = []struct {
	name, client string
	steps        []Step
	raw          []func([]byte) ([]byte, error)
}{
	{"anthropic→openai→anthropic", "anthropic→openai",
		[]Step{AnthropicToOpenAIChatStep("gpt-x"), OpenAIChatToAnthropicStep("claude-x", 1024)},
		[]func([]byte) ([]byte, error){directions[0].raw, directions[1].raw}},
	{"anthropic→openai→gemini", "anthropic→openai",
		[]Step{AnthropicToOpenAIChatStep("gpt-x"), OpenAIChatToGeminiStep()},
		[]func([]byte) ([]byte, error){directions[0].raw, directions[2].raw}},
	{"responses→openai→anthropic", "responses→openai",
		[]Step{ResponsesToOpenAIChatStep("gpt-x"), OpenAIChatToAnthropicStep("claude-x", 1024)},
		[]func([]byte) ([]byte, error){directions[3].raw, directions[1].raw}},
	{"responses→openai→gemini", "responses→openai",
		[]Step{ResponsesToOpenAIChatStep("gpt-x"), OpenAIChatToGeminiStep()},
		[]func([]byte) ([]byte, error){directions[3].raw, directions[2].raw}},
}

// rawChain runs the whole-body translations one after the other.
func rawChain(body []byte, fns []func([]byte) ([]byte, error)) ([]byte, error) {
	for _, f := range fns {
		var err error
		if body, err = f(body); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// A chain writes what its translations one after the other write: the
// placeholders an earlier step moved (schemas, tool_use input turned into
// arguments) are rendered as the later step would render their text.
func TestChainSameOutput(t *testing.T) {
	for _, keep := range []int{0, 4, 40} {
		stashAll(t, keep)
		for _, c := range chains {
			var dir string
			for _, d := range directions {
				if d.name == c.client {
					dir = d.dir
				}
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			inputs := [][]byte{[]byte(stashCases[c.client])}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				inputs = append(inputs, b)
			}
			for i, in := range inputs {
				for _, body := range [][]byte{in, withTricky(in)} {
					want, werr := rawChain(body, c.raw)
					got, gerr := Chain(body, c.steps...)
					if !bytes.Equal(got, want) || errText(gerr) != errText(werr) {
						t.Errorf("%s input %d keep %d:\n got %s %v\nwant %s %v", c.name, i, keep, got, gerr, want, werr)
					}
				}
			}
		}
	}
}
