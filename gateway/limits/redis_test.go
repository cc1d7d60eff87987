package limits

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memproxy/memproxy/test/services"
)

// newClient returns a client of the test Redis, closed when t ends.
func newClient(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: services.RequireRedis(t)})
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a prefix no other test (or test run) uses, and deletes
// its keys when t ends.
func testPrefix(t *testing.T, c *redis.Client) string {
	t.Helper()
	prefix := "memproxy-test:limits:" + rand.Text() + ":"
	t.Cleanup(func() {
		// t.Context is cancelled before cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var keys []string
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		err := iter.Err()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("cleaning up %s*: %v", prefix, err)
		}
	})
	return prefix
}

func TestRedis(t *testing.T) {
	runConformance(t, func(t *testing.T, clk *clock) Limiter {
		c := newClient(t)
		return NewRedis(c, testPrefix(t, c), clk.Now, Options{})
	})
}

// TestRedisReplicas runs two limiters ("replicas") with their own clients on
// one Redis: they share every counter.
func TestRedisReplicas(t *testing.T) {
	t.Parallel()
	c1, c2 := newClient(t), newClient(t)
	prefix := testPrefix(t, c1)
	clk := newClock()
	a := NewRedis(c1, prefix, clk.Now, Options{})
	b := NewRedis(c2, prefix, clk.Now, Options{})

	rpm := map[string]Limit{"key:a": {RPM: 2}}
	mustAllow(t, a, rpm, 1)(0, 0)
	mustAllow(t, b, rpm, 1)(0, 0)
	mustDeny(t, a, rpm, 1, "key:a", ReasonRPM)
	mustDeny(t, b, rpm, 1, "key:a", ReasonRPM)

	par := map[string]Limit{"user:alice": {Parallel: 1}}
	rel := mustAllow(t, a, par, 1)
	mustDeny(t, b, par, 1, "user:alice", ReasonParallel)
	rel(0, 0)
	mustAllow(t, b, par, 1)(0, 0)

	tpm := map[string]Limit{"project:shop": {TPM: 100, Budget: 1, BudgetPeriod: time.Hour}}
	mustAllow(t, a, tpm, 1)(100, 0.4)
	mustDeny(t, b, tpm, 1, "project:shop", ReasonTPM)
	clk.Advance(time.Minute)
	mustAllow(t, b, tpm, 1)(0, 0.6)
	mustDeny(t, a, tpm, 1, "project:shop", ReasonBudget)
}

// TestRedisKeys checks that every key is under the prefix and expires.
func TestRedisKeys(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	prefix := testPrefix(t, c)
	l := NewRedis(c, prefix, nil, Options{Lease: time.Minute})
	s := map[string]Limit{"key:a": {RPM: 5, TPM: 100, Parallel: 2, Budget: 10, BudgetPeriod: time.Hour}}
	mustAllow(t, l, s, 1)(10, 0.01)
	mustAllow(t, l, s, 1) // holds a lease

	keys, err := c.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 {
		t.Errorf("keys = %q; want rpm, tpm, par and bud", keys)
	}
	for _, k := range keys {
		ttl, err := c.PTTL(t.Context(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > time.Hour+time.Minute {
			t.Errorf("PTTL %s = %v; want in (0, 1h1m]", k, ttl)
		}
	}
}

// TestRedisDown points the limiter at a closed port.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { c.Close() })
	s := map[string]Limit{"key:a": {RPM: 1, Parallel: 1}}

	open := NewRedis(c, "memproxy-test:down:", nil, Options{})
	for range 3 { // fail open ignores every limit
		d, rel, err := open.Admit(t.Context(), s, 1)
		if !errors.Is(err, ErrUnavailable) || !d.Allowed || rel == nil {
			t.Fatalf("fail open: Admit = %+v, %v; want allowed and ErrUnavailable", d, err)
		}
		rel(10, 0.1) // logged, not panicking
	}

	closed := NewRedis(c, "memproxy-test:down:", nil, Options{FailClosed: true})
	d, rel, err := closed.Admit(t.Context(), s, 1)
	if !errors.Is(err, ErrUnavailable) || d.Allowed || d.Reason != ReasonUnavailable || d.RetryAfter <= 0 || rel == nil {
		t.Fatalf("fail closed: Admit = %+v, %v; want denied (unavailable) and ErrUnavailable", d, err)
	}

	// Nothing limited: Redis is not asked.
	if d, _, err := closed.Admit(t.Context(), map[string]Limit{"key:a": {}}, 1); err != nil || !d.Allowed {
		t.Errorf("Admit without limits = %+v, %v; want allowed", d, err)
	}
}
