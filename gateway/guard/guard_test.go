package guard

import (
	"encoding/json"
	"testing"
)

func TestForbiddenKey(t *testing.T) {
	cases := []struct {
		body string
		want string
	}{
		{`{"model":"m","messages":[]}`, ""},
		{`{"model":"m","api_base":"http://evil"}`, "api_base"},
		{`{"model":"m","metadata":{"deep":[{"base_url":"http://evil"}]}}`, "base_url"},
		{`{"model":"m","extra_body":{"API_KEY":"x"}}`, "API_KEY"},
		{`{"model":"m","x":{"api-key":"x"}}`, "api-key"},
		{`{"model":"m","x":{"api\u005fbase":"x"}}`, "api_base"},
		{`{"model":"m" , "litellm_params" : {"api_base" : "x"}}`, "api_base"},
		// The same words as values, not keys, are fine.
		{`{"model":"m","messages":[{"role":"user","content":"what is api_base?"}]}`, ""},
		{`{"model":"m","messages":[{"role":"user","content":"\"api_key\": leaked?"}]}`, ""},
		{`["api_key"]`, ""},
		{`{"\u0061\u0077\u0073\u005f\u0073\u0065\u0063\u0072\u0065\u0074\u005f\u0061\u0063\u0063\u0065\u0073\u0073\u005f\u006b\u0065\u0079":1}`, "aws_secret_access_key"},
	}
	for _, c := range cases {
		if !json.Valid([]byte(c.body)) {
			t.Fatalf("test body is not valid JSON: %s", c.body)
		}
		got, found := ForbiddenKey([]byte(c.body))
		if got != c.want || found != (c.want != "") {
			t.Errorf("ForbiddenKey(%s) = %q, %v; want %q", c.body, got, found, c.want)
		}
	}
}

// FuzzForbiddenKey checks the scanner against encoding/json's own view of
// which keys a document holds.
func FuzzForbiddenKey(f *testing.F) {
	f.Add([]byte(`{"a":{"api_base":"x"}}`))
	f.Add([]byte(`{"a":"\"api_key\":1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		_, want := hasForbidden(v)
		if _, got := ForbiddenKey(b); got != want {
			t.Fatalf("ForbiddenKey(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func hasForbidden(v any) (string, bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if len(k) <= maxKey {
				if _, ok := match([]byte(mustQuote(k)), true); ok {
					return k, true
				}
			}
			if k2, ok := hasForbidden(e); ok {
				return k2, ok
			}
		}
	case []any:
		for _, e := range x {
			if k, ok := hasForbidden(e); ok {
				return k, ok
			}
		}
	}
	return "", false
}

func mustQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
