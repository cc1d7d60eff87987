package provider

import (
	"context"
	"strconv"
	"time"
)

// HealthShare carries cooldowns between replicas (Redis in the gateway):
// a deployment one replica cools down is skipped by the others after their
// next Sync, instead of each replica paying AllowedFails failures of its
// own. Failures are still counted per replica; only the verdict is shared.
type HealthShare interface {
	// Cool announces that deployment id is cooling down until until.
	Cool(ctx context.Context, id string, until time.Time) error
	// Clear announces that deployment id answered again.
	Clear(ctx context.Context, id string) error
	// Cooling returns the deployments announced as cooling, with the end
	// of each one's cooldown.
	Cooling(ctx context.Context) (map[string]time.Time, error)
}

// shareTimeout bounds one announcement, made off the request path.
const shareTimeout = 2 * time.Second

// deploymentID names a deployment the same way on every replica that
// loaded the same model_list: its model name and its place among the
// deployments of that name.
func deploymentID(name string, i int) string { return name + "#" + strconv.Itoa(i) }

// Sync takes the cooldowns other replicas announced: a deployment cooling
// there is skipped here until the announced end. Call it every few
// seconds; without a HealthShare it does nothing.
func (r *Router) Sync(ctx context.Context) error {
	if r.opts.Share == nil {
		return nil
	}
	cooling, err := r.opts.Share.Cooling(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.state {
		if until, ok := cooling[s.id]; ok && until.After(s.coolUntil) {
			s.coolUntil = until
		}
	}
	return nil
}

// announce runs f on the HealthShare off the request path, bounded.
func (r *Router) announce(f func(ctx context.Context, h HealthShare) error) {
	if r.opts.Share == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), shareTimeout)
		defer cancel()
		_ = f(ctx, r.opts.Share) // a lost announcement costs other replicas their own failures, as without sharing
	}()
}

// ShareHealth sets the HealthShare (RouterOptions.Share) of a router built
// before its Redis was known. Call it before the first Call.
func (r *Router) ShareHealth(h HealthShare) { r.opts.Share = h }
