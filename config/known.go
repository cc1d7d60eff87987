package config

import (
	"maps"
	"slices"
	"strings"
	"sync"
)

// knownUnimplemented lists config keys that memproxy accepts but does not act
// on yet: LiteLLM's documented config.yaml keys (docs.litellm.ai "All
// settings", proxy/config_settings.md) and the seed project's own sections.
// Parse skips them without resolving their os.environ/ references and
// reports them in Gateway.Ignored so the gateway can log them once.
//
// An entry names a key whose whole value is ignored; its parents become
// sections whose other keys are still checked (a typo under litellm_settings
// is an error). "[]" stands for any list item. When a feature lands, move its
// keys into the typed structs and delete them here.
var knownUnimplemented = []string{
	// Whole LiteLLM sections.
	"callback_settings",
	"credential_list",
	"environment_variables", // its variables are not exported; os.environ/ reads the real environment
	"guardrails",

	// general_settings.
	"general_settings.alert_types",
	"general_settings.alerting",
	"general_settings.alerting_threshold",
	"general_settings.allow_requests_on_db_unavailable",
	"general_settings.background_health_checks",
	"general_settings.completion_model",
	"general_settings.database_connection_pool_limit",
	"general_settings.database_connection_timeout",
	"general_settings.disable_adding_master_key_hash_to_db",
	"general_settings.disable_master_key_return",
	"general_settings.disable_prisma_schema_update",
	"general_settings.disable_spend_logs",
	"general_settings.disable_spend_updates",
	"general_settings.forward_client_headers_to_llm_api",
	"general_settings.forward_openai_org_id",
	"general_settings.global_max_parallel_requests",
	"general_settings.health_check_details",
	"general_settings.health_check_interval",
	"general_settings.infer_model_from_keys",
	"general_settings.litellm_key_header_name",
	"general_settings.max_parallel_requests",
	"general_settings.max_response_size_mb",
	"general_settings.maximum_spend_logs_retention_interval",
	"general_settings.maximum_spend_logs_retention_period",
	"general_settings.proxy_batch_write_at",
	"general_settings.proxy_budget_rescheduler_max_time",
	"general_settings.proxy_budget_rescheduler_min_time",
	"general_settings.public_routes",
	"general_settings.store_model_in_db",
	"general_settings.store_prompts_in_spend_logs",
	"general_settings.ui_access_mode",
	"general_settings.use_x_forwarded_for",
	"general_settings.user_api_key_cache_ttl",

	// litellm_settings (documented, plus the ones the seed sets).
	"litellm_settings.budget_duration",
	"litellm_settings.callbacks",
	"litellm_settings.content_policy_fallbacks",
	"litellm_settings.context_window_fallbacks",
	"litellm_settings.database_type",
	"litellm_settings.database_url",
	"litellm_settings.default_fallbacks",
	"litellm_settings.disable_end_user_cost_tracking",
	"litellm_settings.drop_params",
	"litellm_settings.enable_json_schema_validation",
	"litellm_settings.enable_preview_features",
	"litellm_settings.failure_callback",
	"litellm_settings.force_ipv4",
	"litellm_settings.forward_traceparent_to_llm_provider",
	"litellm_settings.json_logs",
	"litellm_settings.key_generation_settings",
	"litellm_settings.langfuse_default_tags",
	"litellm_settings.max_budget",
	"litellm_settings.mcp_aliases",
	"litellm_settings.modify_params",
	"litellm_settings.redact_user_api_key_info",
	"litellm_settings.service_callbacks",
	"litellm_settings.set_verbose",
	"litellm_settings.store_model_in_db",
	"litellm_settings.success_callback",
	"litellm_settings.turn_off_message_logging",
	"litellm_settings.use_client_cache",

	// router_settings (docs.litellm.ai "router_settings - Reference") other
	// than the routing keys memproxy implements (see RouterSettings).
	"router_settings.alerting_config",
	"router_settings.allowed_fails_policy",
	"router_settings.assistants_config",
	"router_settings.cache_kwargs",
	"router_settings.cache_responses",
	"router_settings.caching_groups",
	"router_settings.client_ttl",
	"router_settings.content_policy_fallbacks",
	"router_settings.context_window_fallbacks",
	"router_settings.debug_level",
	"router_settings.default_fallbacks",
	"router_settings.default_litellm_params",
	"router_settings.default_max_parallel_requests",
	"router_settings.default_priority",
	"router_settings.deployment_affinity_ttl_seconds",
	"router_settings.enable_pre_call_check",
	"router_settings.enable_pre_call_checks",
	"router_settings.enable_tag_filtering",
	"router_settings.guardrail_list",
	"router_settings.ignore_invalid_deployments",
	"router_settings.max_fallbacks",
	"router_settings.model_group_alias",
	"router_settings.model_group_retry_policy",
	"router_settings.optional_pre_call_checks",
	"router_settings.polling_interval",
	"router_settings.provider_budget_config",
	"router_settings.redis_db",
	"router_settings.redis_host",
	"router_settings.redis_password",
	"router_settings.redis_port",
	"router_settings.redis_url",
	"router_settings.retry_policy",
	"router_settings.router_general_settings",
	"router_settings.routing_groups",
	"router_settings.routing_strategy_args",
	"router_settings.search_tools",
	"router_settings.set_verbose",
	"router_settings.stream_timeout",
	"router_settings.tag_filtering_match_any",

	// model_list[].litellm_params: per-deployment completion defaults and
	// retries.
	"model_list[].litellm_params.additional_drop_params",
	"model_list[].litellm_params.api_version",
	"model_list[].litellm_params.drop_params",
	"model_list[].litellm_params.frequency_penalty",
	"model_list[].litellm_params.max_completion_tokens",
	"model_list[].litellm_params.max_retries",
	"model_list[].litellm_params.max_tokens",
	"model_list[].litellm_params.merge_reasoning_content_in_choices",
	"model_list[].litellm_params.num_retries",
	"model_list[].litellm_params.order",
	"model_list[].litellm_params.organization",
	"model_list[].litellm_params.presence_penalty",
	"model_list[].litellm_params.reasoning_effort",
	"model_list[].litellm_params.seed",
	"model_list[].litellm_params.stop",
	"model_list[].litellm_params.tags",
	"model_list[].litellm_params.temperature",
	"model_list[].litellm_params.thinking",
	"model_list[].litellm_params.top_p",
	"model_list[].litellm_params.weight",
}

// refusedKeys are LiteLLM keys that memproxy does not implement and will not
// silently ignore, because ignoring them would drop models or lift a
// restriction the operator asked for. Each maps to the error message.
var refusedKeys = map[string]string{
	"include":                            "include is not supported: memproxy reads one file; inline the included files",
	"general_settings.allowed_ips":       "allowed_ips is not supported; restrict access at the network or load balancer instead of relying on it",
	"general_settings.allowed_routes":    "allowed_routes is not supported; memproxy would serve every route",
	"general_settings.admin_only_routes": "admin_only_routes is not supported; memproxy would serve these routes to every key",
	"general_settings.custom_auth":       "custom_auth is not supported: memproxy runs no code from config",
}

// keyTable is knownUnimplemented indexed for the decoder.
type keyTable struct {
	exact     map[string]bool     // key ignored with its whole value
	container map[string]bool     // section whose keys are checked one by one
	children  map[string][]string // parent schema path -> known child names
	refused   map[string]string
}

var gatewayKeys = sync.OnceValue(func() *keyTable {
	return newKeyTable(knownUnimplemented, refusedKeys)
})

func newKeyTable(paths []string, refused map[string]string) *keyTable {
	t := &keyTable{exact: map[string]bool{}, container: map[string]bool{}, children: map[string][]string{}, refused: refused}
	add := func(parent, name string) {
		for _, c := range t.children[parent] {
			if c == name {
				return
			}
		}
		t.children[parent] = append(t.children[parent], name)
	}
	for _, p := range append(slices.Collect(maps.Keys(refused)), paths...) {
		if _, ok := refused[p]; !ok {
			t.exact[p] = true
		}
		// Walk the prefixes: "a.b[].c" has sections "a", "a.b[]" with
		// children "a"->"b", "a.b[]"->"c".
		parent := ""
		for _, seg := range strings.Split(p, ".") {
			name := strings.TrimSuffix(seg, "[]")
			add(parent, name)
			cur := name
			if parent != "" {
				cur = parent + "." + name
			}
			if cur != p {
				t.container[cur] = true
			}
			if strings.HasSuffix(seg, "[]") {
				cur += "[]"
			}
			parent = cur
		}
	}
	return t
}

// childrenOf returns the known key names under a schema path (a copy).
func (t *keyTable) childrenOf(schema string) []string {
	if t == nil {
		return nil
	}
	return append([]string(nil), t.children[schema]...)
}
