package limits

// The conformance suite: every Limiter runs the same table, so the memory
// and the Redis limiter enforce the same contract.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock shared by the limiters of one test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// t0 is 250 ms into a second, so that bucket arithmetic is visible.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 250e6, time.UTC)

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// opener returns a new, empty limiter on clk; its state is cleaned up when
// t ends.
type opener func(t *testing.T, clk *clock) Limiter

func runConformance(t *testing.T, open opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, l Limiter, clk *clock)
	}{
		{"Unlimited", testUnlimited},
		{"RPM", testRPM},
		{"RPMSliding", testRPMSliding},
		{"TPM", testTPM},
		{"TPMLargeRequestOnEmptyWindow", testTPMLarge},
		{"Parallel", testParallel},
		{"ParallelLease", testParallelLease},
		{"Budget", testBudget},
		{"SeveralSubjects", testSeveralSubjects},
		{"StrictestDenies", testStrictest},
		{"ReleaseOnce", testReleaseOnce},
		{"DeniedReleaseIsNoop", testDeniedRelease},
		{"Cancelled", testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			tc.fn(t, open(t, clk), clk)
		})
	}
}

func admit(t *testing.T, l Limiter, subjects map[string]Limit, est int) (Decision, Release) {
	t.Helper()
	d, rel, err := l.Admit(t.Context(), subjects, est)
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	if rel == nil {
		t.Fatalf("Admit returned a nil release")
	}
	return d, rel
}

func mustAllow(t *testing.T, l Limiter, subjects map[string]Limit, est int) Release {
	t.Helper()
	d, rel := admit(t, l, subjects, est)
	if !d.Allowed {
		t.Fatalf("Admit = %+v; want allowed", d)
	}
	return rel
}

func mustDeny(t *testing.T, l Limiter, subjects map[string]Limit, est int, subject, reason string) Decision {
	t.Helper()
	d, _ := admit(t, l, subjects, est)
	if d.Allowed || d.Subject != subject || d.Reason != reason {
		t.Fatalf("Admit = %+v; want denied by %s for %s", d, subject, reason)
	}
	if d.RetryAfter <= 0 {
		t.Fatalf("RetryAfter = %v; want > 0", d.RetryAfter)
	}
	return d
}

func inWindow(t *testing.T, d Decision) {
	t.Helper()
	if d.RetryAfter <= 0 || d.RetryAfter > time.Minute {
		t.Errorf("RetryAfter = %v; want in (0, 60s]", d.RetryAfter)
	}
}

func testUnlimited(t *testing.T, l Limiter, _ *clock) {
	for _, s := range []map[string]Limit{nil, {}, {"key:a": {}}, {"key:a": {BudgetPeriod: time.Hour, RPM: -1}}} {
		for range 5 {
			mustAllow(t, l, s, 1e9)(1e9, 1e9)
		}
	}
}

func testRPM(t *testing.T, l Limiter, clk *clock) {
	s := map[string]Limit{"key:a": {RPM: 3}}
	for range 3 {
		mustAllow(t, l, s, 10)(10, 0)
	}
	d := mustDeny(t, l, s, 10, "key:a", ReasonRPM)
	inWindow(t, d)
	// All three were counted in the bucket of second 12:00:00, which leaves
	// the window at 12:01:00: 59.75 s after t0.
	if want := 59750 * time.Millisecond; d.RetryAfter != want {
		t.Errorf("RetryAfter = %v; want %v", d.RetryAfter, want)
	}
	clk.Advance(d.RetryAfter - time.Millisecond)
	mustDeny(t, l, s, 10, "key:a", ReasonRPM)
	clk.Advance(time.Millisecond)
	mustAllow(t, l, s, 10)
}

func testRPMSliding(t *testing.T, l Limiter, clk *clock) {
	s := map[string]Limit{"user:alice": {RPM: 3}}
	mustAllow(t, l, s, 0)
	clk.Advance(30 * time.Second)
	mustAllow(t, l, s, 0)
	mustAllow(t, l, s, 0)
	// The first request leaves the window first: 29.75 s from now.
	d := mustDeny(t, l, s, 0, "user:alice", ReasonRPM)
	if want := 29750 * time.Millisecond; d.RetryAfter != want {
		t.Errorf("RetryAfter = %v; want %v", d.RetryAfter, want)
	}
	clk.Advance(d.RetryAfter)
	mustAllow(t, l, s, 0)
	mustDeny(t, l, s, 0, "user:alice", ReasonRPM)
}

func testTPM(t *testing.T, l Limiter, clk *clock) {
	s := map[string]Limit{"key:a": {TPM: 100}}
	rel := mustAllow(t, l, s, 10)
	// Not charged before release: a second request is admitted.
	mustAllow(t, l, s, 10)(0, 0)
	rel(95, 0)
	d := mustDeny(t, l, s, 10, "key:a", ReasonTPM)
	inWindow(t, d)
	mustAllow(t, l, s, 5)(0, 0) // 95 + 5 fits
	clk.Advance(d.RetryAfter)
	mustAllow(t, l, s, 10)
}

func testTPMLarge(t *testing.T, l Limiter, clk *clock) {
	s := map[string]Limit{"key:a": {TPM: 100}}
	mustAllow(t, l, s, 500)(500, 0)
	d := mustDeny(t, l, s, 500, "key:a", ReasonTPM)
	inWindow(t, d)
	clk.Advance(d.RetryAfter)
	mustAllow(t, l, s, 500)
}

func testParallel(t *testing.T, l Limiter, _ *clock) {
	s := map[string]Limit{"project:shop": {Parallel: 2}}
	const n = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		releases []Release
		denied   []Decision
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			d, rel, err := l.Admit(context.Background(), s, 1)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("Admit: %v", err)
			case d.Allowed:
				releases = append(releases, rel)
			default:
				denied = append(denied, d)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(releases) != 2 || len(denied) != n-2 {
		t.Fatalf("%d allowed, %d denied; want 2 and %d", len(releases), len(denied), n-2)
	}
	for _, d := range denied {
		if d.Reason != ReasonParallel || d.Subject != "project:shop" || d.RetryAfter != ParallelRetryAfter {
			t.Errorf("denied with %+v; want parallel for project:shop after %v", d, ParallelRetryAfter)
		}
	}
	mustDeny(t, l, s, 1, "project:shop", ReasonParallel)
	releases[0](10, 0)
	rel := mustAllow(t, l, s, 1)
	mustDeny(t, l, s, 1, "project:shop", ReasonParallel)
	rel(0, 0)
	releases[1](0, 0)
	mustAllow(t, l, s, 1)
	mustAllow(t, l, s, 1)
}

func testParallelLease(t *testing.T, l Limiter, clk *clock) {
	s := map[string]Limit{"key:a": {Parallel: 1}}
	mustAllow(t, l, s, 1) // never released: its holder crashed
	clk.Advance(DefaultLease - time.Millisecond)
	mustDeny(t, l, s, 1, "key:a", ReasonParallel)
	clk.Advance(time.Millisecond)
	mustAllow(t, l, s, 1)
}

func testBudget(t *testing.T, l Limiter, clk *clock) {
	s := map[string]Limit{"user:alice": {Budget: 1, BudgetPeriod: time.Hour}}
	mustAllow(t, l, s, 1)(100, 0.6)
	// The request that crosses the budget runs; the next one does not.
	mustAllow(t, l, s, 1)(100, 0.5)
	d := mustDeny(t, l, s, 1, "user:alice", ReasonBudget)
	// Periods are epoch-aligned: this one ends at 13:00.
	if want := time.Hour - 250*time.Millisecond; d.RetryAfter != want {
		t.Errorf("RetryAfter = %v; want %v", d.RetryAfter, want)
	}
	clk.Advance(d.RetryAfter - time.Millisecond)
	mustDeny(t, l, s, 1, "user:alice", ReasonBudget)
	clk.Advance(time.Millisecond)
	mustAllow(t, l, s, 1)(0, 0.99)
	mustAllow(t, l, s, 1)(0, 0)
	// A default period is 30 days, aligned to the epoch too.
	s = map[string]Limit{"user:bob": {Budget: 0.01}}
	mustAllow(t, l, s, 1)(0, 0.01)
	d = mustDeny(t, l, s, 1, "user:bob", ReasonBudget)
	end := time.UnixMilli((t0.UnixMilli()/DefaultBudgetPeriod.Milliseconds() + 1) * DefaultBudgetPeriod.Milliseconds())
	if want := end.Sub(clk.Now()); d.RetryAfter != want {
		t.Errorf("RetryAfter = %v; want %v", d.RetryAfter, want)
	}
}

func testSeveralSubjects(t *testing.T, l Limiter, _ *clock) {
	both := map[string]Limit{
		"key:a":      {RPM: 3, TPM: 1000, Parallel: 1},
		"user:alice": {RPM: 1},
	}
	mustAllow(t, l, both, 1)(10, 0)
	d := mustDeny(t, l, both, 1, "user:alice", ReasonRPM)
	inWindow(t, d)
	// Nothing was counted for key:a by the denied request: one used of three
	// RPM, and its single parallel slot is free.
	key := map[string]Limit{"key:a": both["key:a"]}
	mustAllow(t, l, key, 1)(10, 0)
	rel := mustAllow(t, l, key, 1)
	d = mustDeny(t, l, key, 1, "key:a", ReasonRPM)
	if d.Subject != "key:a" {
		t.Errorf("Subject = %q", d.Subject)
	}
	rel(0, 0)
}

func testStrictest(t *testing.T, l Limiter, _ *clock) {
	s := map[string]Limit{
		"key:a":        {RPM: 1},
		"user:alice":   {Budget: 0.5, BudgetPeriod: 24 * time.Hour},
		"project:shop": {Parallel: 1},
	}
	mustAllow(t, l, s, 1)(0, 1)
	// All three deny now (the parallel slot was freed, so take it again).
	hold := mustAllow(t, l, map[string]Limit{"project:shop": {Parallel: 1}}, 1)
	defer hold(0, 0)
	d := mustDeny(t, l, s, 1, "user:alice", ReasonBudget)
	if d.RetryAfter < time.Hour {
		t.Errorf("RetryAfter = %v; want the budget's (until midnight)", d.RetryAfter)
	}
	delete(s, "user:alice")
	d = mustDeny(t, l, s, 1, "key:a", ReasonRPM)
	inWindow(t, d)
}

func testReleaseOnce(t *testing.T, l Limiter, _ *clock) {
	s := map[string]Limit{"key:a": {TPM: 100, Parallel: 1}}
	rel := mustAllow(t, l, s, 1)
	rel(60, 0)
	rel(60, 0) // no effect: the tokens are charged once
	mustAllow(t, l, s, 40)(0, 0)
}

func testDeniedRelease(t *testing.T, l Limiter, _ *clock) {
	s := map[string]Limit{"key:a": {TPM: 100, Parallel: 1, Budget: 1}}
	hold := mustAllow(t, l, s, 1)
	d, rel := admit(t, l, s, 1)
	if d.Allowed {
		t.Fatalf("second admit allowed with Parallel 1")
	}
	rel(1000, 1000) // a no-op
	hold(0, 0)
	mustAllow(t, l, s, 100)(0, 0)
}

func testCancelled(t *testing.T, l Limiter, _ *clock) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	d, rel, err := l.Admit(ctx, map[string]Limit{"key:a": {RPM: 1}}, 1)
	if !errors.Is(err, context.Canceled) || d.Allowed || rel == nil {
		t.Fatalf("Admit with a cancelled ctx = %+v, %v; want denied, context.Canceled", d, err)
	}
	mustAllow(t, l, map[string]Limit{"key:a": {RPM: 1}}, 1)
}

func TestMemory(t *testing.T) {
	runConformance(t, func(t *testing.T, clk *clock) Limiter { return NewMemory(clk.Now) })
}
