package config

import (
	"errors"
	"strings"
	"testing"
)

// mockModel is a valid model_list so a case can focus on one mistake.
const mockModel = "model_list:\n  - model_name: m\n    litellm_params:\n      model: mock/echo\n"

const sameDeployment = "entries sharing a model_name are load-balanced and must differ in one of these"

const knownList = "anthropic, deepseek, fireworks_ai, gemini, groq, hosted_vllm, lm_studio, mistral, mock, ollama, ollama_chat, openai, openrouter, together_ai, vllm, xai"

// TestParseErrors checks each class of config error: the message must name
// the file, the line and the dotted key, and all errors come back sorted.
func TestParseErrors(t *testing.T) {
	env := map[string]string{"SET": "value", "EMPTY": "", "NUM": "12"}
	for _, tc := range []struct {
		name, yaml string
		want       []string // every line of err.Error()
	}{
		{"missing env var", "general_settings:\n  master_key: os.environ/NOPE\n" + mockModel,
			[]string{"gw.yaml:2: general_settings.master_key: environment variable NOPE is not set (referenced as os.environ/NOPE)"}},
		{"empty env var", "general_settings:\n  master_key: os.environ/EMPTY\n" + mockModel,
			[]string{"gw.yaml:2: general_settings.master_key: environment variable EMPTY is set but empty (referenced as os.environ/EMPTY)"}},
		{"bad env reference", "general_settings:\n  master_key: os.environ/\n" + mockModel,
			[]string{`gw.yaml:2: general_settings.master_key: invalid environment reference "os.environ/"; expected os.environ/NAME`}},
		{"env var of wrong type", "general_settings:\n  max_request_size_mb: os.environ/SET\n" + mockModel,
			[]string{`gw.yaml:2: general_settings.max_request_size_mb: expected a number, got "os.environ/SET (value hidden)"`}},
		{"unknown provider prefix", "model_list:\n  - model_name: a\n    litellm_params:\n      model: foo/bar\n",
			[]string{`gw.yaml:4: model_list[0].litellm_params.model: unknown provider prefix "foo" (known: ` + knownList + ")"}},
		{"unknown custom_llm_provider", "model_list:\n  - model_name: a\n    litellm_params:\n      model: x/y\n      custom_llm_provider: azure\n",
			[]string{`gw.yaml:5: model_list[0].litellm_params.custom_llm_provider: unknown provider "azure" (known: ` + knownList + ")"}},
		{"model without provider", "model_list:\n  - model_name: a\n    litellm_params:\n      model: gpt-4o\n",
			[]string{`gw.yaml:4: model_list[0].litellm_params.model: expected "provider/model" (e.g. openai/gpt-4o), got "gpt-4o"`}},
		{"missing model", "model_list:\n  - model_name: a\n    litellm_params: {}\n",
			[]string{`gw.yaml:3: model_list[0].litellm_params.model: required: "provider/model", e.g. openai/gpt-4o`}},
		{"missing model_name", "model_list:\n  - litellm_params:\n      model: mock/x\n",
			[]string{"gw.yaml:2: model_list[0].model_name: required"}},
		{"identical deployments of one name", mockModel + "  - model_name: other\n    litellm_params: {model: mock/x}\n  - model_name: m\n    litellm_params: {model: mock/echo}\n",
			[]string{`gw.yaml:7: model_list[2]: same model "mock/echo", api_base and api_key as model_list[0] (line 2) under model_name "m": ` + sameDeployment}},
		{"vllm needs api_base", "model_list:\n  - model_name: a\n    litellm_params:\n      model: hosted_vllm/llama\n",
			[]string{`gw.yaml:3: model_list[0].litellm_params.api_base: required for provider "hosted_vllm" (it has no well-known address)`}},
		{"openai needs a key", "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\n",
			[]string{`gw.yaml:3: model_list[0].litellm_params.api_key: required for provider "openai", e.g. api_key: os.environ/OPENAI_API_KEY`}},
		{"api_base not a URL", "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_base: localhost:8080\n      api_key: k\n",
			[]string{`gw.yaml:5: model_list[0].litellm_params.api_base: must be an absolute http(s) URL, got "localhost:8080"`}},
		{"bad extra header", "model_list:\n  - model_name: a\n    litellm_params:\n      model: mock/x\n      extra_headers:\n        \"bad header\": v\n",
			[]string{"gw.yaml:6: model_list[0].litellm_params.extra_headers.bad header: invalid header name"}},
		{"negative timeout", "model_list:\n  - model_name: a\n    litellm_params:\n      model: mock/x\n      timeout: -1\n",
			[]string{"gw.yaml:5: model_list[0].litellm_params.timeout: must not be negative"}},
		{"wrong type scalar", "general_settings:\n  max_request_size_mb: lots\n" + mockModel,
			[]string{`gw.yaml:2: general_settings.max_request_size_mb: expected a number, got "lots"`}},
		{"wrong type quoted number", "general_settings:\n  max_request_size_mb: \"32\"\n" + mockModel,
			[]string{`gw.yaml:2: general_settings.max_request_size_mb: expected a number, got "32"`}},
		{"wrong type list", "model_list: {}\n",
			[]string{"gw.yaml:1: model_list: expected a list, got a mapping"}},
		{"wrong type int", "model_list:\n  - model_name: a\n    litellm_params:\n      model: mock/x\n      rpm: 1.5\n",
			[]string{`gw.yaml:5: model_list[0].litellm_params.rpm: expected a whole number, got "1.5"`}},
		{"wrong type section", "general_settings: [a]\n" + mockModel,
			[]string{"gw.yaml:1: general_settings: expected a mapping, got a list"}},
		{"max_request_size_mb zero", "general_settings:\n  max_request_size_mb: 0\n" + mockModel,
			[]string{"gw.yaml:2: general_settings.max_request_size_mb: must be more than 0 and at most 4096, got 0"}},
		{"typo top-level key", "model_lst:\n  - model_name: a\n",
			[]string{`gw.yaml:1: model_lst: unknown key (did you mean "model_list"?)`}},
		{"typo nested key", "model_list:\n  - model_name: a\n    litellm_parms:\n      model: mock/x\n",
			[]string{`gw.yaml:3: model_list[0].litellm_parms: unknown key (did you mean "litellm_params"?)`}},
		{"typo in ignored section", mockModel + "litellm_settings:\n  drop_parms: true\n",
			[]string{`gw.yaml:6: litellm_settings.drop_parms: unknown key (did you mean "drop_params"?)`}},
		{"unknown key no suggestion", mockModel + "frobnicate: 1\n",
			[]string{"gw.yaml:5: frobnicate: unknown key"}},
		{"refused key", mockModel + "include:\n  - other.yaml\n",
			[]string{"gw.yaml:5: include: include is not supported: memproxy reads one file; inline the included files"}},
		{"duplicate yaml key", "general_settings:\n  master_key: a\n  master_key: b\n" + mockModel,
			[]string{"gw.yaml:3: general_settings.master_key: duplicate key (first set on line 2)"}},
		{"invalid regexp", mockModel + "user_id_mappings:\n  header_patterns:\n    - header: user-agent\n      pattern: \"([\"\n      user_id: u\n",
			[]string{"gw.yaml:8: user_id_mappings.header_patterns[0].pattern: invalid regular expression: error parsing regexp: missing closing ]: `[`"}},
		{"database_url scheme", "general_settings:\n  database_url: mysql://root:hunter2@db/x\n" + mockModel,
			[]string{`gw.yaml:2: general_settings.database_url: unsupported scheme "mysql": use sqlite:PATH, postgres://… or postgresql://…, or leave empty for the embedded SQLite`}},
		{"database_url sqlite without path", "general_settings:\n  database_url: \"sqlite:\"\n" + mockModel,
			[]string{"gw.yaml:2: general_settings.database_url: sqlite: needs a file path, e.g. sqlite:/var/lib/memproxy/memproxy.db"}},
		{"no models", "general_settings: {}\n",
			[]string{"gw.yaml:1: model_list: no models configured; add at least one model_list entry"}},
		{"empty file", "", []string{"gw.yaml:1: file is empty; expected a YAML mapping of settings"}},
		{"only comments", "# nothing\n", []string{"gw.yaml:1: file is empty; expected a YAML mapping of settings"}},
		{"not a mapping", "- a\n- b\n", []string{"gw.yaml:1: top level must be a mapping of settings, got a list"}},
		{"yaml syntax", "model_list:\n  - model_name: [\n", []string{"gw.yaml:2: invalid YAML: did not find expected node content"}},
		{"two documents", mockModel + "---\na: 1\n", []string{"gw.yaml:5: file holds more than one YAML document; expected one"}},
		{"several errors sorted by line", "model_lst: 1\ngeneral_settings:\n  master_key: os.environ/NOPE\n  max_request_size_mb: lots\n",
			[]string{
				`gw.yaml:1: model_lst: unknown key (did you mean "model_list"?)`,
				"gw.yaml:3: general_settings.master_key: environment variable NOPE is not set (referenced as os.environ/NOPE)",
				`gw.yaml:4: general_settings.max_request_size_mb: expected a number, got "lots"`,
			}},
		{"missing key env var is not also 'required'", "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: os.environ/NOPE\n",
			[]string{"gw.yaml:5: model_list[0].litellm_params.api_key: environment variable NOPE is not set (referenced as os.environ/NOPE)"}},
		{"decode and semantic errors together", "model_list:\n  - model_name: a\n    litellm_params: {model: mock/x, rpm: many}\n  - model_name: a\n    litellm_params: {model: mock/x}\n  - model_name: b\n    litellm_parms: {}\n",
			[]string{
				`gw.yaml:3: model_list[0].litellm_params.rpm: expected a whole number, got "many"`,
				`gw.yaml:4: model_list[1]: same model "mock/x", api_base and api_key as model_list[0] (line 2) under model_name "a": ` + sameDeployment,
				`gw.yaml:7: model_list[2].litellm_parms: unknown key (did you mean "litellm_params"?)`,
			}},
		{"semantic errors together", "model_list:\n  - model_name: a\n    litellm_params: {model: foo/x}\n  - model_name: a\n    litellm_params: {model: vllm/x}\n" +
			"  - model_name: a\n    litellm_params: {model: openai/x, api_key: k}\n  - model_name: a\n    litellm_params: {model: openai/x, api_key: k}\n",
			[]string{
				`gw.yaml:3: model_list[0].litellm_params.model: unknown provider prefix "foo" (known: ` + knownList + ")",
				`gw.yaml:5: model_list[1].litellm_params.api_base: required for provider "vllm" (it has no well-known address)`,
				`gw.yaml:8: model_list[3]: same model "openai/x", api_base and api_key as model_list[2] (line 6) under model_name "a": ` + sameDeployment,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Parse("gw.yaml", []byte(tc.yaml), fakeEnv(env))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", g)
			}
			if g != nil {
				t.Errorf("Parse returned a config with its error")
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("error:\n got %s\nwant %s", got, want)
			}
			e, ok := errors.AsType[*Error](err)
			if !ok || e.File != "gw.yaml" {
				t.Errorf("errors.AsType[*Error] = %v, %v", e, ok)
			}
		})
	}
}

func TestDatabaseURLNotEchoed(t *testing.T) {
	_, err := Parse("gw.yaml", []byte("general_settings:\n  database_url: mysql://root:hunter2@db/x\n"+mockModel), nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the URL: %v", err)
	}
}

func TestIgnoredKeysAreNotResolved(t *testing.T) {
	// UNSET_* are not in the environment: fine under ignored keys, whose
	// values are neither decoded nor resolved.
	src := mockModel + "      thinking: {type: enabled, budget_tokens: os.environ/UNSET_A}\n" +
		"guardrails:\n  x:\n    url: os.environ/UNSET_B\n" +
		"litellm_settings:\n  key_generation_settings:\n    x: os.environ/UNSET_C\n" +
		"router_settings:\n  redis_password: os.environ/UNSET_D\n  num_retries: 1\n"
	g, err := Parse("gw.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"guardrails", "litellm_settings.key_generation_settings", "model_list[].litellm_params.thinking", "router_settings.redis_password"}
	if strings.Join(g.Ignored, ",") != strings.Join(want, ",") {
		t.Errorf("Ignored = %v, want %v", g.Ignored, want)
	}
}

func TestEnvResolution(t *testing.T) {
	src := "general_settings:\n  master_key: os.environ/MK\n  max_request_size_mb: os.environ/MB\n" +
		"model_list:\n  - model_name: a\n    litellm_params:\n      model: os.environ/MODEL\n      api_key: k\n      rpm: os.environ/RPM\n" +
		"      extra_headers: {x-k: os.environ/HDR}\n    model_info: {note: os.environ/INFO, n: 3}\n" +
		"user_id_mappings:\n  default_user_id: \"os.environ/USER\"\n"
	g, err := Parse("gw.yaml", []byte(src), fakeEnv(map[string]string{
		"MK": "mk", "MB": "2.5", "MODEL": "groq/llama-3.3-70b", "RPM": "60", "HDR": "h", "INFO": "i", "USER": "alice",
	}))
	if err != nil {
		t.Fatal(err)
	}
	m := g.Models[0]
	if g.General.MasterKey.Reveal() != "mk" || g.General.MaxRequestSizeMB != 2.5 || m.UpstreamModel != "llama-3.3-70b" ||
		m.Params.RPM != 60 || m.Params.ExtraHeaders["x-k"].Reveal() != "h" || m.ModelInfo["note"] != "i" ||
		m.ModelInfo["n"] != 3 || g.UserIDMappings.DefaultUserID != "alice" {
		t.Errorf("resolved config = %+v / %+v", g, m)
	}
}
