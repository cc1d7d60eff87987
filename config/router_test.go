package config

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"
)

// threeModels is a model_list of a, b and c on lines 1–7, so router
// settings start on line 8.
const threeModels = "model_list:\n" +
	"  - model_name: a\n    litellm_params: {model: mock/a}\n" +
	"  - model_name: b\n    litellm_params: {model: mock/b}\n" +
	"  - model_name: c\n    litellm_params: {model: mock/c}\n"

func TestRouterDefaults(t *testing.T) {
	want := RouterSettings{NumRetries: 2, RetryAfter: 500 * time.Millisecond, CooldownTime: 30 * time.Second,
		AllowedFails: 3, RoutingStrategy: "simple-shuffle"}
	g, err := Parse("gw.yaml", []byte(threeModels), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Router, want) {
		t.Errorf("Parse: Router = %+v, want %+v", g.Router, want)
	}
	if !reflect.DeepEqual(Default().Router, want) {
		t.Errorf("Default: Router = %+v, want %+v", Default().Router, want)
	}
}

func TestRouterSettings(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       RouterSettings
	}{
		{"every key", "router_settings:\n  num_retries: 4\n  retry_after: 1.5\n  timeout: 120\n  cooldown_time: 10\n" +
			"  allowed_fails: 5\n  routing_strategy: least-busy\n  fallbacks:\n    - a: [b, c]\n    - {b: [\"c\"]}\n",
			RouterSettings{NumRetries: 4, RetryAfter: 1500 * time.Millisecond, Timeout: 2 * time.Minute, CooldownTime: 10 * time.Second,
				AllowedFails: 5, RoutingStrategy: "least-busy", Fallbacks: map[string][]string{"a": {"b", "c"}, "b": {"c"}}}},
		{"litellm_settings", "litellm_settings:\n  num_retries: 0\n  request_timeout: 30\n  fallbacks: [{a: [c]}]\n  drop_params: true\n",
			RouterSettings{NumRetries: 0, RetryAfter: 500 * time.Millisecond, Timeout: 30 * time.Second, CooldownTime: 30 * time.Second,
				AllowedFails: 3, RoutingStrategy: "simple-shuffle", Fallbacks: map[string][]string{"a": {"c"}}}},
		{"router_settings wins", "litellm_settings:\n  num_retries: 5\n  request_timeout: 30\n  fallbacks: [{a: [c]}]\n" +
			"router_settings:\n  num_retries: 1\n  timeout: 0.25\n  fallbacks: [{a: [b]}]\n",
			RouterSettings{NumRetries: 1, RetryAfter: 500 * time.Millisecond, Timeout: 250 * time.Millisecond, CooldownTime: 30 * time.Second,
				AllowedFails: 3, RoutingStrategy: "simple-shuffle", Fallbacks: map[string][]string{"a": {"b"}}}},
		{"empty router fallbacks win", "litellm_settings:\n  fallbacks: [{a: [c]}]\nrouter_settings:\n  fallbacks: []\n  num_retries: ~\n",
			defaultRouter()},
		{"disable_cooldowns", "router_settings:\n  cooldown_time: 10\n  disable_cooldowns: true\n  routing_strategy: simple-shuffle\n",
			RouterSettings{NumRetries: 2, RetryAfter: 500 * time.Millisecond, AllowedFails: 3, RoutingStrategy: "simple-shuffle"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Parse("gw.yaml", []byte(threeModels+tc.yaml), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g.Router, tc.want) {
				t.Errorf("Router =\n %+v\nwant\n %+v", g.Router, tc.want)
			}
		})
	}
}

func TestRouterSettingsFromEnv(t *testing.T) {
	src := threeModels + "router_settings:\n  num_retries: os.environ/N\n  retry_after: os.environ/S\n"
	g, err := Parse("gw.yaml", []byte(src), fakeEnv(map[string]string{"N": "3", "S": "0.1"}))
	if err != nil || g.Router.NumRetries != 3 || g.Router.RetryAfter != 100*time.Millisecond {
		t.Errorf("Parse = %+v, %v", g, err)
	}
}

func TestSharedModelName(t *testing.T) {
	src := "model_list:\n" +
		"  - {model_name: gpt, litellm_params: {model: openai/gpt-4o, api_key: k1}}\n" +
		"  - {model_name: gpt, litellm_params: {model: openai/gpt-4o, api_key: k2}}\n" + // another account
		"  - {model_name: gpt, litellm_params: {model: openai/gpt-4o, api_key: k1, api_base: \"https://eu.example/v1\"}}\n" +
		"  - {model_name: gpt, litellm_params: {model: openai/gpt-4o-mini, api_key: k1}}\n" +
		"  - {model_name: other, litellm_params: {model: openai/gpt-4o, api_key: k1}}\n" // an alias
	g, err := Parse("gw.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Models) != 5 || g.Models[3].ModelName != "gpt" || g.Models[2].BaseURL != "https://eu.example/v1" {
		t.Errorf("models = %+v", summarize(g))
	}
}

func TestRouterErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"routing strategy", "router_settings:\n  routing_strategy: usage-based-routing\n",
			`gw.yaml:9: router_settings.routing_strategy: unsupported routing strategy "usage-based-routing" (supported: simple-shuffle, least-busy)`},
		{"fallback target unknown", "router_settings:\n  fallbacks:\n    - a:\n        - b\n        - cc\n",
			`gw.yaml:12: router_settings.fallbacks[0].a[1]: unknown model_name "cc": not in model_list (did you mean "c"?)`},
		{"fallback source unknown", "router_settings:\n  fallbacks:\n    - b: [a]\n    - gpt-4o: [a]\n",
			`gw.yaml:11: router_settings.fallbacks[1].gpt-4o: unknown model_name "gpt-4o": not in model_list`},
		{"litellm fallbacks unknown", "litellm_settings:\n  fallbacks: [{a: [d]}]\n",
			`gw.yaml:9: litellm_settings.fallbacks[0].a[0]: unknown model_name "d": not in model_list (did you mean "a"?)`},
		{"two names in one entry", "router_settings:\n  fallbacks:\n    - {a: [b], b: [c]}\n",
			`gw.yaml:10: router_settings.fallbacks[0]: each entry maps one model_name to its fallbacks, e.g. {"gpt-4o": ["claude-sonnet"]}; got 2 names`},
		{"fallback to itself", "router_settings:\n  fallbacks: [{a: [b, a]}]\n",
			`gw.yaml:9: router_settings.fallbacks[0].a[1]: "a" cannot fall back to itself`},
		{"fallback twice", "router_settings:\n  fallbacks: [{a: [b, c, b]}]\n",
			`gw.yaml:9: router_settings.fallbacks[0].a[2]: "b" is listed twice`},
		{"fallbacks given twice", "router_settings:\n  fallbacks:\n    - a: [b]\n    - a: [c]\n",
			`gw.yaml:11: router_settings.fallbacks[1].a: fallbacks for "a" are already given above`},
		{"empty fallbacks", "router_settings:\n  fallbacks:\n    - a: []\n",
			`gw.yaml:10: router_settings.fallbacks[0].a: needs a list of model_names to fall back to`},
		{"fallbacks not a list", "router_settings:\n  fallbacks: {a: [b]}\n",
			`gw.yaml:9: router_settings.fallbacks: expected a list, got a mapping`},
		{"fallback names not a list", "router_settings:\n  fallbacks: [{a: b}]\n",
			`gw.yaml:9: router_settings.fallbacks[0].a: expected a list, got "b"`},
		{"num_retries negative", "router_settings:\n  num_retries: -1\n",
			`gw.yaml:9: router_settings.num_retries: must be between 0 and 10, got -1`},
		{"litellm num_retries too many", "litellm_settings:\n  num_retries: 50\n",
			`gw.yaml:9: litellm_settings.num_retries: must be between 0 and 10, got 50`},
		{"num_retries not whole", "router_settings:\n  num_retries: 1.5\n",
			`gw.yaml:9: router_settings.num_retries: expected a whole number, got "1.5"`},
		{"retry_after too long", "router_settings:\n  retry_after: 61\n",
			`gw.yaml:9: router_settings.retry_after: must be a number of seconds between 0 and 60, got 61`},
		{"timeout negative", "router_settings:\n  timeout: -1\n",
			`gw.yaml:9: router_settings.timeout: must be a number of seconds between 0 and 86400, got -1`},
		{"request_timeout wrong type", "litellm_settings:\n  request_timeout: soon\n",
			`gw.yaml:9: litellm_settings.request_timeout: expected a number, got "soon"`},
		{"cooldown negative", "router_settings:\n  cooldown_time: -5\n",
			`gw.yaml:9: router_settings.cooldown_time: must be a number of seconds between 0 and 86400, got -5`},
		{"allowed_fails zero", "router_settings:\n  allowed_fails: 0\n",
			`gw.yaml:9: router_settings.allowed_fails: must be at least 1, got 0 (to never cool down a deployment, set disable_cooldowns: true)`},
		{"typo", "router_settings:\n  routing_stratgy: least-busy\n",
			`gw.yaml:9: router_settings.routing_stratgy: unknown key (did you mean "routing_strategy"?)`},
		{"section not a mapping", "router_settings: [a]\n",
			`gw.yaml:8: router_settings: expected a mapping, got a list`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Parse("gw.yaml", []byte(threeModels+tc.yaml), nil)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", g.Router)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %v\nwant %s", err, tc.want)
			}
			if e, ok := errors.AsType[*Error](err); !ok || e.Line == 0 {
				t.Errorf("errors.AsType[*Error] = %v, %v", e, ok)
			}
		})
	}
}

func TestRouterIgnoredKeys(t *testing.T) {
	src := threeModels + "router_settings:\n  redis_host: os.environ/UNSET\n  enable_pre_call_checks: true\n  num_retries: 1\n" +
		"litellm_settings:\n  num_retries: 3\n  set_verbose: true\n"
	g, err := Parse("gw.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"litellm_settings.set_verbose", "router_settings.enable_pre_call_checks", "router_settings.redis_host"}
	if !slices.Equal(g.Ignored, want) || g.Router.NumRetries != 1 {
		t.Errorf("Ignored = %v, NumRetries = %d; want %v, 1", g.Ignored, g.Router.NumRetries, want)
	}
	for _, k := range []string{"router_settings", "router_settings.num_retries", "litellm_settings.num_retries",
		"litellm_settings.request_timeout", "litellm_settings.fallbacks"} {
		if slices.Contains(knownUnimplemented, k) {
			t.Errorf("%s is implemented but still listed as known-unimplemented", k)
		}
	}
}

func TestRedactedCopiesFallbacks(t *testing.T) {
	g, err := Parse("gw.yaml", []byte(threeModels+"router_settings:\n  fallbacks: [{a: [b]}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := g.Redacted()
	r.Router.Fallbacks["a"][0] = "changed"
	r.Router.Fallbacks["b"] = nil
	if !maps.EqualFunc(g.Router.Fallbacks, map[string][]string{"a": {"b"}}, slices.Equal) {
		t.Errorf("Redacted shares Fallbacks: %v", g.Router.Fallbacks)
	}
}
