package relay

import (
	"net/http"
	"strings"
	"testing"
)

func TestSessionID(t *testing.T) {
	const uuid = "54c1eb09-bc4c-4d2f-98eb-6d2ab2d5e2fe"
	// What Claude Code 2.1.78+ puts in metadata.user_id: JSON in a string.
	claudeJSON := `{"model":"claude-sonnet-4-5","metadata":{"user_id":"{\"device_id\":\"d41d8cd98f00b204e9800998ecf8427e\",\"account_uuid\":\"\",\"session_id\":\"` + uuid + `\"}"},"messages":[]}`
	// What it sent before.
	claudeLegacy := `{"metadata":{"user_id":"user_2f0a9c1e5b7d4e3f8a6b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f_account__session_` + uuid + `"}}`
	long := strings.Repeat("a", maxSessionIDLen)

	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    string
		want    string
	}{
		{"nothing", nil, `{"model":"gpt-4o","messages":[]}`, ""},
		{"no body", nil, "", ""},
		{"claude code header", map[string]string{"X-Claude-Code-Session-Id": uuid}, `{}`, uuid},
		{"header name in any case", map[string]string{"x-claude-code-session-id": uuid}, ``, uuid},
		{"claude code metadata JSON", nil, claudeJSON, uuid},
		{"claude code metadata legacy", nil, claudeLegacy, uuid},
		{"header wins over body", map[string]string{"X-Claude-Code-Session-Id": "from-header"}, claudeJSON, "from-header"},
		{"codex session_id", map[string]string{"session_id": "0199a213-81c0-7800-8aa1-bbab2a035a53"}, `{"input":[]}`, "0199a213-81c0-7800-8aa1-bbab2a035a53"},
		{"codex conversation_id", map[string]string{"conversation_id": "conv-1"}, ``, "conv-1"},
		{"session_id before conversation_id", map[string]string{"conversation_id": "c", "session_id": "s"}, ``, "s"},
		{"openai metadata.session_id", nil, `{"metadata":{"session_id":"s-42","team":"x"}}`, "s-42"},
		{"openai metadata.conversation_id", nil, `{"metadata":{"conversation_id":"c-7"}}`, "c-7"},
		{"claude user_id before metadata.session_id", nil, `{"metadata":{"session_id":"other","user_id":"{\"session_id\":\"` + uuid + `\"}"}}`, uuid},
		{"escaped metadata value", nil, `{"metadata":{"session_id":"s\u002d1"}}`, "s-1"},

		// Not sessions.
		{"openai user is an end user", nil, `{"user":"alice","messages":[]}`, ""},
		{"anthropic user_id of another client", nil, `{"metadata":{"user_id":"alice@example.com"}}`, ""},
		{"user_id JSON without a session", nil, `{"metadata":{"user_id":"{\"device_id\":\"d\"}"}}`, ""},
		{"user_id not JSON", nil, `{"metadata":{"user_id":"{oops"}}`, ""},
		{"user_id not a string", nil, `{"metadata":{"user_id":{"session_id":"s"}}}`, ""},
		{"session_id not a string", nil, `{"metadata":{"session_id":42}}`, ""},
		{"metadata not an object", nil, `{"metadata":"s"}`, ""},
		{"metadata null", nil, `{"metadata":null}`, ""},
		{"nested metadata only", nil, `{"messages":[{"metadata":{"session_id":"s"}}]}`, ""},
		{"escaped metadata key is not looked for", nil, `{"\u006detadata":{"session_id":"s"}}`, ""},
		{"invalid JSON", nil, `{"metadata":{"session_id":"s"}`, ""},
		{"unterminated string", nil, `{"metadata":{"session_id":"s`, ""},

		// Values are capped and must be printable ASCII; a dropped one
		// lets the next place answer.
		{"at the cap", map[string]string{"session_id": long}, ``, long},
		{"over the cap", map[string]string{"session_id": long + "b"}, ``, ""},
		{"control byte", nil, `{"metadata":{"session_id":"a\u0007b"}}`, ""},
		{"newline", nil, `{"metadata":{"session_id":"a\nb"}}`, ""},
		{"non-ASCII", nil, `{"metadata":{"session_id":"sessão"}}`, ""},
		{"DEL", nil, `{"metadata":{"session_id":"a\u007f"}}`, ""},
		{"spaces and punctuation are printable", nil, `{"metadata":{"session_id":"a b:c/d~"}}`, "a b:c/d~"},
		{"bad header falls through to body", map[string]string{"X-Claude-Code-Session-Id": "bad\x01"}, claudeJSON, uuid},
		{"bad claude id falls through", nil, `{"metadata":{"user_id":"{\"session_id\":\"` + long + `x\"}","session_id":"ok"}}`, "ok"},
		{"empty header falls through", map[string]string{"session_id": ""}, `{"metadata":{"session_id":"b"}}`, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			if got := sessionID(h, []byte(tc.body)); got != tc.want {
				t.Errorf("sessionID = %q; want %q", got, tc.want)
			}
		})
	}
}

// TestSessionIDRawHeaders checks the header names as a server stores them:
// Go canonicalises session_id to Session_id, which Get finds.
func TestSessionIDRawHeaders(t *testing.T) {
	h := http.Header{"Session_id": {"s-1"}}
	if got := sessionID(h, nil); got != "s-1" {
		t.Errorf("sessionID = %q; want s-1", got)
	}
}

func BenchmarkSessionIDLargeBody(b *testing.B) {
	body := []byte(`{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"` + strings.Repeat("x", 1<<20) +
		`"}],"metadata":{"user_id":"{\"session_id\":\"54c1eb09-bc4c-4d2f-98eb-6d2ab2d5e2fe\"}"}}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if sessionID(http.Header{}, body) == "" {
			b.Fatal("no session")
		}
	}
}
