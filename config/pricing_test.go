package config

import (
	"slices"
	"strings"
	"testing"
)

func TestPrices(t *testing.T) {
	src := `model_list:
  - model_name: in-params
    litellm_params:
      model: mock/a
      input_cost_per_token: 0.000003
      output_cost_per_token: 1.5e-5
  - model_name: in-model-info
    litellm_params: {model: mock/b}
    model_info:
      input_cost_per_token: 3e-6
      output_cost_per_token: 1.5e-5
      cache_read_input_token_cost: 3e-7
      cache_creation_input_token_cost: 3.75e-6
  - model_name: split
    litellm_params:
      model: mock/c
      input_cost_per_token: os.environ/IN_PRICE
      cache_read_input_token_cost: 1e-7
    model_info:
      input_cost_per_token: 1e-6
      output_cost_per_token: os.environ/OUT_PRICE
  - model_name: free
    litellm_params: {model: ollama/llama3, input_cost_per_token: 0, output_cost_per_token: 0}
  - model_name: unpriced
    litellm_params: {model: mock/d}
    model_info: {note: no price here}
`
	g, err := Parse("gw.yaml", []byte(src), fakeEnv(map[string]string{"IN_PRICE": "1e-6", "OUT_PRICE": "2e-6"}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*Price{
		"in-params":     {Input: 3e-6, Output: 1.5e-5, CacheRead: 3e-6, CacheWrite: 3e-6},
		"in-model-info": {Input: 3e-6, Output: 1.5e-5, CacheRead: 3e-7, CacheWrite: 3.75e-6},
		"split":         {Input: 1e-6, Output: 2e-6, CacheRead: 1e-7, CacheWrite: 1e-6},
		"free":          {},
		"unpriced":      nil,
	}
	for _, m := range g.Models {
		w := want[m.ModelName]
		switch {
		case w == nil && m.Price != nil:
			t.Errorf("%s: Price %+v; want none", m.ModelName, *m.Price)
		case w != nil && (m.Price == nil || *m.Price != *w):
			t.Errorf("%s: Price %v; want %+v", m.ModelName, m.Price, *w)
		}
	}
	for _, k := range g.Ignored {
		if strings.Contains(k, "cost") {
			t.Errorf("Ignored lists %s; prices are implemented", k)
		}
	}

	r := g.Redacted()
	r.Models[0].Price.Input = 1
	*r.Models[0].Params.InputCostPerToken = 1
	if g.Models[0].Price.Input != 3e-6 || *g.Models[0].Params.InputCostPerToken != 3e-6 {
		t.Error("changing a Redacted copy's price changed the original")
	}
}

func TestPriceErrors(t *testing.T) {
	head := "model_list:\n  - model_name: a\n    litellm_params:\n      model: mock/x\n"
	const p = "model_list[0]."
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"negative", head + "      input_cost_per_token: -1e-6\n      output_cost_per_token: 1e-6\n",
			[]string{"gw.yaml:5: " + p + "litellm_params.input_cost_per_token: must be a non-negative number of US dollars per token, got -1e-06"}},
		{"infinite", head + "      input_cost_per_token: .inf\n      output_cost_per_token: 1e-6\n",
			[]string{"gw.yaml:5: " + p + "litellm_params.input_cost_per_token: must be a non-negative number of US dollars per token, got +Inf"}},
		{"half a price", head + "      input_cost_per_token: 1e-6\n",
			[]string{"gw.yaml:3: " + p + "litellm_params.output_cost_per_token: required once input_cost_per_token is set (a deployment is priced completely or not at all)"}},
		{"cache price alone", head + "    model_info:\n      cache_read_input_token_cost: 1e-7\n",
			[]string{
				"gw.yaml:3: " + p + "litellm_params.input_cost_per_token: required once cache_read_input_token_cost is set (a deployment is priced completely or not at all)",
				"gw.yaml:3: " + p + "litellm_params.output_cost_per_token: required once cache_read_input_token_cost is set (a deployment is priced completely or not at all)",
			}},
		{"not a number", head + "      input_cost_per_token: cheap\n      output_cost_per_token: 1e-6\n",
			[]string{`gw.yaml:5: ` + p + `litellm_params.input_cost_per_token: expected a number, got "cheap"`}},
		{"model_info not a number", head + "    model_info:\n      input_cost_per_token: [1]\n      output_cost_per_token: 1e-6\n",
			[]string{"gw.yaml:6: " + p + "model_info.input_cost_per_token: expected a number of US dollars per token, got a list"}},
		{"both places, different", head + "      output_cost_per_token: 2e-6\n    model_info:\n      input_cost_per_token: 1e-6\n      output_cost_per_token: 3e-6\n",
			[]string{"gw.yaml:8: " + p + "model_info.output_cost_per_token: 3e-06 differs from litellm_params.output_cost_per_token (2e-06, line 5); set it in one place"}},
	} {
		_, err := Parse("gw.yaml", []byte(tc.yaml), nil)
		if err == nil {
			t.Errorf("%s: Parse succeeded; want %q", tc.name, tc.want)
			continue
		}
		if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
