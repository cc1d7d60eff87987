package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// bigSize is the size of the large string in the memory tests and
// benchmarks.
const bigSize = 8 << 20

// bigText is a JSON string of about n bytes of source code, with the
// escapes a client writes: newlines, tabs, quotes, and Go's \u003c for <.
func bigText(n int) string {
	const line = "\tif err := run(\"<cmd>\", args); err != nil && ok { // é\n\t\treturn fmt.Errorf(\"run: %w\", err)\n\t}\n"
	quoted, _ := json.Marshal(line)
	b, _ := json.Marshal(strings.Repeat(line, n/(len(quoted)-2)))
	return string(b)
}

// bigImage is a JSON string of about n bytes: a base64 PNG data: URL when
// dataURL, else the base64 alone.
func bigImage(n int, dataURL bool) string {
	raw := make([]byte, n*3/4)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(raw)
	s := base64.StdEncoding.EncodeToString(raw)
	if dataURL {
		s = "data:image/png;base64," + s
	}
	return `"` + s + `"`
}

// bigRequests are large requests of each client dialect: a long text
// (a pasted file), an image, and a long tool result.
func bigRequests(n int) map[string]map[string][]byte {
	text, img, url := bigText(n), bigImage(n, false), bigImage(n, true)
	openAI := map[string][]byte{
		"text":  []byte(`{"model":"m","messages":[{"role":"user","content":` + text + `}]}`),
		"image": []byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what is it?"},{"type":"image_url","image_url":{"url":` + url + `}}]}]}`),
		"tool": []byte(`{"model":"m","messages":[{"role":"user","content":"read it"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"read","arguments":"{\"path\":\"a.go\"}"}}]},` +
			`{"role":"tool","tool_call_id":"call_1","content":` + text + `}],"tools":[{"type":"function","function":{"name":"read","parameters":{"type":"object","properties":{"path":{"type":"string"}}}}}]}`),
	}
	return map[string]map[string][]byte{
		"anthropic": {
			"text":  []byte(`{"model":"m","max_tokens":16,"messages":[{"role":"user","content":` + text + `}]}`),
			"image": []byte(`{"model":"m","max_tokens":16,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":` + img + `}},{"type":"text","text":"what is it?"}]}]}`),
			"tool": []byte(`{"model":"m","max_tokens":16,"messages":[{"role":"user","content":"read it"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"read","input":{"path":"a.go"}}]},` +
				`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":` + text + `}]}],"tools":[{"name":"read","input_schema":{"type":"object"}}]}`),
		},
		"openai": openAI,
		"responses": {
			"text":  []byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":` + text + `}]}]}`),
			"image": []byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"what is it?"},{"type":"input_image","image_url":` + url + `}]}]}`),
			"tool": []byte(`{"model":"m","input":[{"role":"user","content":"read it"},{"type":"function_call","call_id":"c1","name":"read","arguments":"{}"},` +
				`{"type":"function_call_output","call_id":"c1","output":` + text + `}]}`),
		},
	}
}

// clientOf is the client dialect of each direction.
var clientOf = map[string]string{"anthropic→openai": "anthropic", "openai→anthropic": "openai",
	"openai→gemini": "openai", "responses→openai": "responses"}

// allocated returns the bytes allocated by f.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A large request costs about one copy of itself to translate: the large
// strings are copied once, from the client's escaped bytes into the
// output, not decoded, copied per block and encoded again (about 6× the
// body before).
func TestTranslateMemory(t *testing.T) {
	const most = 2.5 // allocated bytes per body byte
	reqs := bigRequests(bigSize)
	for _, d := range directions {
		for kind, body := range reqs[clientOf[d.name]] {
			var out []byte
			var err error
			n := allocated(func() { out, err = d.public(body) })
			if err != nil {
				t.Fatalf("%s %s: %v", d.name, kind, err)
			}
			if len(out) < bigSize || !json.Valid(out) {
				t.Fatalf("%s %s: %d bytes out", d.name, kind, len(out))
			}
			if got := float64(n) / float64(len(body)); got > most {
				t.Errorf("%s %s: allocated %.2f× the body, want at most %.1f×", d.name, kind, got, most)
			} else {
				t.Logf("%s %s: %.2f× the body", d.name, kind, got)
			}
		}
	}
}

// The large requests translate to what the translation of the whole body
// writes (TestStashSameOutput checks the renderings on small ones).
func TestTranslateLargeSame(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 8 MiB bodies")
	}
	reqs := bigRequests(1 << 20)
	for _, d := range directions {
		for kind, body := range reqs[clientOf[d.name]] {
			want, werr := d.raw(body)
			got, gerr := d.public(body)
			if werr != nil || gerr != nil || !bytes.Equal(got, want) {
				t.Errorf("%s %s: differs from the whole-body translation (%v, %v)", d.name, kind, gerr, werr)
			}
		}
	}
}
