package config

import (
	"os"
	"strconv"
)

// Cache is litellm_settings.cache and cache_params: the response cache and
// the Redis that limits and the cache share across gateway replicas.
type Cache struct {
	// Enabled caches every request (litellm_settings.cache); otherwise a
	// request opts in with the X-Memproxy-Cache: on header.
	Enabled bool `yaml:"-"`
	Params  CacheParams
}

// CacheParams is litellm_settings.cache_params.
type CacheParams struct {
	// Type is "redis" or "local" (in-memory LRU; default when no host).
	Type     string  `yaml:"type"`
	Host     string  `yaml:"host"`
	Port     int     `yaml:"port"`
	Password Secret  `yaml:"password"`
	TTL      float64 `yaml:"ttl"` // seconds, default 3600
}

// RedisAddr is the Redis to use for limits and the cache: cache_params
// when its type is redis, else the seed's REDIS_HOST/REDIS_PORT/
// REDIS_PASSWORD environment; "" when none.
func (c Cache) RedisAddr(getenv func(string) string) (addr, password string) {
	p := c.Params
	if p.Type == "redis" && p.Host != "" {
		port := p.Port
		if port == 0 {
			port = 6379
		}
		return p.Host + ":" + strconv.Itoa(port), p.Password.Reveal()
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if h := getenv("REDIS_HOST"); h != "" {
		port := getenv("REDIS_PORT")
		if port == "" {
			port = "6379"
		}
		return h + ":" + port, getenv("REDIS_PASSWORD")
	}
	return "", ""
}

func (c *Cache) validate(d *decoder) {
	const p = "litellm_settings.cache_params."
	switch c.Params.Type {
	case "", "redis", "local":
	default:
		d.fail(p+"type", `must be "redis" or "local", got %q`, c.Params.Type)
	}
	if c.Params.Type == "redis" && c.Params.Host == "" {
		d.fail(p+"host", "the redis cache needs a host")
	}
	if c.Params.TTL < 0 {
		d.fail(p+"ttl", "must be a number of seconds ≥ 0, got %v", c.Params.TTL)
	}
	if c.Params.TTL == 0 {
		c.Params.TTL = 3600
	}
}

// Limits is memproxy's limits block: rpm, tpm, parallel requests and
// budgets for users and projects (keys carry their own, set when minted).
type Limits struct {
	// FailClosed refuses requests while the shared limit store (Redis)
	// is unreachable; the default lets them through and logs.
	FailClosed bool                `yaml:"fail_closed"`
	Users      map[string]LimitSet `yaml:"users"`
	Projects   map[string]LimitSet `yaml:"projects"`
	// DefaultUser and DefaultProject apply to users and projects not
	// listed.
	DefaultUser    LimitSet `yaml:"default_user"`
	DefaultProject LimitSet `yaml:"default_project"`
}

// LimitSet is one subject's limits; zero values mean no limit.
type LimitSet struct {
	RPM          int     `yaml:"rpm"`
	TPM          int     `yaml:"tpm"`
	Parallel     int     `yaml:"max_parallel_requests"`
	MaxBudget    float64 `yaml:"max_budget"`    // USD
	BudgetPeriod string  `yaml:"budget_period"` // e.g. 30d, 24h; default 30d
}

// CacheKeys holds litellm_settings' cache keys as the file has them.
type CacheKeys struct {
	Cache       bool        `yaml:"cache"`
	CacheParams CacheParams `yaml:"cache_params"`
}

// resolveCache copies the cache keys into g and checks them.
func (d *decoder) resolveCache(f *gatewayFile) Cache {
	c := Cache{Enabled: f.LiteLLM.Cache, Params: f.LiteLLM.CacheParams}
	c.validate(d)
	return c
}
