// Package redact removes secrets from text before it is stored or logged:
// API keys of the common providers, bearer tokens, private key blocks,
// passwords in URLs, and key=value credentials.
package redact

import "regexp"

// Mark replaces every secret.
const Mark = "[REDACTED]"

type rule struct {
	re   *regexp.Regexp
	repl string
}

// rules run in order; each keeps the non-secret context around the secret
// (a URL's scheme and host, a header's name) so the text stays readable.
var rules = []rule{
	{regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----`), Mark},
	{regexp.MustCompile(`\b(sk-ant-[A-Za-z0-9_\-]{16,}|sk-(?:proj-|svcacct-|mp-)?[A-Za-z0-9_\-]{20,}|sm_[A-Za-z0-9_\-]{16,})`), Mark},
	{regexp.MustCompile(`\b(AKIA|ASIA)[A-Z0-9]{16}\b`), Mark},
	{regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_\-]{20,}|xox[baprs]-[A-Za-z0-9\-]{10,})`), Mark},
	{regexp.MustCompile(`\bAIza[0-9A-Za-z_\-]{35}\b`), Mark},
	{regexp.MustCompile(`(?i)\b(bearer)\s+[A-Za-z0-9_\-\.=:/+]{16,}`), "$1 " + Mark},
	{regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+):[^\s@/]+@`), "$1:" + Mark + "@"},
	{regexp.MustCompile(`(?i)\b((?:api[_-]?key|secret|token|password|passwd|pwd|access[_-]?key)["']?\s*[:=]\s*["']?)[^\s"',;]{6,}`), "${1}" + Mark},
}

// String returns s with every secret replaced by Mark.
func String(s string) string {
	for _, r := range rules {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}
