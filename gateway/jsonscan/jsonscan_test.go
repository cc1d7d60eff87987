package jsonscan

import (
	"encoding/json"
	"testing"
)

func TestTopLevel(t *testing.T) {
	cases := []struct {
		body, key, want string
		found           bool
	}{
		{`{"model":"gpt","stream":true}`, "model", `"gpt"`, true},
		{`{"model":"gpt","stream":true}`, "stream", `true`, true},
		{`{ "stream" : false , "model" : "x" }`, "stream", `false`, true},
		{`{"messages":[{"model":"inner"}],"model":"outer"}`, "model", `"outer"`, true},
		{`{"metadata":{"model":"inner"}}`, "model", ``, false},
		{`{"model":"a","model":"b"}`, "model", `"b"`, true}, // last wins, as encoding/json
		{`{"mo\u0064el":"esc"}`, "model", `"esc"`, true},
		{`{"x":"\"model\":1","model":2}`, "model", `2`, true},
		{`{"model":{"a":[1,{"b":"}"}]},"n":1}`, "model", `{"a":[1,{"b":"}"}]}`, true},
		{`{"model":null}`, "model", `null`, true},
		{`["model"]`, "model", ``, false},
	}
	for _, c := range cases {
		s, e, ok := TopLevel([]byte(c.body), c.key)
		got := ""
		if ok {
			got = c.body[s:e]
		}
		if ok != c.found || got != c.want {
			t.Errorf("TopLevel(%s, %q) = %q %v; want %q %v", c.body, c.key, got, ok, c.want, c.found)
		}
	}
}

func TestString(t *testing.T) {
	for raw, want := range map[string]string{`"abc"`: "abc", `"a\"b"`: `a"b`, `"\u00e9"`: "é"} {
		if got, ok := String([]byte(raw)); !ok || got != want {
			t.Errorf("String(%s) = %q %v", raw, got, ok)
		}
	}
	for _, raw := range []string{`1`, `null`, `{}`, ``} {
		if _, ok := String([]byte(raw)); ok {
			t.Errorf("String(%s) accepted a non-string", raw)
		}
	}
}

// FuzzTopLevel checks TopLevel against encoding/json's decoding of the
// top-level object.
func FuzzTopLevel(f *testing.F) {
	f.Add([]byte(`{"model":"a","x":{"model":"b"}}`))
	f.Add([]byte(`{"a":[1,"model",{"model":3}],"model":[true]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[string]json.RawMessage
		if !json.Valid(b) || json.Unmarshal(b, &m) != nil {
			return
		}
		want, has := m["model"]
		s, e, ok := TopLevel(b, "model")
		if ok != has {
			t.Fatalf("TopLevel(%q) found=%v, encoding/json says %v", b, ok, has)
		}
		if ok && !jsonEqual(b[s:e], want) {
			t.Fatalf("TopLevel(%q) = %q, encoding/json says %q", b, b[s:e], want)
		}
	})
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
