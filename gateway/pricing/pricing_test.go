package pricing

import (
	"math"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/llm"
)

// perMillion is a price as the providers publish it: USD per 1M tokens,
// input, cache read, cache write, output.
type perMillion [4]float64

// published restates the pricing pages (see prices.json's sources) in
// their own unit, so that a slip in prices.json's exponents shows up here.
var published = map[[2]string]perMillion{
	{"openai", "gpt-4o"}:                     {2.50, 1.25, 2.50, 10},
	{"openai", "gpt-4o-2024-05-13"}:          {5, 5, 5, 15},
	{"openai", "gpt-4o-mini"}:                {0.15, 0.075, 0.15, 0.60},
	{"openai", "gpt-4.1"}:                    {2, 0.50, 2, 8},
	{"openai", "gpt-4.1-mini"}:               {0.40, 0.10, 0.40, 1.60},
	{"openai", "gpt-4.1-nano"}:               {0.10, 0.025, 0.10, 0.40},
	{"openai", "o3"}:                         {2, 0.50, 2, 8},
	{"openai", "o4-mini"}:                    {1.10, 0.275, 1.10, 4.40},
	{"openai", "gpt-5"}:                      {1.25, 0.125, 1.25, 10},
	{"openai", "gpt-5-mini"}:                 {0.25, 0.025, 0.25, 2},
	{"openai", "gpt-5-nano"}:                 {0.05, 0.005, 0.05, 0.40},
	{"openai", "gpt-5-codex"}:                {1.25, 0.125, 1.25, 10},
	{"openai", "gpt-5-pro"}:                  {15, 15, 15, 120},
	{"openai", "gpt-5.1"}:                    {1.25, 0.125, 1.25, 10},
	{"openai", "gpt-5.1-codex"}:              {1.25, 0.125, 1.25, 10},
	{"anthropic", "claude-opus-4-6"}:         {5, 0.50, 6.25, 25},
	{"anthropic", "claude-opus-4-5"}:         {5, 0.50, 6.25, 25},
	{"anthropic", "claude-opus-4-1"}:         {15, 1.50, 18.75, 75},
	{"anthropic", "claude-opus-4"}:           {15, 1.50, 18.75, 75},
	{"anthropic", "claude-opus-4-0"}:         {15, 1.50, 18.75, 75},
	{"anthropic", "claude-sonnet-4-6"}:       {3, 0.30, 3.75, 15},
	{"anthropic", "claude-sonnet-4-5"}:       {3, 0.30, 3.75, 15},
	{"anthropic", "claude-sonnet-4"}:         {3, 0.30, 3.75, 15},
	{"anthropic", "claude-sonnet-4-0"}:       {3, 0.30, 3.75, 15},
	{"anthropic", "claude-haiku-4-5"}:        {1, 0.10, 1.25, 5},
	{"anthropic", "claude-3-5-haiku"}:        {0.80, 0.08, 1, 4},
	{"anthropic", "claude-3-5-haiku-latest"}: {0.80, 0.08, 1, 4},
	{"gemini", "gemini-2.5-pro"}:             {1.25, 0.125, 1.25, 10},
	{"gemini", "gemini-2.5-flash"}:           {0.30, 0.03, 0.30, 2.50},
	{"gemini", "gemini-2.5-flash-lite"}:      {0.10, 0.01, 0.10, 0.40},
	{"gemini", "gemini-3-pro-preview"}:       {2, 0.20, 2, 12},
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

func TestDefault(t *testing.T) {
	d := Default()
	if d != Default() {
		t.Error("Default returns a new table each call")
	}
	for k, w := range published {
		p, ok := d.Lookup("", k[0], k[1])
		if !ok {
			t.Errorf("%s/%s: not in the table", k[0], k[1])
			continue
		}
		got := perMillion{p.Input * 1e6, p.CacheRead * 1e6, p.CacheWrite * 1e6, p.Output * 1e6}
		for i := range w {
			if !near(got[i], w[i]) {
				t.Errorf("%s/%s: per 1M tokens %v, want %v (input, cache read, cache write, output)", k[0], k[1], got, w)
				break
			}
		}
	}
	if n := len(d.models); n != len(published) {
		t.Errorf("table has %d names, the test knows %d: add the new ones to published", n, len(published))
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		provider, upstream string
		want               string // the entry whose price it gets; "" for none
	}{
		{"openai", "gpt-4o-2024-08-06", "gpt-4o"},
		{"openai", "gpt-4o-2024-05-13", "gpt-4o-2024-05-13"}, // a snapshot priced apart wins
		{"openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"},
		{"openai", "o3-2025-04-16", "o3"},
		{"openai", "GPT-5-2025-08-07", "gpt-5"},
		{"openai", "gpt-5-chat-latest", ""},
		{"openai", "gpt-4o-realtime-preview", ""},
		{"anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"anthropic", "claude-sonnet-4-5@20250929", "claude-sonnet-4-5"},
		{"anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4"},
		{"anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1"},
		{"anthropic", "claude-3-5-haiku-20241022", "claude-3-5-haiku"},
		{"anthropic", "claude-sonnet-4-0", "claude-sonnet-4-0"},
		{"anthropic", "claude-3-opus-20240229", ""},
		{"gemini", "models/gemini-2.5-flash", "gemini-2.5-flash"},
		{"gemini", "gemini-2.5-flash-preview-09-2025", ""},
		// The price is the provider's: the same name elsewhere is unknown.
		{"openrouter", "gpt-4o", ""},
		{"openai", "claude-sonnet-4-5", ""},
		{"", "gpt-4o", ""},
		{"openai", "", ""},
	}
	d := Default()
	for _, tc := range tests {
		got, ok := d.Lookup("public-name", tc.provider, tc.upstream)
		if tc.want == "" {
			if ok {
				t.Errorf("Lookup(%s, %s) = %+v; want no price", tc.provider, tc.upstream, got)
			}
			continue
		}
		want := d.models[key{tc.provider, tc.want}]
		if !ok || got != want {
			t.Errorf("Lookup(%s, %s) = %+v, %v; want %s's %+v", tc.provider, tc.upstream, got, ok, tc.want, want)
		}
	}
}

func TestCost(t *testing.T) {
	sonnet := Price{Input: 3e-6, Output: 15e-6, CacheRead: 0.3e-6, CacheWrite: 3.75e-6}
	tests := []struct {
		name string
		p    Price
		u    llm.Usage
		want float64
	}{
		{"nothing", sonnet, llm.Usage{}, 0},
		// Anthropic: 95 plain input, 200 written, 1800 read, 503 out.
		{"cache read and write", sonnet, llm.Usage{PromptTokens: 2095, CachedTokens: 1800, CacheWriteTokens: 200, CompletionTokens: 503},
			95*3e-6 + 1800*0.3e-6 + 200*3.75e-6 + 503*15e-6},
		// Reasoning tokens are part of the completion, not extra.
		{"reasoning", Price{Input: 2e-6, Output: 8e-6, CacheRead: 0.5e-6, CacheWrite: 2e-6},
			llm.Usage{PromptTokens: 1000, CachedTokens: 400, CompletionTokens: 300, ReasoningTokens: 250},
			600*2e-6 + 400*0.5e-6 + 300*8e-6},
		{"more cached than prompt", sonnet, llm.Usage{PromptTokens: 10, CachedTokens: 20}, 20 * 0.3e-6},
		{"free model", Price{}, llm.Usage{PromptTokens: 1e6, CompletionTokens: 1e6}, 0},
	}
	for _, tc := range tests {
		if got := tc.p.Cost(tc.u); !near(got, tc.want) {
			t.Errorf("%s: Cost = %.12g, want %.12g", tc.name, got, tc.want)
		}
	}

	// Through the table: a million tokens of each kind on claude-haiku-4-5
	// is the sum of its published per-million prices.
	u := llm.Usage{PromptTokens: 3e6, CachedTokens: 1e6, CacheWriteTokens: 1e6, CompletionTokens: 1e6}
	if got, ok := Default().Cost("haiku", "anthropic", "claude-haiku-4-5-20251001", u); !ok || !near(got, 1+0.10+1.25+5) {
		t.Errorf("Cost(claude-haiku-4-5-20251001) = %v, %v; want 7.35, true", got, ok)
	}
	if got, ok := Default().Cost("x", "openai", "gpt-unknown", u); ok || got != 0 {
		t.Errorf("Cost of an unknown model = %v, %v; want 0, false", got, ok)
	}
	var none *Table
	if _, ok := none.Cost("m", "openai", "gpt-4o", u); ok {
		t.Error("a nil table priced a request")
	}
}

func TestWith(t *testing.T) {
	d := Default()
	local := Price{} // a free local model
	cheap := Price{Input: 1e-6, Output: 2e-6, CacheRead: 1e-6, CacheWrite: 1e-6}
	o := d.With(map[string]Price{"local": local, "gpt": cheap})
	if p, ok := o.Lookup("local", "ollama", "llama3"); !ok || p != local {
		t.Errorf("override of an unknown upstream = %+v, %v; want the free price", p, ok)
	}
	if p, ok := o.Lookup("gpt", "openai", "gpt-4o"); !ok || p != cheap {
		t.Errorf("override by public name = %+v, %v; want it ahead of the table's gpt-4o", p, ok)
	}
	if p, _ := o.Lookup("other", "openai", "gpt-4o"); p != d.models[key{"openai", "gpt-4o"}] {
		t.Errorf("another public name on gpt-4o = %+v; want the table's price", p)
	}
	if _, ok := d.Lookup("local", "ollama", "llama3"); ok {
		t.Error("With changed the table it was called on")
	}
	again := o.With(map[string]Price{"gpt": local})
	if p, _ := again.Lookup("gpt", "openai", "gpt-4o"); p != local {
		t.Errorf("a second override of gpt = %+v; want it to replace the first", p)
	}
	if p, ok := again.Lookup("local", "ollama", "llama3"); !ok || p != local {
		t.Errorf("a second With lost the first's overrides: %+v, %v", p, ok)
	}
	var none *Table
	if p, ok := none.With(map[string]Price{"m": cheap}).Lookup("m", "", ""); !ok || p != cheap {
		t.Errorf("With on a nil table = %+v, %v", p, ok)
	}
}

func TestParseRejects(t *testing.T) {
	const src = `"sources":[{"provider":"p","url":"https://example.com","checked":"2026-01-01"}]`
	ok := `{"unit":"USD per token",` + src + `,"models":[{"provider":"p","model":"m","input_cost_per_token":1e-6,"output_cost_per_token":2e-6}]}`
	tab, err := parse([]byte(ok))
	if err != nil {
		t.Fatalf("parse(valid) = %v", err)
	}
	if p := tab.models[key{"p", "m"}]; p != (Price{Input: 1e-6, Output: 2e-6, CacheRead: 1e-6, CacheWrite: 1e-6}) {
		t.Errorf("unlisted cache prices: %+v; want the input price", p)
	}
	tests := []struct{ name, json, want string }{
		{"unit", `{"unit":"USD per 1M tokens",` + src + `,"models":[]}`, "unit"},
		{"unknown field", `{"unit":"USD per token",` + src + `,"models":[{"provider":"p","model":"m","input":1}]}`, "unknown field"},
		{"no output", `{"unit":"USD per token",` + src + `,"models":[{"provider":"p","model":"m","input_cost_per_token":1e-6}]}`, "required"},
		{"negative", `{"unit":"USD per token",` + src + `,"models":[{"provider":"p","model":"m","input_cost_per_token":1e-6,"output_cost_per_token":-1}]}`, "non-negative"},
		{"no source", `{"unit":"USD per token",` + src + `,"models":[{"provider":"q","model":"m","input_cost_per_token":0,"output_cost_per_token":0}]}`, "no source"},
		{"duplicate", `{"unit":"USD per token",` + src + `,"models":[{"provider":"p","model":"m","aliases":["m"],"input_cost_per_token":0,"output_cost_per_token":0}]}`, "twice"},
		{"upper case", `{"unit":"USD per token",` + src + `,"models":[{"provider":"p","model":"M","input_cost_per_token":0,"output_cost_per_token":0}]}`, "lower case"},
		{"source without url", `{"unit":"USD per token","sources":[{"provider":"p","checked":"x"}],"models":[]}`, "https"},
	}
	for _, tc := range tests {
		if _, err := parse([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: parse error %v; want one mentioning %q", tc.name, err, tc.want)
		}
	}
}
