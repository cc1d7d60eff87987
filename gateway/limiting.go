package gateway

import (
	"go.opentelemetry.io/otel/attribute"

	"context"
	"errors"
	"fmt"
	"github.com/memproxy/memproxy/internal/telemetry"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/cache"
	"github.com/memproxy/memproxy/gateway/limits"
	"github.com/memproxy/memproxy/gateway/llm"
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

// subjects are the limits that apply to a request: its key's, its user's
// and its project's.
func (s *Server) subjects(id *auth.Identity) map[string]limits.Limit {
	var out map[string]limits.Limit
	set := func(k string, l limits.Limit) {
		if out == nil {
			out = map[string]limits.Limit{}
		}
		out[k] = l
	}
	if k := id.Key; k.KeyID != "" && (k.RPM > 0 || k.TPM > 0 || k.MaxBudget != nil) {
		l := limits.Limit{RPM: int(k.RPM), TPM: int(k.TPM), BudgetPeriod: period(k.BudgetPeriod)}
		if k.MaxBudget != nil {
			l.Budget = *k.MaxBudget
		}
		set("key:"+k.KeyID, l)
	}
	lc := s.opts.Config.Limits
	pick := func(m map[string]config.LimitSet, name string, def config.LimitSet) (config.LimitSet, bool) {
		if ls, ok := m[name]; ok {
			return ls, true
		}
		return def, def != (config.LimitSet{})
	}
	if ls, ok := pick(lc.Users, id.User, lc.DefaultUser); ok && id.User != "" {
		set("user:"+id.User, keyLimit(ls))
	}
	if ls, ok := pick(lc.Projects, id.Project, lc.DefaultProject); ok && id.Project != "" {
		set("project:"+id.Project, keyLimit(ls))
	}
	return out
}

func keyLimit(ls config.LimitSet) limits.Limit {
	return limits.Limit{RPM: ls.RPM, TPM: ls.TPM, Parallel: ls.Parallel, Budget: ls.MaxBudget, BudgetPeriod: period(ls.BudgetPeriod)}
}

// period reads a budget period such as 30d, 24h or 1h30m (default 30d).
func period(p string) time.Duration {
	if days, ok := strings.CutSuffix(p, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour
		}
	}
	if d, err := time.ParseDuration(p); err == nil && d > 0 {
		return d
	}
	return limits.DefaultBudgetPeriod
}

// admit enforces the request's limits before the provider call. It
// answers 429 (or 503 when the limit store is down and limits fail
// closed) itself and returns ok=false; otherwise release must be called
// when the request ends.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, estTokens int) (release func(), ok bool) {
	id, _ := auth.FromContext(r.Context())
	subj := s.subjects(id)
	if len(subj) == 0 {
		return func() {}, true
	}
	ctx, end := telemetry.Span(r.Context(), "limits.admit", attribute.Int("memproxy.subjects", len(subj)))
	dec, rel, err := s.limiter.Admit(ctx, subj, estTokens)
	end(err)
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("limit store unavailable", "err", err)
	}
	if !dec.Allowed {
		secs := int(math.Ceil(dec.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", fmt.Sprint(max(secs, 1)))
		if dec.Reason == limits.ReasonUnavailable {
			writeError(w, r, newAPIError(http.StatusServiceUnavailable, llm.ErrUnavailable, "limits_unavailable", "limits cannot be checked right now; retry shortly"))
		} else {
			writeError(w, r, newAPIError(http.StatusTooManyRequests, llm.ErrRateLimit, "rate_limit_"+dec.Reason,
				fmt.Sprintf("%s limit reached for %s; retry in %ds", dec.Reason, dec.Subject, max(secs, 1))))
		}
		return nil, false
	}
	st := stateFrom(r.Context())
	return func() {
		cost, _ := s.prices.Cost(st.rec.Model, st.rec.Provider, st.rec.UpstreamModel, st.usage)
		rel(st.usage.PromptTokens+st.usage.CompletionTokens, cost)
	}, true
}
