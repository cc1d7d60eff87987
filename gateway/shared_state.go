package gateway

import (
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/cache"
	"github.com/memproxy/memproxy/gateway/limits"
)

// sharedState builds the limiter and the response cache: in Redis when
// one is configured (so every replica shares them), in memory otherwise.
func (s *Server) sharedState(cfg *config.Gateway) {
	addr, password := cfg.Cache.RedisAddr(nil)
	if addr == "" {
		s.limiter = limits.NewMemory(time.Now)
		s.cache = cache.NewMemory(64 << 20)
		if !strings.HasPrefix(s.db.Describe(), "sqlite:") { // a database made for replicas
			s.log.Warn("no Redis: limits, budgets, the response cache and router cooldowns are kept per process; " +
				"replicas sharing this database need litellm_settings.cache_params (type: redis), or each allows the whole budget")
		}
		return
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, Password: password,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
		MaxRetries: 1})
	s.redis = rdb
	s.limiter = limits.NewRedis(rdb, "memproxy:limits:", time.Now, limits.Options{FailClosed: cfg.Limits.FailClosed, Logger: s.log})
	s.router.ShareHealth(&redisHealth{rdb: rdb, key: "memproxy:router:cooling"})
	if cfg.Cache.Params.Type == "local" {
		s.cache = cache.NewMemory(64 << 20)
	} else {
		s.cache = cache.NewRedis(rdb, "memproxy:cache:")
	}
	s.log.Info("limits and cache shared through Redis", "redis", addr)
}
