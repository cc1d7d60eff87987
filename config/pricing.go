package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Price is a deployment's price in US dollars per token, configured with
// LiteLLM's custom-pricing keys in model_list[].litellm_params or
// model_list[].model_info. A price is all or nothing: once any key is set,
// input_cost_per_token and output_cost_per_token are required, so that a
// deployment is never priced from half a price.
type Price struct {
	Input  float64 // input_cost_per_token: an uncached prompt token
	Output float64 // output_cost_per_token: a completion token, reasoning included
	// CacheRead is cache_read_input_token_cost, a prompt token read from
	// the provider's cache; Input when not set.
	CacheRead float64
	// CacheWrite is cache_creation_input_token_cost, a prompt token
	// written to the provider's cache; Input when not set.
	CacheWrite float64
}

// costKeys are LiteLLM's per-token price keys, in the order of Price's
// fields.
var costKeys = [4]string{"input_cost_per_token", "output_cost_per_token",
	"cache_read_input_token_cost", "cache_creation_input_token_cost"}

// resolvePrice fills m.Price from the cost keys of litellm_params and
// model_info, reporting problems under p (the deployment's display path).
// A key may be set in both places only to the same value.
func (d *decoder) resolvePrice(m *Deployment, p string) {
	lp := &m.Params
	params := [4]*float64{lp.InputCostPerToken, lp.OutputCostPerToken, lp.CacheReadInputTokenCost, lp.CacheCreationInputTokenCost}
	var vals [4]*float64
	var given [4]bool // set, validly or not
	var at [4]string  // where each value was set, for messages
	first := ""       // the first key set, for messages
	for i, k := range costKeys {
		pk, ik := p+".litellm_params."+k, p+".model_info."+k
		if params[i] != nil {
			vals[i], at[i] = params[i], pk
		}
		given[i] = params[i] != nil
		if raw, ok := m.ModelInfo[k]; ok && raw != nil {
			given[i] = true
			f, ok := number(raw)
			switch {
			case !ok:
				d.fail(ik, "expected a number of US dollars per token, got %s", describeValue(raw))
			case vals[i] == nil:
				vals[i], at[i] = &f, ik
			case *vals[i] != f:
				d.fail(ik, "%v differs from litellm_params.%s (%v, line %d); set it in one place", f, k, *vals[i], d.lineOf(pk))
			}
		}
		if given[i] && first == "" {
			first = k
		}
		if vals[i] == nil {
			continue
		}
		if v := *vals[i]; v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			d.fail(at[i], "must be a non-negative number of US dollars per token, got %v", v)
		}
	}
	if first == "" {
		return
	}
	for i := range 2 {
		if !given[i] {
			d.fail(p+".litellm_params."+costKeys[i], "required once %s is set (a deployment is priced completely or not at all)", first)
		}
	}
	if vals[0] == nil || vals[1] == nil {
		return
	}
	price := Price{Input: *vals[0], Output: *vals[1], CacheRead: *vals[0], CacheWrite: *vals[0]}
	if vals[2] != nil {
		price.CacheRead = *vals[2]
	}
	if vals[3] != nil {
		price.CacheWrite = *vals[3]
	}
	m.Price = &price
}

// number reads a model_info value as a number: YAML ints and floats, and
// numeric strings (what an os.environ/ reference yields).
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

func describeValue(v any) string {
	switch v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
