package config

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Defaults of router_settings, applied when neither router_settings nor
// litellm_settings sets the key.
const (
	DefaultNumRetries      = 2                      // num_retries
	DefaultRetryAfter      = 500 * time.Millisecond // retry_after
	DefaultCooldownTime    = 30 * time.Second       // cooldown_time
	DefaultAllowedFails    = 3                      // allowed_fails
	DefaultRoutingStrategy = RoutingSimpleShuffle   // routing_strategy
)

// Routing strategies router_settings.routing_strategy accepts (LiteLLM's
// names).
const (
	RoutingSimpleShuffle = "simple-shuffle" // random among healthy deployments
	RoutingLeastBusy     = "least-busy"     // fewest calls in flight
)

var routingStrategies = []string{RoutingSimpleShuffle, RoutingLeastBusy}

const (
	maxNumRetries = 10
	maxRetryAfter = 60 // seconds
)

// RouterSettings is how the gateway spreads calls over the deployments of
// a model_name, retries them and falls back to other names: router_settings,
// with litellm_settings' num_retries, request_timeout and fallbacks where
// router_settings does not set them (as in LiteLLM, router_settings wins).
// Parse applies the defaults.
type RouterSettings struct {
	// NumRetries is how many times a failed call is retried per model_name,
	// spread over its deployments (num_retries; default 2).
	NumRetries int
	// RetryAfter is the base of the exponential backoff between retries
	// (retry_after, in seconds in the file; default 0.5 s).
	RetryAfter time.Duration
	// Timeout is router_settings.timeout or litellm_settings.request_timeout:
	// the wait for an upstream's response headers for deployments whose
	// litellm_params set no timeout; 0 when neither is set (the gateway's
	// own default applies).
	Timeout time.Duration
	// CooldownTime is how long a deployment that failed AllowedFails times
	// within a minute is skipped (cooldown_time; default 30 s). It is 0
	// with disable_cooldowns: true.
	CooldownTime time.Duration
	// AllowedFails is allowed_fails (default 3).
	AllowedFails int
	// RoutingStrategy is one of the Routing* constants (default
	// simple-shuffle).
	RoutingStrategy string
	// Fallbacks maps a model_name to the model_names tried, in order, once
	// its own retries are spent. Every name is in model_list. nil if none.
	Fallbacks map[string][]string
}

func defaultRouter() RouterSettings {
	return RouterSettings{
		NumRetries: DefaultNumRetries, RetryAfter: DefaultRetryAfter, CooldownTime: DefaultCooldownTime,
		AllowedFails: DefaultAllowedFails, RoutingStrategy: DefaultRoutingStrategy,
	}
}

// gatewayFile is the file's shape: Gateway's own keys, plus the sections
// Parse folds into Gateway.Router. Pointers tell "not set" from zero.
type gatewayFile struct {
	Gateway  `yaml:",inline"`
	RouterIn routerFile  `yaml:"router_settings"`
	LiteLLM  litellmFile `yaml:"litellm_settings"` // its other keys are known-but-unimplemented
}

type routerFile struct {
	NumRetries       *int            `yaml:"num_retries"`
	RetryAfter       *float64        `yaml:"retry_after"`
	Timeout          *float64        `yaml:"timeout"`
	CooldownTime     *float64        `yaml:"cooldown_time"`
	AllowedFails     *int            `yaml:"allowed_fails"`
	RoutingStrategy  string          `yaml:"routing_strategy"`
	DisableCooldowns bool            `yaml:"disable_cooldowns"`
	Fallbacks        []fallbackEntry `yaml:"fallbacks"`
}

type litellmFile struct {
	CacheKeys      `yaml:",inline"` // cache.go
	OTelKeys       `yaml:",inline"` // otel.go
	NumRetries     *int             `yaml:"num_retries"`
	RequestTimeout *float64         `yaml:"request_timeout"`
	Fallbacks      []fallbackEntry  `yaml:"fallbacks"`
}

// fallbackEntry is one item of a fallbacks list: {model_name: [fallbacks]}.
type fallbackEntry = map[string][]string

// resolveRouter validates the routing keys of f and returns them merged,
// defaults applied. It runs after the models were validated.
func (d *decoder) resolveRouter(f *gatewayFile) RouterSettings {
	rs := defaultRouter()
	in, ll := &f.RouterIn, &f.LiteLLM
	const r, l = "router_settings.", "litellm_settings."

	// litellm_settings first: router_settings, applied last, wins.
	for _, c := range []struct {
		key string
		v   *int
	}{{l + "num_retries", ll.NumRetries}, {r + "num_retries", in.NumRetries}} {
		if c.v != nil && (*c.v < 0 || *c.v > maxNumRetries) {
			d.fail(c.key, "must be between 0 and %d, got %d", maxNumRetries, *c.v)
		} else if c.v != nil {
			rs.NumRetries = *c.v
		}
	}
	seconds := func(key string, v *float64, limit float64, dst *time.Duration) {
		if v == nil {
			return
		}
		if *v < 0 || math.IsNaN(*v) || *v > limit {
			d.fail(key, "must be a number of seconds between 0 and %v, got %v", limit, *v)
			return
		}
		*dst = time.Duration(*v * float64(time.Second))
	}
	const day = 24 * 3600
	seconds(r+"retry_after", in.RetryAfter, maxRetryAfter, &rs.RetryAfter)
	seconds(l+"request_timeout", ll.RequestTimeout, day, &rs.Timeout)
	seconds(r+"timeout", in.Timeout, day, &rs.Timeout)
	seconds(r+"cooldown_time", in.CooldownTime, day, &rs.CooldownTime)
	if in.DisableCooldowns {
		rs.CooldownTime = 0
	}
	if n := in.AllowedFails; n != nil {
		if *n < 1 {
			d.fail(r+"allowed_fails", "must be at least 1, got %d (to never cool down a deployment, set disable_cooldowns: true)", *n)
		}
		rs.AllowedFails = *n
	}
	switch in.RoutingStrategy {
	case "":
	case RoutingSimpleShuffle, RoutingLeastBusy:
		rs.RoutingStrategy = in.RoutingStrategy
	default:
		d.fail(r+"routing_strategy", "unsupported routing strategy %q (supported: %s)", in.RoutingStrategy, strings.Join(routingStrategies, ", "))
	}

	names := map[string]bool{}
	for _, m := range f.Models {
		names[m.ModelName] = true
	}
	rfb := d.fallbacks(r+"fallbacks", in.Fallbacks, names)
	lfb := d.fallbacks(l+"fallbacks", ll.Fallbacks, names)
	if in.Fallbacks != nil {
		rs.Fallbacks = rfb
	} else {
		rs.Fallbacks = lfb
	}
	return rs
}

// fallbacks validates a fallbacks list (key is its display path) against
// the model_names and returns it as a map; nil when empty.
func (d *decoder) fallbacks(key string, list []fallbackEntry, names map[string]bool) map[string][]string {
	var out map[string][]string
	known := slices.Sorted(maps.Keys(names))
	check := func(k, name string) bool {
		if names[name] {
			return true
		}
		msg := fmt.Sprintf("unknown model_name %q: not in model_list", name)
		if s := suggest(name, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		d.fail(k, "%s", msg)
		return false
	}
	for i, entry := range list {
		p := fmt.Sprintf("%s[%d]", key, i)
		if len(entry) != 1 {
			d.fail(p, `each entry maps one model_name to its fallbacks, e.g. {"gpt-4o": ["claude-sonnet"]}; got %d names`, len(entry))
			continue
		}
		for from, to := range entry {
			k := p + "." + from
			if !check(k, from) {
				continue
			}
			if _, dup := out[from]; dup {
				d.fail(k, "fallbacks for %q are already given above", from)
				continue
			}
			if len(to) == 0 {
				d.fail(k, "needs a list of model_names to fall back to")
				continue
			}
			for j, name := range to {
				switch kj := fmt.Sprintf("%s[%d]", k, j); {
				case name == from:
					d.fail(kj, "%q cannot fall back to itself", name)
				case slices.Index(to, name) < j:
					d.fail(kj, "%q is listed twice", name)
				default:
					check(kj, name)
				}
			}
			if out == nil {
				out = map[string][]string{}
			}
			out[from] = slices.Clone(to)
		}
	}
	return out
}

// checkDeployments refuses two model_list entries of one model_name that
// would reach the same upstream the same way: same model, api_base and
// api_key. Entries sharing a name are load-balanced, so this is a slip
// (one copied without its edit), not a second deployment. Different keys
// at one base are allowed: LiteLLM configs spread load over accounts so.
func (d *decoder) checkDeployments(models []Deployment) {
	type ident struct{ name, model, base, key string }
	first := map[ident]int{}
	for i, m := range models {
		if m.Provider == "" { // its provider did not resolve: already reported
			continue
		}
		id := ident{m.ModelName, m.Params.Model, m.BaseURL, m.Params.APIKey.Reveal()}
		j, dup := first[id]
		if !dup {
			first[id] = i
			continue
		}
		d.fail(fmt.Sprintf("model_list[%d]", i), "same model %q, api_base and api_key as model_list[%d] (line %d) under model_name %q: "+
			"entries sharing a model_name are load-balanced and must differ in one of these",
			m.Params.Model, j, d.lineOf(fmt.Sprintf("model_list[%d]", j)), m.ModelName)
	}
}
