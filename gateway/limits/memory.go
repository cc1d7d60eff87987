package limits

import (
	"context"
	"sync"
	"time"
)

// NewMemory returns a Limiter that keeps its counters in this process: for a
// single replica (several replicas would each allow the full limits). now is
// the clock (nil: time.Now). Its only error is a cancelled ctx. Subjects
// idle for a full window, with nothing in flight or spent, are forgotten.
func NewMemory(now func() time.Time) Limiter {
	if now == nil {
		now = time.Now
	}
	return &memory{now: now, lease: DefaultLease, subjects: map[string]*subjectState{}}
}

type memory struct {
	now   func() time.Time
	lease time.Duration

	mu        sync.Mutex
	subjects  map[string]*subjectState
	nextLease uint64
	lastSweep int64 // bucket of the last sweep
}

var _ Limiter = (*memory)(nil)

type subjectState struct {
	rpm, tpm window
	leases   map[uint64]int64 // lease → expiry (Unix ms)
	budget   struct {
		period time.Duration
		index  int64
		spent  float64
	}
}

// window is a ring of per-second counters; a slot belongs to the second in
// its sec field, and a slot of another second is empty.
type window [windowBuckets]struct{ sec, n int64 }

func (w *window) slot(sec int64) int {
	return int(((sec % windowBuckets) + windowBuckets) % windowBuckets)
}

// used sums the buckets of the window ending at second cur.
func (w *window) used(cur int64) int64 {
	var sum int64
	for _, b := range w {
		if b.sec > cur-windowBuckets && b.sec <= cur {
			sum += b.n
		}
	}
	return sum
}

func (w *window) add(cur, n int64) {
	b := &w[w.slot(cur)]
	if b.sec != cur {
		b.sec, b.n = cur, 0
	}
	b.n += n
}

// retryAfter returns the time from nowMs until the oldest buckets holding at
// least excess have left the window (or all of them, if they hold less).
func (w *window) retryAfter(cur, nowMs, excess int64) time.Duration {
	var cum int64
	last := cur
	for s := cur - windowBuckets + 1; s <= cur; s++ {
		b := w[w.slot(s)]
		if b.sec != s || b.n == 0 {
			continue
		}
		cum += b.n
		last = s
		if cum >= excess {
			break
		}
	}
	return time.Duration((last+windowBuckets)*bucketMillis-nowMs) * time.Millisecond
}

func (m *memory) state(subject string) *subjectState {
	st := m.subjects[subject]
	if st == nil {
		st = &subjectState{leases: map[uint64]int64{}}
		m.subjects[subject] = st
	}
	return st
}

// Admit implements Limiter.
func (m *memory) Admit(ctx context.Context, subjects map[string]Limit, estTokens int) (Decision, Release, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, noRelease, err
	}
	names := limitedSubjects(subjects)
	if len(names) == 0 {
		return Decision{Allowed: true}, noRelease, nil
	}
	need := max(int64(estTokens), 1)

	m.mu.Lock()
	defer m.mu.Unlock()
	nowMs := m.now().UnixMilli()
	cur := floorDiv(nowMs, bucketMillis)
	m.sweep(cur, nowMs)

	var worst denial
	for _, l := range names {
		s, st := l.name, m.state(l.name)
		if l.Budget > 0 {
			idx, end := periodOf(nowMs, l.period())
			if st.budget.period == l.period() && st.budget.index == idx && st.budget.spent >= l.Budget {
				worst.add(s, ReasonBudget, time.Duration(end-nowMs)*time.Millisecond)
			}
		}
		if l.Parallel > 0 {
			for id, exp := range st.leases {
				if exp <= nowMs {
					delete(st.leases, id)
				}
			}
			if len(st.leases) >= l.Parallel {
				worst.add(s, ReasonParallel, ParallelRetryAfter)
			}
		}
		if l.RPM > 0 {
			if used := st.rpm.used(cur); used+1 > int64(l.RPM) {
				worst.add(s, ReasonRPM, st.rpm.retryAfter(cur, nowMs, used+1-int64(l.RPM)))
			}
		}
		if l.TPM > 0 {
			if used := st.tpm.used(cur); used > 0 && used+need > int64(l.TPM) {
				worst.add(s, ReasonTPM, st.tpm.retryAfter(cur, nowMs, used+need-int64(l.TPM)))
			}
		}
	}
	if worst.found {
		return worst.d, noRelease, nil
	}

	m.nextLease++
	lease := m.nextLease
	for _, l := range names {
		st := m.subjects[l.name]
		if l.RPM > 0 {
			st.rpm.add(cur, 1)
		}
		if l.Parallel > 0 {
			st.leases[lease] = nowMs + m.lease.Milliseconds()
		}
	}
	release := func(tokens int64, cost float64) { m.release(names, lease, tokens, cost) }
	return Decision{Allowed: true}, once(release), nil
}

func (m *memory) release(names []subjectLimit, lease uint64, tokens int64, cost float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	nowMs := m.now().UnixMilli()
	cur := floorDiv(nowMs, bucketMillis)
	for _, l := range names {
		st := m.state(l.name)
		delete(st.leases, lease)
		if l.TPM > 0 && tokens > 0 {
			st.tpm.add(cur, tokens)
		}
		if l.Budget > 0 && validCost(cost) {
			idx, _ := periodOf(nowMs, l.period())
			if st.budget.period != l.period() || st.budget.index != idx {
				st.budget.period, st.budget.index, st.budget.spent = l.period(), idx, 0
			}
			st.budget.spent += cost
		}
	}
}

// sweep forgets, at most once a window, the subjects with nothing to
// remember: empty windows, no live lease, no spend in the current period.
func (m *memory) sweep(cur, nowMs int64) {
	if cur-m.lastSweep < windowBuckets {
		return
	}
	m.lastSweep = cur
	for s, st := range m.subjects {
		for id, exp := range st.leases {
			if exp <= nowMs {
				delete(st.leases, id)
			}
		}
		spent := false
		if st.budget.spent > 0 {
			idx, _ := periodOf(nowMs, st.budget.period)
			spent = idx == st.budget.index
		}
		if st.rpm.used(cur) == 0 && st.tpm.used(cur) == 0 && len(st.leases) == 0 && !spent {
			delete(m.subjects, s)
		}
	}
}

// validCost reports whether cost is a positive, finite charge.
func validCost(cost float64) bool { return cost > 0 && cost < 1e300 }
