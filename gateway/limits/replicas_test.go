package limits

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRedisReplicasShareBudget: three limiters ("replicas"), each with its
// own client, spend one key's budget concurrently. A budget is checked at
// admission and charged at release, so the spend may pass it by what was
// in flight when it was reached — here at most one request per worker —
// and never by N×: once it is reached, no replica admits another request.
func TestRedisReplicasShareBudget(t *testing.T) {
	const (
		replicas = 3
		workers  = 4 // per replica
		cost     = 0.01
		budget   = 1.0
	)
	c := newClient(t)
	prefix := testPrefix(t, c)
	at := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC) // mid-period: one counter
	var ls []Limiter
	for range replicas {
		ls = append(ls, NewRedis(newClient(t), prefix, func() time.Time { return at }, Options{}))
	}
	subj := map[string]Limit{"key:k1": {Budget: budget, BudgetPeriod: time.Hour}}
	var admitted, denied atomic.Int64
	var wg sync.WaitGroup
	for r := range replicas {
		for range workers {
			wg.Go(func() {
				for range 1000 { // bounded: the budget allows ~100
					d, rel, err := ls[r].Admit(context.Background(), subj, 1)
					if err != nil {
						t.Errorf("admit: %v", err)
						return
					}
					if !d.Allowed {
						if d.Reason != ReasonBudget {
							t.Errorf("denied for %q", d.Reason)
						}
						denied.Add(1)
						return
					}
					admitted.Add(1)
					rel(1, cost)
				}
				t.Error("a worker was never denied")
			})
		}
	}
	wg.Wait()
	spent := float64(admitted.Load()) * cost
	limit := budget + float64(replicas*workers)*cost // what was in flight at most
	t.Logf("admitted %d requests (%.2f USD of a %.2f budget), %d workers denied", admitted.Load(), spent, budget, denied.Load())
	if spent < budget || spent > limit+1e-9 {
		t.Errorf("spent %.2f across %d replicas: want between %.2f and %.2f", spent, replicas, budget, limit)
	}
	// Every charge landed in the one shared counter.
	keys, err := c.Keys(context.Background(), prefix+"bud:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("budget counters %v: %v", keys, err)
	}
	v, _ := c.Get(context.Background(), keys[0]).Result()
	if got, _ := strconv.ParseFloat(v, 64); math.Abs(got-spent) > 1e-6 {
		t.Errorf("shared counter %v, want %.2f", v, spent)
	}
	// And no replica admits now.
	for i, l := range ls {
		if d, _, _ := l.Admit(context.Background(), subj, 1); d.Allowed {
			t.Errorf("replica %d admitted past the budget", i)
		}
	}
}
