package relay

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/memproxy/memproxy/gateway/jsonscan"
)

// maxSessionIDLen bounds a session id: longer values are not ids any coding
// client sends (theirs are UUIDs), so they are dropped, not cut.
const maxSessionIDLen = 128

// sessionHeaders are the request headers that carry a coding client's
// session id, in the order they are tried: Claude Code's (v2.1.86 and
// later), then Codex's session_id and its older conversation_id.
var sessionHeaders = []string{"X-Claude-Code-Session-Id", "session_id", "conversation_id"}

// sessionID returns the coding-session id the client sent with a request,
// or "" when it sent none. It looks, in order, at:
//
//   - the headers in sessionHeaders;
//   - the body's metadata.user_id as Claude Code fills it: a JSON string
//     {"device_id":…,"account_uuid":…,"session_id":…} (v2.1.78 and later)
//     or user_<hash>_account_<id>_session_<id> (before); other user_id
//     values are the client's own user ids, not sessions;
//   - the body's metadata.session_id, then metadata.conversation_id
//     (OpenAI's free-form request metadata).
//
// The OpenAI "user" field names an end user, not a session, and is not
// read. A value longer than maxSessionIDLen bytes or holding anything but
// printable ASCII is dropped and the next place is tried, so a client
// cannot write control bytes into the usage log through it.
func sessionID(h http.Header, body []byte) string {
	for _, name := range sessionHeaders {
		if id := cleanSessionID(h.Get(name)); id != "" {
			return id
		}
	}
	return bodySessionID(body)
}

// bodySessionID reads the session id from the body's metadata object; ""
// when body is not JSON or holds none. Validating a large body costs a few
// milliseconds a megabyte, and jsonscan needs valid JSON, so bodies that do
// not mention "metadata" (unescaped, as every client writes it) are not
// validated at all; Claude Code 2.1.86+ is answered from its header first.
func bodySessionID(body []byte) string {
	if !bytes.Contains(body, []byte(`"metadata"`)) || !json.Valid(body) {
		return ""
	}
	start, end, ok := jsonscan.TopLevel(body, "metadata")
	if !ok {
		return ""
	}
	var md map[string]json.RawMessage
	if json.Unmarshal(body[start:end], &md) != nil {
		return "" // metadata is not an object
	}
	if s, ok := jsonscan.String(md["user_id"]); ok {
		if id := cleanSessionID(claudeCodeSession(s)); id != "" {
			return id
		}
	}
	for _, k := range []string{"session_id", "conversation_id"} {
		if s, ok := jsonscan.String(md[k]); ok {
			if id := cleanSessionID(s); id != "" {
				return id
			}
		}
	}
	return ""
}

// claudeCodeSession extracts the session id from the metadata.user_id
// Claude Code sends; "" for any other user id.
func claudeCodeSession(userID string) string {
	if strings.HasPrefix(userID, "{") {
		var v struct {
			SessionID string `json:"session_id"`
		}
		if json.Unmarshal([]byte(userID), &v) != nil {
			return ""
		}
		return v.SessionID
	}
	if !strings.HasPrefix(userID, "user_") {
		return ""
	}
	if i := strings.LastIndex(userID, "_session_"); i >= 0 {
		return userID[i+len("_session_"):]
	}
	return ""
}

// cleanSessionID returns id if it is at most maxSessionIDLen bytes of
// printable ASCII, else "".
func cleanSessionID(id string) string {
	if len(id) > maxSessionIDLen {
		return ""
	}
	for i := range len(id) {
		if id[i] < 0x20 || id[i] > 0x7e {
			return ""
		}
	}
	return id
}
