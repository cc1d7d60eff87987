package dialect

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// Translating a large request costs at most 2.5 times its body in every
// client → wire pair, also through the hub when neither end is it (its
// large strings are never decoded, and written once, into the wire
// body), and writes what Encode(ToHub(body)) writes.
func TestRequestMemory(t *testing.T) {
	const most = 2.5 // allocated bytes per body byte
	line := "\tif err := run(\"<cmd>\", args); err != nil { // é\n"
	text, _ := json.Marshal(strings.Repeat(line, (8<<20)/len(line)))
	bodies := map[string]string{
		OpenAI:    `{"model":"m","messages":[{"role":"user","content":` + string(text) + `}]}`,
		Anthropic: `{"model":"m","max_tokens":16,"messages":[{"role":"user","content":` + string(text) + `}]}`,
		Responses: `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":` + string(text) + `}]}]}`,
	}
	for _, c := range All() {
		for _, w := range Wires() {
			rt := Route{Client: c, Wire: w}
			if rt.Passthrough() || w == responsesAPI {
				continue
			}
			body := []byte(bodies[c.Name()])
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			out, _, e := rt.Request(body, "m", "up", true)
			runtime.ReadMemStats(&after)
			if e != nil || !json.Valid(out) {
				t.Fatalf("%s → %s: %v", c.Name(), w.Name(), e)
			}
			hub, err := c.ToHub(body, "up")
			if err == nil {
				hub, err = w.Encode(hub, "up")
			}
			if err != nil || !bytes.Equal(out, hub) {
				t.Errorf("%s → %s: Request differs from Encode(ToHub(body)) (%v)", c.Name(), w.Name(), err)
			}
			if got := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(body)); got > most {
				t.Errorf("%s → %s: allocated %.2f× the body, want at most %.1f×", c.Name(), w.Name(), got, most)
			} else {
				t.Logf("%s → %s: %.2f× the body", c.Name(), w.Name(), got)
			}
		}
	}
}
