// Package pricing turns a request's token usage into US dollars: an
// embedded table of the providers' published prices (prices.json, with its
// sources and the date they were checked), per-deployment overrides from
// the config, and the cost formula. It does no I/O.
//
// A model the table does not know is unpriced, never free: Cost reports
// ok=false and the caller records the cost as NULL.
package pricing

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"strings"
	"sync"

	"github.com/memproxy/memproxy/gateway/llm"
)

// Price is what one token costs, in US dollars, by kind.
type Price struct {
	// Input is an uncached prompt token.
	Input float64
	// Output is a completion token, reasoning tokens included.
	Output float64
	// CacheRead is a prompt token read from the provider's cache.
	CacheRead float64
	// CacheWrite is a prompt token written to the provider's cache
	// (Anthropic's 5-minute cache write).
	CacheWrite float64
}

// Cost is what u costs at p:
//
//	(prompt − cached − cacheWrite)·Input + cached·CacheRead +
//	cacheWrite·CacheWrite + completion·Output
//
// Reasoning tokens are part of the completion and cost no extra. Should a
// provider report more cached and written tokens than prompt tokens, the
// uncached part counts as zero rather than negative.
func (p Price) Cost(u llm.Usage) float64 {
	uncached := max(u.PromptTokens-u.CachedTokens-u.CacheWriteTokens, 0)
	return float64(uncached)*p.Input + float64(u.CachedTokens)*p.CacheRead +
		float64(u.CacheWriteTokens)*p.CacheWrite + float64(u.CompletionTokens)*p.Output
}

// Table finds the price of a request's model. It is immutable and safe for
// concurrent use; a nil *Table knows no prices.
type Table struct {
	models    map[key]Price    // provider and lower-case upstream name (aliases included)
	overrides map[string]Price // public model name
}

type key struct{ provider, model string }

//go:embed prices.json
var pricesJSON []byte

var defaultTable = sync.OnceValue(func() *Table {
	t, err := parse(pricesJSON)
	if err != nil {
		panic("pricing: embedded prices.json: " + err.Error()) // caught by TestDefault
	}
	return t
})

// Default returns the table of the embedded prices.json. Every call returns
// the same table.
func Default() *Table { return defaultTable() }

// With returns a table that prices the public model names in overrides
// (model_list[].model_name) at the given prices, ahead of the provider's
// price for the upstream model, and otherwise as t does. t is unchanged.
// An override for a name t already overrides replaces it. The prices are
// used as given; config.Parse validates configured ones.
func (t *Table) With(overrides map[string]Price) *Table {
	n := &Table{overrides: map[string]Price{}}
	if t != nil {
		n.models = t.models
		maps.Copy(n.overrides, t.overrides)
	}
	maps.Copy(n.overrides, overrides)
	return n
}

// Lookup returns the price of a request for the public model name model,
// served by provider (the LiteLLM provider name, e.g. "openai",
// "anthropic", "gemini") as upstreamModel: an override for model first,
// then the table's entry for upstreamModel, then for upstreamModel without
// a date suffix (gpt-4o-2024-08-06 is priced as gpt-4o,
// claude-sonnet-4-5-20250929 and claude-sonnet-4-5@20250929 as
// claude-sonnet-4-5). Names are compared case-insensitively; a "models/"
// prefix (Gemini's resource names) is ignored. ok is false when no price is
// known.
func (t *Table) Lookup(model, provider, upstreamModel string) (p Price, ok bool) {
	if t == nil {
		return Price{}, false
	}
	if p, ok := t.overrides[model]; ok {
		return p, true
	}
	if provider == "" || upstreamModel == "" {
		return Price{}, false
	}
	name := strings.ToLower(strings.TrimPrefix(upstreamModel, "models/"))
	if p, ok := t.models[key{provider, name}]; ok {
		return p, true
	}
	if !endsInDigit(name) { // no snapshot date: skip the regexp on the hot path
		return Price{}, false
	}
	if base := dateSuffix.ReplaceAllString(name, ""); base != name {
		p, ok := t.models[key{provider, base}]
		return p, ok
	}
	return Price{}, false
}

func endsInDigit(s string) bool { return s != "" && s[len(s)-1] >= '0' && s[len(s)-1] <= '9' }

// dateSuffix matches the snapshot dates providers append to model names:
// OpenAI's -2024-08-06, Anthropic's -20250929 and Vertex AI's @20250929.
var dateSuffix = regexp.MustCompile(`(?:-\d{4}-\d{2}-\d{2}|[-@]\d{8})$`)

// Cost returns what usage u of a request costs (see Lookup for the
// arguments and Price.Cost for the formula). ok is false when no price is
// known; the caller then records the cost as unknown, never as 0.
func (t *Table) Cost(model, provider, upstreamModel string, u llm.Usage) (cost float64, ok bool) {
	p, ok := t.Lookup(model, provider, upstreamModel)
	if !ok {
		return 0, false
	}
	return p.Cost(u), true
}

// file is the shape of prices.json.
type file struct {
	Comment string `json:"comment"`
	Unit    string `json:"unit"`
	Sources []struct {
		Provider string `json:"provider"`
		URL      string `json:"url"`
		Checked  string `json:"checked"`
		Note     string `json:"note"`
	} `json:"sources"`
	Models []struct {
		Provider   string   `json:"provider"`
		Model      string   `json:"model"`
		Aliases    []string `json:"aliases"`
		Input      *float64 `json:"input_cost_per_token"`
		Output     *float64 `json:"output_cost_per_token"`
		CacheRead  *float64 `json:"cache_read_input_token_cost"`
		CacheWrite *float64 `json:"cache_creation_input_token_cost"`
	} `json:"models"`
}

// parse reads a price file strictly: unknown fields, a provider without a
// source, missing or negative prices and duplicate names are errors. A
// cache price left out is the input price.
func parse(data []byte) (*Table, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if f.Unit != "USD per token" {
		return nil, fmt.Errorf("unit %q, want %q", f.Unit, "USD per token")
	}
	sourced := map[string]bool{}
	for _, s := range f.Sources {
		if s.Provider == "" || !strings.HasPrefix(s.URL, "https://") || s.Checked == "" {
			return nil, fmt.Errorf("source %+v: provider, https URL and checked date are required", s)
		}
		sourced[s.Provider] = true
	}
	t := &Table{models: map[key]Price{}}
	var errs []error
	for _, m := range f.Models {
		if !sourced[m.Provider] {
			errs = append(errs, fmt.Errorf("%s/%s: provider has no source", m.Provider, m.Model))
		}
		if m.Input == nil || m.Output == nil {
			errs = append(errs, fmt.Errorf("%s/%s: input and output prices are required", m.Provider, m.Model))
			continue
		}
		p := Price{Input: *m.Input, Output: *m.Output, CacheRead: *m.Input, CacheWrite: *m.Input}
		if m.CacheRead != nil {
			p.CacheRead = *m.CacheRead
		}
		if m.CacheWrite != nil {
			p.CacheWrite = *m.CacheWrite
		}
		for _, v := range []float64{p.Input, p.Output, p.CacheRead, p.CacheWrite} {
			if v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				errs = append(errs, fmt.Errorf("%s/%s: price %v is not a non-negative number", m.Provider, m.Model, v))
			}
		}
		for _, name := range append([]string{m.Model}, m.Aliases...) {
			k := key{m.Provider, name}
			if name == "" || name != strings.ToLower(name) {
				errs = append(errs, fmt.Errorf("%s/%q: model names must be non-empty and lower case", m.Provider, name))
			} else if _, dup := t.models[k]; dup {
				errs = append(errs, fmt.Errorf("%s/%s: listed twice", m.Provider, name))
			}
			t.models[k] = p
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}
