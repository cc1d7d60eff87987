// Package guard holds the request-body checks that run before anything else
// looks at a body: keys a client may never set, at any depth.
package guard

import (
	"encoding/json"
	"strings"
)

// forbidden are the keys through which clients of other LLM proxies redirected
// the proxy's provider key to an address of their choosing (LiteLLM
// CVE-2024-6587, then bypassed by nesting the field in another object). The
// upstream address and credential come from the gateway's config only.
// maxKey is longer than any forbidden key; longer keys are not examined.
const maxKey = 64

var forbidden = []string{"api_base", "base_url", "api_key", "azure_endpoint", "aws_secret_access_key"}

// ForbiddenKey reports the first object key in body, at any depth, that a
// client may not set, matched without regard to case, '-' versus '_', and
// JSON string escapes. body must be valid JSON (check with json.Valid first).
func ForbiddenKey(body []byte) (string, bool) {
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		end, escaped := stringEnd(body, i)
		if end < 0 {
			return "", false
		}
		if isKey(body, end+1) {
			if name, ok := match(body[i:end+1], escaped); ok {
				return name, true
			}
		}
		i = end
	}
	return "", false
}

// stringEnd returns the index of the closing quote of the string opening at
// i, and whether it holds escapes; -1 if it is unterminated.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j, escaped
		}
	}
	return -1, escaped
}

// isKey reports whether the string that ended before j is an object key,
// that is, the next non-space byte is a colon.
func isKey(b []byte, j int) bool {
	for ; j < len(b); j++ {
		switch b[j] {
		case ' ', '\t', '\n', '\r':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

func match(quoted []byte, escaped bool) (string, bool) {
	raw := quoted[1 : len(quoted)-1]
	if len(raw) > 6*maxKey { // room for every byte written as \uXXXX
		return "", false
	}
	key := string(raw)
	if escaped {
		if json.Unmarshal(quoted, &key) != nil {
			return "", false
		}
	}
	norm := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	for _, f := range forbidden {
		if norm == f {
			return key, true
		}
	}
	return "", false
}
