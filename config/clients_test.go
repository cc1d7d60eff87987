package config

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func uaGetter(ua string) func(string) string {
	h := http.Header{}
	if ua != "" {
		h.Set("User-Agent", ua)
	}
	return h.Get
}

func TestDetectDefaults(t *testing.T) {
	tab, err := NewClientTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ua, name, pattern string }{
		{"OpenAIClientImpl/Java 0.34.1", "pycharm", `^OpenAIClientImpl/Java`},
		{"claude-cli/2.1.216 (external, cli)", "claude-code", `^claude-cli/`},
		{"claude-cli/2.0.0 (external, claude-vscode)", "claude-code", `^claude-cli/`},
		{"claude-code/2.1.45", "claude-code", `^claude-code/`},
		{"Claude Code CLI/1.0", "claude-code", `^Claude Code`},
		{"codex_cli_rs/0.132.0 (Windows 10.0.26100; x86_64) WindowsTerminal", "codex", `^(codex_cli_rs|codex_exec|codex_vscode|codex_tui|codex-tui)/`},
		{"codex_exec/0.125.0 (Mac OS 15.7.3; x86_64) ghostty/1.3.1", "codex", `^(codex_cli_rs|codex_exec|codex_vscode|codex_tui|codex-tui)/`},
		{"Continue/1.2.3 (vscode; extension)", "continue", `^Continue(-CLI)?/`},
		{"Continue-CLI/1.5.0", "continue", `^Continue(-CLI)?/`},
		{"Cursor/1.7", "cursor", `(?i)^cursor\b`},
		{"OpenAI/Python 1.99.0", "openai-python", `^(Async)?OpenAI/Python`},
		{"AsyncOpenAI/Python 1.99.0", "openai-python", `^(Async)?OpenAI/Python`},
		{"OpenAI/JS 5.1.0", "openai-js", `^OpenAI/JS`},
		{"OpenAI/Go 1.12.0", "openai-go", `^OpenAI/Go`},
		{"Anthropic/Python 0.82.0", "anthropic-python", `^(Async)?Anthropic/Python`},
		{"anthropic-sdk-python/0.5.0", "anthropic-python", `^anthropic-sdk-python`},
		{"Anthropic/JS 0.60.0", "anthropic-js", `^Anthropic/JS`},
		{"Anthropic/Go 1.4.0", "anthropic-go", `^Anthropic/Go`},
		{"curl/8.5.0", "curl", `^curl/`},
		{"Mozilla/5.0 (X11; Linux x86_64)", "unknown", ""},
		{"", "unknown", ""},
		{"my-claude-cli/1.0", "unknown", ""}, // patterns are anchored
	} {
		// Twice: the second call is served from the cache.
		for range 2 {
			name, pattern := tab.Detect(uaGetter(tc.ua))
			if name != tc.name || pattern != tc.pattern {
				t.Errorf("Detect(%q) = %q, %q; want %q, %q", tc.ua, name, pattern, tc.name, tc.pattern)
			}
		}
	}
}

func TestDetectExtraRulesFirst(t *testing.T) {
	tab, err := NewClientTable([]ClientRule{
		{Name: "my-pycharm", Pattern: `^OpenAIClientImpl/Java 0\.34`},
		{Name: "codex-desktop", Header: "Originator", Pattern: `^Codex Desktop$`},
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func(ua, originator string) func(string) string {
		h := http.Header{"User-Agent": {ua}, "Originator": {originator}}
		return h.Get
	}
	for _, tc := range []struct{ ua, originator, want string }{
		{"OpenAIClientImpl/Java 0.34.1", "", "my-pycharm"},
		{"OpenAIClientImpl/Java 0.40.0", "", "pycharm"},
		{"codex_cli_rs/0.125.0", "Codex Desktop", "codex-desktop"},
		{"codex_cli_rs/0.125.0", "codex_cli_rs", "codex"},
	} {
		if name, _ := tab.Detect(get(tc.ua, tc.originator)); name != tc.want {
			t.Errorf("Detect(%q, originator %q) = %q, want %q", tc.ua, tc.originator, name, tc.want)
		}
	}
}

func TestNewClientTableErrors(t *testing.T) {
	_, err := NewClientTable([]ClientRule{
		{Name: "ok", Pattern: "^ok/"},
		{Name: "broken", Pattern: "(["},
		{Name: "", Pattern: "x"},
		{Name: "nopattern"},
		{Name: "badheader", Header: "user agent", Pattern: "x"},
	})
	want := strings.Join([]string{
		"client rule 1 (\"broken\"): invalid pattern: error parsing regexp: missing closing ]: `[`",
		`client rule 2 (""): name is required`,
		`client rule 3 ("nopattern"): pattern is required`,
		`client rule 4 ("badheader"): invalid header name "user agent"`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("NewClientTable error:\n got %v\nwant %s", err, want)
	}
}

func TestDetectCacheBounded(t *testing.T) {
	tab, err := NewClientTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 * maxCacheSize {
		tab.Detect(uaGetter(fmt.Sprintf("curl/%d", i)))
	}
	if n := len(tab.cache); n == 0 || n > maxCacheSize {
		t.Errorf("cache holds %d entries, want 1..%d", n, maxCacheSize)
	}
	long := "curl/" + strings.Repeat("x", maxCachedValue)
	before := len(tab.cache)
	if name, _ := tab.Detect(uaGetter(long)); name != "curl" {
		t.Errorf("long UA detected as %q", name)
	}
	if len(tab.cache) != before {
		t.Error("an over-long header value was cached")
	}
}

func TestDetectConcurrent(t *testing.T) {
	tab, err := NewClientTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				ua := fmt.Sprintf("curl/%d", (g*500+i)%700)
				if name, _ := tab.Detect(uaGetter(ua)); name != "curl" {
					t.Errorf("Detect(%q) = %q", ua, name)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestDetectCachedDoesNotAllocate(t *testing.T) {
	tab, err := NewClientTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"User-Agent": {"claude-cli/2.1.216 (external, cli)"}}
	tab.Detect(h.Get)
	if n := testing.AllocsPerRun(100, func() { tab.Detect(h.Get) }); n != 0 {
		t.Errorf("cached Detect allocates %v times per call", n)
	}
}

func BenchmarkDetect(b *testing.B) {
	tab, err := NewClientTable(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cached", func(b *testing.B) {
		h := http.Header{"User-Agent": {"claude-cli/2.1.216 (external, cli)"}}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tab.Detect(h.Get)
			}
		})
	})
	b.Run("miss", func(b *testing.B) {
		uas := make([]http.Header, 4096)
		for i := range uas {
			uas[i] = http.Header{"User-Agent": {fmt.Sprintf("Mozilla/5.0 build %d", i)}}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tab.Detect(uas[i%len(uas)].Get)
			i++
		}
	})
}
