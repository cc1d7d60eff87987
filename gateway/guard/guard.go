// Package guard holds the request-body checks that run before anything else
// looks at a body: keys a client may never set, at any depth.
package guard

import (
	"encoding/json"

	"github.com/memproxy/memproxy/gateway/jsonscan"
)

// forbidden are the keys through which clients of other LLM proxies redirected
// the proxy's provider key to an address of their choosing (LiteLLM
// CVE-2024-6587, then bypassed by nesting the field in another object). The
// upstream address and credential come from the gateway's config only.
var forbidden = []string{"api_base", "base_url", "api_key", "azure_endpoint", "aws_secret_access_key"}

// maxKey is longer than any forbidden key; longer keys are not examined.
const maxKey = 64

// ForbiddenKey reports the first object key in body, at any depth, that a
// client may not set, matched without regard to case, '-' versus '_', and
// JSON string escapes. body must be valid JSON (check with json.Valid first).
func ForbiddenKey(body []byte) (string, bool) {
	var hit string
	found := jsonscan.Keys(body, func(quoted []byte, escaped bool) bool {
		name, ok := match(quoted, escaped)
		hit = name
		return ok
	})
	return hit, found
}

func match(quoted []byte, escaped bool) (string, bool) {
	raw := quoted[1 : len(quoted)-1]
	if escaped {
		if len(raw) > 6*maxKey { // room for every byte written as \uXXXX
			return "", false
		}
		var key string
		if json.Unmarshal(quoted, &key) != nil {
			return "", false
		}
		raw = []byte(key)
	}
	if len(raw) > maxKey {
		return "", false
	}
	for _, f := range forbidden {
		if sameKey(raw, f) {
			return string(raw), true
		}
	}
	return "", false
}

// sameKey compares k with the lower-case, underscore form f, folding ASCII
// case and treating '-' as '_'.
func sameKey(k []byte, f string) bool {
	if len(k) != len(f) {
		return false
	}
	for i, c := range k {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '-' {
			c = '_'
		}
		if c != f[i] {
			return false
		}
	}
	return true
}
