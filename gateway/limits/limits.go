// Package limits enforces per-subject rate limits and spend budgets before a
// provider call. A subject is any string the caller chooses, conventionally
// "key:<id>", "user:<name>" or "project:<name>"; one request is usually
// checked against several subjects at once.
//
// Two implementations share one contract (and one conformance test):
// NewMemory for a single replica and NewRedis for counters shared by every
// replica of the gateway.
//
// # Algorithms
//
// Requests per minute (RPM) and tokens per minute (TPM) use a sliding window
// of 60 s kept in sixty 1 s buckets: a request or token counts from the
// moment it is recorded until 59–60 s later, when its bucket leaves the
// window. RetryAfter is the time until enough of the oldest buckets leave
// the window for the denied request to fit, so it is always in (0, 60 s].
//
// A request is counted for RPM when it is admitted; its tokens are counted
// for TPM when it is released, with the actual total. Admission checks
// TPM with the caller's estimate: the window's tokens plus estTokens (at
// least 1) must not exceed TPM. So that a request larger than the whole
// limit is not refused forever, a subject whose TPM window is empty admits
// any estimate.
//
// Parallel is a count of leases: each admitted request holds one until it is
// released, or until the lease runs out (DefaultLease) so that a replica that
// crashed does not hold slots forever. A request running longer than its
// lease stops counting against Parallel. RetryAfter for Parallel is a 1 s
// hint, since a slot frees when some request ends.
//
// Budget is the spend (USD) charged by releases within the current budget
// period. Periods are aligned to the Unix epoch, not rolling: with a
// BudgetPeriod of 24 h the budget resets at 00:00 UTC, with 1 h at the top of
// each hour; a 30-day period is 30 days counted from 1970-01-01, not a
// calendar month. A subject whose spend has reached Budget is denied until
// the period ends (RetryAfter); the request that crosses the budget is not
// stopped, as its cost is known only when it ends.
//
// A zero (or negative) RPM, TPM, Parallel or Budget means no limit of that
// kind; a zero BudgetPeriod means DefaultBudgetPeriod.
//
// # When Redis is down
//
// The Redis limiter fails open by default: Admit admits the request
// unchecked, logs the error and also returns it (wrapping ErrUnavailable),
// so the caller proceeds and counts the failure. With Options.FailClosed it
// denies with ReasonUnavailable instead. The rule covers every kind of
// limit, budgets included; see Options.FailClosed for the trade-off.
package limits

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// Limit is the set of limits of one subject. Zero fields are unlimited.
type Limit struct {
	RPM      int     // requests admitted per sliding minute
	TPM      int     // tokens (prompt + completion) released per sliding minute
	Parallel int     // requests in flight at once
	Budget   float64 // USD spent per BudgetPeriod
	// BudgetPeriod is the length of the epoch-aligned budget window;
	// zero means DefaultBudgetPeriod.
	BudgetPeriod time.Duration
}

func (l Limit) limited() bool {
	return l.RPM > 0 || l.TPM > 0 || l.Parallel > 0 || l.Budget > 0
}

func (l Limit) period() time.Duration {
	if l.BudgetPeriod <= 0 {
		return DefaultBudgetPeriod
	}
	return l.BudgetPeriod
}

// Reasons a Decision denies a request.
const (
	ReasonRPM      = "rpm"
	ReasonTPM      = "tpm"
	ReasonParallel = "parallel"
	ReasonBudget   = "budget"
	// ReasonUnavailable: the counters could not be read and the limiter
	// fails closed (Options.FailClosed). Callers answer 503, not 429.
	ReasonUnavailable = "unavailable"
)

// Defaults.
const (
	// DefaultLease is how long an admitted request holds its Parallel slot
	// when it is never released (a crashed replica, a lost release).
	DefaultLease = 10 * time.Minute
	// DefaultBudgetPeriod is the budget period of a Limit without one.
	DefaultBudgetPeriod = 30 * 24 * time.Hour
	// ParallelRetryAfter is the RetryAfter of a Parallel denial.
	ParallelRetryAfter = time.Second
	// UnavailableRetryAfter is the RetryAfter of a fail-closed denial.
	UnavailableRetryAfter = time.Second
)

// ErrUnavailable is wrapped by the error Admit returns when the counter
// store (Redis) cannot be reached or answers with an error. The Decision
// then follows the limiter's fail rule: admitted when failing open (the
// default), denied with ReasonUnavailable when failing closed. Either way
// the caller should count the error; a cancelled ctx is returned as
// ctx.Err() instead, with a denial.
var ErrUnavailable = errors.New("limits: counter store unavailable")

// Decision is the outcome of Admit.
type Decision struct {
	Allowed bool
	// Reason is one of the Reason constants when !Allowed.
	Reason string
	// RetryAfter is, when !Allowed, how long until the limit that denied
	// the request would admit it (given no other traffic).
	RetryAfter time.Duration
	// Subject is the subject whose limit denied the request.
	Subject string
}

// Release ends an admitted request: it frees the Parallel slot and charges
// the request's actual tokens (TPM) and cost in USD (Budget). Only its
// first call has an effect; it is safe to call from any goroutine and never
// blocks for long (the Redis limiter bounds its write by ReleaseTimeout).
type Release = func(tokens int64, cost float64)

// Limiter admits requests against the limits of their subjects.
type Limiter interface {
	// Admit checks every subject's limits before a provider call and, when
	// all allow it, counts the request (RPM) and takes a Parallel slot for
	// each subject; the returned release must then be called when the
	// request ends, with its actual tokens and cost (TPM and Budget are
	// charged then).
	//
	// When any subject denies, nothing is counted for any subject and the
	// Decision names the denial with the longest RetryAfter (ties: the first
	// subject in byte order, then budget, parallel, rpm, tpm). release is
	// then a no-op. Subjects whose Limit has no limit set are ignored.
	//
	// release is never nil. A non-nil error wraps ErrUnavailable (see there
	// for the Decision that comes with it) or is ctx.Err().
	Admit(ctx context.Context, subjects map[string]Limit, estTokens int) (Decision, Release, error)
}

func noRelease(int64, float64) {}

// once makes release idempotent.
func once(f func(int64, float64)) Release {
	var o sync.Once
	return func(tokens int64, cost float64) { o.Do(func() { f(tokens, cost) }) }
}

// subjectLimit is one subject to check, copied from the caller's map so that
// release does not depend on it.
type subjectLimit struct {
	name string
	Limit
}

// limitedSubjects returns the subjects with at least one limit, sorted by
// name.
func limitedSubjects(subjects map[string]Limit) []subjectLimit {
	var out []subjectLimit
	for s, l := range subjects {
		if l.limited() {
			out = append(out, subjectLimit{s, l})
		}
	}
	slices.SortFunc(out, func(a, b subjectLimit) int { return strings.Compare(a.name, b.name) })
	return out
}

// window is the sliding-window geometry shared by both implementations (the
// Lua scripts repeat it).
const (
	windowBuckets = 60   // buckets per window
	bucketMillis  = 1000 // bucket width
)

// periodOf returns the index of the epoch-aligned period holding nowMs and
// the time (Unix ms) it ends.
func periodOf(nowMs int64, p time.Duration) (index, endMs int64) {
	pm := p.Milliseconds()
	if pm <= 0 {
		pm = 1
	}
	index = floorDiv(nowMs, pm)
	return index, (index + 1) * pm
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// denial tracks the strictest denial found so far.
type denial struct {
	d     Decision
	found bool
}

func (x *denial) add(subject, reason string, retry time.Duration) {
	if !x.found || retry > x.d.RetryAfter {
		x.d = Decision{Reason: reason, RetryAfter: retry, Subject: subject}
		x.found = true
	}
}
