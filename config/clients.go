package config

import (
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"sync"
)

// UnknownClient is the name Detect returns when no rule matches.
const UnknownClient = "unknown"

// ClientRule names the client that sent a request when the request's Header
// matches Pattern.
type ClientRule struct {
	Name    string `yaml:"name"`
	Header  string `yaml:"header"`  // default "user-agent"; case-insensitive
	Pattern string `yaml:"pattern"` // Go regexp, matched against the header's value
}

// DefaultClientRules returns the built-in rules, most specific first. User
// agents were checked against the clients' sources or captured traffic where
// public (cited per rule); edit with care, the names end up in usage rows.
func DefaultClientRules() []ClientRule {
	return []ClientRule{
		// JetBrains AI Assistant (PyCharm etc.) calls through the openai-java
		// SDK, whose Stainless-generated UA is "OpenAIClientImpl/Java <ver>"
		// (seed config; openai-java wire tests). Other openai-java apps look
		// the same.
		{Name: "pycharm", Pattern: `^OpenAIClientImpl/Java`},
		// Claude Code: "claude-cli/<ver> (external, cli)" for API calls,
		// "claude-code/<ver>" for its other HTTP requests
		// (anthropics/claude-code#80191, griffinmartin/opencode-claude-auth#109).
		{Name: "claude-code", Pattern: `^claude-cli/`},
		{Name: "claude-code", Pattern: `^claude-code/`},
		{Name: "claude-code", Pattern: `^Claude Code`}, // seed config
		// Codex: UA is "<originator>/<ver> (<os>; <arch>) <terminal>" with
		// originator codex_cli_rs by default (openai/codex
		// codex-rs/core/src/default_client.rs), codex_exec for `codex exec`,
		// codex_vscode for the extension; codex_tui briefly (openai/codex#16116).
		{Name: "codex", Pattern: `^(codex_cli_rs|codex_exec|codex_vscode|codex_tui|codex-tui)/`},
		// Continue: "Continue/<ver> (<ide>; <type>)" from the IDE extensions,
		// "Continue-CLI/<ver>" from the CLI (continuedev/continue#8532).
		{Name: "continue", Pattern: `^Continue(-CLI)?/`},
		// Cursor calls a custom OpenAI base URL from its own servers; its UA
		// is not documented. Best effort.
		{Name: "cursor", Pattern: `(?i)^cursor\b`},
		// Stainless-generated SDKs: "<Client>/<Lang> <ver>"; the async Python
		// clients say AsyncOpenAI / AsyncAnthropic.
		{Name: "openai-python", Pattern: `^(Async)?OpenAI/Python`},
		{Name: "openai-js", Pattern: `^OpenAI/JS`},
		{Name: "openai-go", Pattern: `^OpenAI/Go`},
		{Name: "anthropic-python", Pattern: `^(Async)?Anthropic/Python`},
		{Name: "anthropic-python", Pattern: `^anthropic-sdk-python`}, // seed config
		{Name: "anthropic-js", Pattern: `^Anthropic/JS`},
		{Name: "anthropic-go", Pattern: `^Anthropic/Go`},
		{Name: "curl", Pattern: `^curl/`},
	}
}

// Bounds of the Detect cache.
const (
	maxKeyHeaders  = 4    // distinct headers a cache key can hold
	maxCacheSize   = 1024 // entries; the cache is cleared when full
	maxCachedValue = 512  // longer header values are matched but not cached
)

type cacheKey [maxKeyHeaders]string

type compiledRule struct {
	ClientRule
	re  *regexp.Regexp
	hdr int // index into ClientTable.headers
}

// ClientTable detects the client of a request from its headers. It is safe
// for concurrent use.
type ClientTable struct {
	rules   []compiledRule
	headers []string // distinct header names, canonical MIME form

	mu    sync.RWMutex
	cache map[cacheKey]int // header values -> rule index, -1 for no match
}

// NewClientTable compiles extra (checked first) followed by
// DefaultClientRules. A rule without a Name or Pattern, or with an invalid
// Pattern, is an error naming the rule; all such errors are returned joined.
func NewClientTable(extra []ClientRule) (*ClientTable, error) {
	t := &ClientTable{cache: make(map[cacheKey]int)}
	var errs []error
	for i, r := range extra {
		c, err := compileRule(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("client rule %d (%q): %w", i, r.Name, err))
			continue
		}
		t.add(c)
	}
	for _, r := range DefaultClientRules() {
		c, err := compileRule(r)
		if err != nil {
			panic(fmt.Sprintf("config: default client rule %q: %v", r.Name, err))
		}
		t.add(c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

func compileRule(r ClientRule) (compiledRule, error) {
	if r.Name == "" {
		return compiledRule{}, errors.New("name is required")
	}
	if r.Pattern == "" {
		return compiledRule{}, errors.New("pattern is required")
	}
	if r.Header == "" {
		r.Header = "user-agent"
	}
	if !validHeaderName(r.Header) {
		return compiledRule{}, fmt.Errorf("invalid header name %q", r.Header)
	}
	re, err := regexp.Compile(r.Pattern)
	if err != nil {
		return compiledRule{}, fmt.Errorf("invalid pattern: %w", err)
	}
	return compiledRule{ClientRule: r, re: re}, nil
}

func (t *ClientTable) add(c compiledRule) {
	h := textproto.CanonicalMIMEHeaderKey(c.Header)
	c.hdr = -1
	for i, x := range t.headers {
		if x == h {
			c.hdr = i
		}
	}
	if c.hdr < 0 {
		c.hdr = len(t.headers)
		t.headers = append(t.headers, h)
	}
	t.rules = append(t.rules, c)
}

// Detect returns the Name and Pattern of the first rule whose header value
// matches, or (UnknownClient, "") when none does. get returns a request
// header's value by name; it is called with canonical MIME names
// ("User-Agent"), as http.Header.Get expects, at most once per distinct
// header. Results are cached per header values, so the common case costs a
// map lookup and no allocation.
func (t *ClientTable) Detect(get func(name string) string) (name, pattern string) {
	if t == nil {
		return UnknownClient, ""
	}
	var key cacheKey
	vals := key[:]
	cacheable := len(t.headers) <= maxKeyHeaders
	if !cacheable {
		vals = make([]string, len(t.headers))
	}
	for i, h := range t.headers {
		vals[i] = get(h)
		if len(vals[i]) > maxCachedValue {
			cacheable = false
		}
	}
	if cacheable {
		t.mu.RLock()
		i, ok := t.cache[key]
		t.mu.RUnlock()
		if ok {
			return t.result(i)
		}
	}
	i := -1
	for j := range t.rules {
		if r := &t.rules[j]; r.re.MatchString(vals[r.hdr]) {
			i = j
			break
		}
	}
	if cacheable {
		t.mu.Lock()
		if len(t.cache) >= maxCacheSize {
			clear(t.cache)
		}
		t.cache[key] = i
		t.mu.Unlock()
	}
	return t.result(i)
}

func (t *ClientTable) result(i int) (string, string) {
	if i < 0 {
		return UnknownClient, ""
	}
	return t.rules[i].Name, t.rules[i].Pattern
}
