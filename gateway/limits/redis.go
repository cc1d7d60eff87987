package limits

import (
	"context"
	"crypto/rand"
	_ "embed"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options tune the Redis limiter. Zero values take the defaults.
type Options struct {
	// FailClosed chooses what Admit does when Redis cannot be reached or
	// answers with an error. false (fail open, the default and the
	// recommendation): the request is admitted without any limit (rpm,
	// tpm, parallel and budget alike), the error is logged, and Admit
	// returns it wrapping ErrUnavailable so the caller can count it; a
	// Redis outage then costs limit enforcement, not availability, and
	// spend stays recorded in the usage log. true: the request is denied
	// with ReasonUnavailable (answer 503), for deployments where an
	// unenforced budget is worse than an outage.
	FailClosed bool
	// Lease is how long an unreleased request holds its Parallel slot
	// (default DefaultLease). Set it above the longest request the gateway
	// allows: a longer request stops counting once its lease ends.
	Lease time.Duration
	// Timeout bounds the Redis call of an Admit (default 500 ms), so that
	// an unreachable Redis delays a request by at most that much before the
	// fail rule applies. Give the client short dial and read timeouts too.
	Timeout time.Duration
	// ReleaseTimeout bounds the Redis write of a release (default 2 s).
	ReleaseTimeout time.Duration
	// Logger receives the errors of Redis calls (default: discarded).
	Logger *slog.Logger
}

// NewRedis returns a Limiter whose counters live in Redis, shared by every
// replica that uses the same Redis and prefix. Each Admit and each release
// is one Lua script, so the check-then-count of all subjects is atomic
// across replicas. now is the clock (nil: time.Now); replicas' clocks should
// agree to well under a second (NTP), since each writes buckets by its own.
//
// Keys start with prefix (e.g. "memproxy:limits:") and all expire: window
// hashes 61 s after their last write, lease sets Lease + 1 min after the last
// admission, budget counters 1 min after their period ends. A request's keys
// are used by one script, so they must live on one Redis node: a plain or
// Sentinel-managed client, not Redis Cluster.
func NewRedis(client *redis.Client, prefix string, now func() time.Time, opts Options) Limiter {
	if now == nil {
		now = time.Now
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	if opts.ReleaseTimeout <= 0 {
		opts.ReleaseTimeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &redisLimiter{client: client, prefix: prefix, now: now, opts: opts}
}

type redisLimiter struct {
	client *redis.Client
	prefix string
	now    func() time.Time
	opts   Options
}

var _ Limiter = (*redisLimiter)(nil)

// admitSrc is admit.lua, run as admitScript. For n subjects (sorted by name):
//
//	KEYS[4i+1..4i+4]: rpm window hash, tpm window hash, lease zset, budget counter
//	ARGV[1..5]:       now (Unix ms), lease id, lease expiry (Unix ms), lease zset TTL (ms), tokens needed (≥ 1)
//	ARGV[5i+6..5i+10]: rpm, tpm, parallel, budget (USD), budget period end (Unix ms)
//
// It returns {1} when admitted, else {0, subject index (1-based), reason,
// retry-after ms}.
//
//go:embed admit.lua
var admitSrc string
var admitScript = redis.NewScript(admitSrc)

// releaseSrc is release.lua, run as releaseScript. For n subjects:
//
//	KEYS[3i+1..3i+3]: tpm window hash, lease zset, budget counter
//	ARGV[1..4]:       now (Unix ms), lease id, tokens, cost (USD)
//	ARGV[4i+5..4i+8]: "1" to charge tpm, "1" to free the lease, "1" to charge the budget, budget TTL (ms)
//
//go:embed release.lua
var releaseSrc string
var releaseScript = redis.NewScript(releaseSrc)

func (r *redisLimiter) key(kind, subject string) string { return r.prefix + kind + ":" + subject }

// budgetKey names the counter of the budget period holding nowMs; it also
// returns the period's end.
func (r *redisLimiter) budgetKey(l subjectLimit, nowMs int64) (string, int64) {
	idx, end := periodOf(nowMs, l.period())
	return r.prefix + "bud:" + strconv.FormatInt(l.period().Milliseconds(), 10) + ":" +
		strconv.FormatInt(idx, 10) + ":" + l.name, end
}

// Admit implements Limiter.
func (r *redisLimiter) Admit(ctx context.Context, subjects map[string]Limit, estTokens int) (Decision, Release, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, noRelease, err
	}
	names := limitedSubjects(subjects)
	if len(names) == 0 {
		return Decision{Allowed: true}, noRelease, nil
	}
	nowMs := r.now().UnixMilli()
	lease := rand.Text()
	leaseMs := r.opts.Lease.Milliseconds()
	keys := make([]string, 0, 4*len(names))
	args := make([]any, 0, 5+5*len(names))
	args = append(args, nowMs, lease, nowMs+leaseMs, leaseMs+time.Minute.Milliseconds(), max(int64(estTokens), 1))
	for _, l := range names {
		bud, end := r.budgetKey(l, nowMs)
		keys = append(keys, r.key("rpm", l.name), r.key("tpm", l.name), r.key("par", l.name), bud)
		args = append(args, l.RPM, l.TPM, l.Parallel, strconv.FormatFloat(l.Budget, 'g', -1, 64), end)
	}
	callCtx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	res, err := admitScript.Run(callCtx, r.client, keys, args...).Slice()
	cancel()
	if err == nil {
		var d Decision
		if d, err = parseAdmit(res, names); err == nil {
			if !d.Allowed {
				return d, noRelease, nil
			}
			return d, r.releaser(ctx, names, lease), nil
		}
	}
	if ctx.Err() != nil {
		return Decision{}, noRelease, ctx.Err()
	}
	err = fmt.Errorf("%w: admit: %w", ErrUnavailable, err)
	if r.opts.FailClosed {
		r.opts.Logger.ErrorContext(ctx, "rate limits unavailable; denying (fail closed)", "err", err)
		return Decision{Reason: ReasonUnavailable, RetryAfter: UnavailableRetryAfter}, noRelease, err
	}
	r.opts.Logger.ErrorContext(ctx, "rate limits unavailable; admitting without limits (fail open)", "err", err)
	// The release still tries to charge tokens and cost: Redis may be back
	// by the time the request ends.
	return Decision{Allowed: true}, r.releaser(ctx, names, lease), err
}

// parseAdmit reads admit.lua's reply.
func parseAdmit(res []any, names []subjectLimit) (Decision, error) {
	if len(res) == 1 && res[0] == int64(1) {
		return Decision{Allowed: true}, nil
	}
	if len(res) == 4 && res[0] == int64(0) {
		i, iok := res[1].(int64)
		reason, rok := res[2].(string)
		ms, mok := res[3].(int64)
		if iok && rok && mok && i >= 1 && int(i) <= len(names) {
			return Decision{Reason: reason, RetryAfter: time.Duration(ms) * time.Millisecond, Subject: names[i-1].name}, nil
		}
	}
	return Decision{}, fmt.Errorf("unexpected reply %v", res)
}

// releaser returns the release of an admitted request. Its write gets its
// own ctx (the request's may be cancelled by then), bounded by
// ReleaseTimeout; a failure is logged.
func (r *redisLimiter) releaser(ctx context.Context, names []subjectLimit, lease string) Release {
	ctx = context.WithoutCancel(ctx)
	return once(func(tokens int64, cost float64) {
		ctx, cancel := context.WithTimeout(ctx, r.opts.ReleaseTimeout)
		defer cancel()
		nowMs := r.now().UnixMilli()
		costArg := "0"
		if validCost(cost) {
			costArg = strconv.FormatFloat(cost, 'g', -1, 64)
		}
		keys := make([]string, 0, 3*len(names))
		args := make([]any, 0, 4+4*len(names))
		args = append(args, nowMs, lease, max(tokens, 0), costArg)
		work := false
		for _, l := range names {
			bud, end := r.budgetKey(l, nowMs)
			keys = append(keys, r.key("tpm", l.name), r.key("par", l.name), bud)
			chargeTPM, free, chargeBudget := l.TPM > 0 && tokens > 0, l.Parallel > 0, l.Budget > 0 && costArg != "0"
			args = append(args, flag(chargeTPM), flag(free), flag(chargeBudget), end-nowMs+time.Minute.Milliseconds())
			work = work || chargeTPM || free || chargeBudget
		}
		if !work {
			return
		}
		if err := releaseScript.Run(ctx, r.client, keys, args...).Err(); err != nil {
			r.opts.Logger.ErrorContext(ctx, "rate limits: release not recorded", "err", err, "tokens", tokens, "cost", cost)
		}
	})
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
