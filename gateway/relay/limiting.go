package relay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/limits"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/internal/telemetry"
)

// subjects are the limits that apply to a request: its key's, its user's
// and its project's.
func (s *Pipeline) subjects(id *auth.Identity) map[string]limits.Limit {
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
	lc := s.Config.Limits
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
func (s *Pipeline) admit(w http.ResponseWriter, r *http.Request, estTokens int) (release func(), ok bool) {
	id, _ := auth.FromContext(r.Context())
	subj := s.subjects(id)
	if len(subj) == 0 {
		return func() {}, true
	}
	ctx, end := telemetry.Span(r.Context(), "limits.admit", attribute.Int("memproxy.subjects", len(subj)))
	dec, rel, err := s.Limiter.Admit(ctx, subj, estTokens)
	end(err)
	if err != nil && !errors.Is(err, context.Canceled) {
		s.Log.Warn("limit store unavailable", "err", err)
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
	st := track.From(r.Context())
	return func() {
		cost, _ := s.Prices.Cost(st.Rec.Model, st.Rec.Provider, st.Rec.UpstreamModel, st.Usage)
		rel(st.Usage.PromptTokens+st.Usage.CompletionTokens, cost)
	}, true
}
