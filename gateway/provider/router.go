package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Routing strategies: how a Router picks among a model's deployments.
const (
	// StrategySimpleShuffle picks at random (LiteLLM's default).
	StrategySimpleShuffle = "simple-shuffle"
	// StrategyLeastBusy picks the deployment with the fewest calls in
	// flight through this Router.
	StrategyLeastBusy = "least-busy"
)

// ErrNoDeployment is returned (wrapped) by Router.Call when neither the
// model nor any of its fallbacks has a deployment.
var ErrNoDeployment = errors.New("no deployment serves this model")

const (
	// maxRetryAfter: a longer Retry-After is not waited for (the client
	// should not hang that long); the ordinary backoff applies.
	maxRetryAfter = 30 * time.Second
	maxBackoff    = 30 * time.Second // cap of the exponential backoff
	failWindow    = time.Minute      // older failures do not count toward AllowedFails
)

// RouterOptions configures a Router. The zero value means one attempt per
// model name, no backoff, no cooldown and simple-shuffle.
type RouterOptions struct {
	// Retries is how many times a call is retried per model name, so each
	// name gets 1+Retries attempts, spread over its deployments.
	Retries int
	// Backoff is the base of the exponential backoff between tries of one
	// model name: before retry n (n ≥ 1) the Router waits a random time in
	// [0, Backoff·2^(n-1)) ("full jitter"), at most 30 s. A fallback's
	// first try does not wait.
	Backoff time.Duration
	// Cooldown is how long a deployment that failed AllowedFails times
	// within a minute is skipped. Cooldown ≤ 0 or AllowedFails < 1: never.
	Cooldown     time.Duration
	AllowedFails int
	// Strategy is StrategySimpleShuffle or StrategyLeastBusy. "" and
	// unknown values mean simple-shuffle (config refuses unknown ones).
	Strategy string
	// Fallbacks maps a model name to the names tried, in order, once its
	// own attempts failed. It is not transitive: only the requested
	// model's list is used.
	Fallbacks map[string][]string

	// Rand is the source of jitter and random picks (nil: math/rand/v2's
	// global source). The Router uses it under its lock.
	Rand *rand.Rand
	// Now reads the clock for cooldowns and Retry-After dates (nil:
	// time.Now).
	Now func() time.Time
	// Sleep waits d, or until ctx is done and then returns ctx.Err() (nil:
	// a timer).
	Sleep func(ctx context.Context, d time.Duration) error
	// Share, when set, announces cooldowns to other replicas; Sync takes
	// theirs (see HealthShare).
	Share HealthShare
}

// Router spreads calls for a model name over its deployments and retries,
// backs off, cools down failing deployments and falls back to other model
// names. It is safe for concurrent use; its health state lives as long as
// the Router.
type Router struct {
	opts  RouterOptions
	plans map[string][][]*Deployment // model -> its deployments, then each fallback's; fixed
	state map[*Deployment]*depState  // fixed at NewRouter; read without lock

	mu sync.Mutex // guards opts.Rand and the health fields of every depState
}

// depState is one deployment's health and load.
type depState struct {
	inflight atomic.Int64 // attempts running or responses not yet closed
	id       string       // deploymentID, fixed

	// Guarded by Router.mu.
	fails     []time.Time // failures within failWindow, oldest first
	coolUntil time.Time
	lastFail  time.Time
}

// NewRouter returns a Router over the deployments of t.
func NewRouter(t *Table, opts RouterOptions) *Router {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	opts.Retries = max(opts.Retries, 0)
	r := &Router{opts: opts, plans: map[string][][]*Deployment{}, state: map[*Deployment]*depState{}}
	for name, deps := range t.byName {
		for i, d := range deps {
			r.state[d] = &depState{id: deploymentID(name, i)}
		}
	}
	for _, name := range slices.Concat(t.names, slices.Collect(maps.Keys(opts.Fallbacks))) {
		r.plans[name] = plan(t, name, opts.Fallbacks[name])
	}
	r.opts.Fallbacks = nil // the plans hold them
	return r
}

// plan lists the deployments to try for model: its own, then each
// fallback's, skipping names without deployments and names seen before.
func plan(t *Table, model string, fallbacks []string) [][]*Deployment {
	var out [][]*Deployment
	seen := map[string]bool{}
	for _, name := range append([]string{model}, fallbacks...) {
		if deps := t.byName[name]; !seen[name] && len(deps) > 0 {
			out = append(out, deps)
		}
		seen[name] = true
	}
	return out
}

// Call finds the deployments of model, then of its fallbacks in order,
// and calls attempt on one after another until one gives an answer that
// is not retryable. attempt builds and sends the request for the
// deployment it is given (the body differs per dialect).
//
// Retryable are: an error other than ctx's own cancellation and
// ErrUnsupported (connection refused or reset, ErrTimeout, …), and a
// response with status 429, 500, 502, 503, 504 or 529, whose body is
// closed before the next try. Each model name gets 1+Retries attempts,
// untried deployments first; a deployment cooling down is skipped while
// another is available (if all are cooling, the least recently failed
// one is tried anyway). Between tries of one name the Router backs off,
// or waits what a 429/503's Retry-After (or Retry-After-Ms) asks when
// that is shorter than 30 s.
//
// Call returns the answer (2xx or a non-retryable status; the caller
// closes its Body), the deployment that gave it and the number of
// attempts made. When every attempt failed it returns the last one's
// response (not closed) or error. When ctx is cancelled it stops at once
// and returns ctx.Err(). Without deployments it returns ErrNoDeployment.
func (r *Router) Call(ctx context.Context, model string, attempt func(ctx context.Context, d *Deployment) (*Response, error)) (*Response, *Deployment, int, error) {
	plan := r.plans[model]
	if len(plan) == 0 {
		return nil, nil, 0, fmt.Errorf("%w: %s", ErrNoDeployment, model)
	}
	budget := 1 + r.opts.Retries
	total := len(plan) * budget
	var resp *Response
	var dep *Deployment
	var err error
	var n int
	var hint time.Duration // the last failure's Retry-After; -1: none
	for _, deps := range plan {
		var tried []bool
		if len(deps) > 1 {
			tried = make([]bool, len(deps))
		}
		for try := range budget {
			if try > 0 {
				if serr := r.opts.Sleep(ctx, r.wait(try, hint)); serr != nil {
					return nil, dep, n, serr
				}
			}
			if cerr := ctx.Err(); cerr != nil {
				return nil, dep, n, cerr
			}
			dep = r.pick(deps, tried)
			n++
			resp, err = r.try(ctx, dep, attempt)
			if ctx.Err() != nil && (err != nil || retryableStatus(resp.Status)) {
				closeBody(resp)
				return nil, dep, n, ctx.Err()
			}
			if !retryable(resp, err) {
				if err == nil && resp.Status < 400 {
					r.succeeded(dep)
				}
				return resp, dep, n, err
			}
			r.failed(dep)
			hint = retryAfter(resp, r.opts.Now())
			if n < total {
				closeBody(resp)
			}
		}
	}
	return resp, dep, n, err
}

// try runs one attempt on d, whose in-flight count pick has raised: it is
// lowered when attempt fails, or when the response's Body is closed.
func (r *Router) try(ctx context.Context, d *Deployment, attempt func(context.Context, *Deployment) (*Response, error)) (resp *Response, err error) {
	s := r.state[d]
	settled := false
	defer func() {
		if !settled { // attempt panicked
			s.inflight.Add(-1)
		}
	}()
	resp, err = attempt(ctx, d)
	settled = true
	if err == nil && resp == nil {
		err = errors.New("provider: attempt returned neither a response nor an error")
	}
	if err != nil {
		closeBody(resp)
		s.inflight.Add(-1)
		return nil, err
	}
	body := resp.Body
	if body == nil {
		body = http.NoBody
	}
	out := *resp
	out.Body = &trackedBody{ReadCloser: body, s: s}
	return &out, nil
}

// trackedBody lowers its deployment's in-flight count on the first Close.
type trackedBody struct {
	io.ReadCloser
	s      *depState
	closed atomic.Bool
}

func (b *trackedBody) Close() error {
	err := b.ReadCloser.Close()
	if b.closed.CompareAndSwap(false, true) {
		b.s.inflight.Add(-1)
	}
	return err
}

func closeBody(resp *Response) {
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
}

// retryableStatus reports whether an upstream status is worth another
// try: rate limited, or a server-side failure (529: Anthropic overloaded).
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout, 529:
		return true
	}
	return false
}

// retryable classifies an attempt's outcome (ctx's cancellation is handled
// before). ErrUnsupported is a property of the deployment's adapter that
// no retry changes.
func retryable(resp *Response, err error) bool {
	if err != nil {
		return !errors.Is(err, ErrUnsupported)
	}
	return retryableStatus(resp.Status)
}

// retryAfter returns how long a 429 or 503 asks the caller to wait, from
// Retry-After-Ms (OpenAI) or Retry-After (seconds or an HTTP date); -1
// when there is no usable value or it is 30 s or more.
func retryAfter(resp *Response, now time.Time) time.Duration {
	if resp == nil || (resp.Status != http.StatusTooManyRequests && resp.Status != http.StatusServiceUnavailable) {
		return -1
	}
	ms, err := strconv.ParseFloat(strings.TrimSpace(resp.Header.Get("Retry-After-Ms")), 64)
	if err != nil {
		v := strings.TrimSpace(resp.Header.Get("Retry-After"))
		if secs, serr := strconv.ParseInt(v, 10, 32); serr == nil {
			ms, err = float64(secs)*1000, nil
		} else if t, terr := http.ParseTime(v); terr == nil {
			ms, err = float64(max(t.Sub(now), 0)/time.Millisecond), nil
		}
	}
	if err != nil || !(ms >= 0 && ms < float64(maxRetryAfter/time.Millisecond)) { // NaN too
		return -1
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// wait is the pause before retry try (≥ 1) of a model name: the last
// failure's Retry-After when it gave one, else full jitter over the
// exponential backoff.
func (r *Router) wait(try int, hint time.Duration) time.Duration {
	if hint >= 0 {
		return hint
	}
	ceil := r.opts.Backoff
	for i := 1; i < try && ceil < maxBackoff; i++ {
		ceil *= 2
	}
	if ceil = min(ceil, maxBackoff); ceil <= 0 {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Duration(r.int64n(int64(ceil)))
}

// int64n returns a random number in [0, n). Called with r.mu held.
func (r *Router) int64n(n int64) int64 {
	if r.opts.Rand != nil {
		return r.opts.Rand.Int64N(n)
	}
	return rand.Int64N(n)
}

// pick chooses the next deployment among deps and raises its in-flight
// count. tried (nil for a single deployment) marks those this call has
// used; untried available ones come first.
func (r *Router) pick(deps []*Deployment, tried []bool) *Deployment {
	if len(deps) == 1 {
		r.state[deps[0]].inflight.Add(1)
		return deps[0]
	}
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var fresh, avail []int
	for i, d := range deps {
		if now.Before(r.state[d].coolUntil) {
			continue
		}
		avail = append(avail, i)
		if !tried[i] {
			fresh = append(fresh, i)
		}
	}
	cands := fresh
	if len(cands) == 0 {
		cands = avail
	}
	i := 0
	for j := range deps { // if all are cooling: never refuse outright
		if r.state[deps[j]].lastFail.Before(r.state[deps[i]].lastFail) {
			i = j
		}
	}
	if len(cands) > 0 {
		i = r.choose(deps, cands)
	}
	tried[i] = true
	r.state[deps[i]].inflight.Add(1)
	return deps[i]
}

// choose applies the strategy to the candidate indexes of deps. Called
// with r.mu held.
func (r *Router) choose(deps []*Deployment, cands []int) int {
	if r.opts.Strategy == StrategyLeastBusy {
		least := cands[:0:0]
		var low int64
		for _, i := range cands {
			switch n := r.state[deps[i]].inflight.Load(); {
			case len(least) == 0 || n < low:
				least, low = append(least[:0], i), n
			case n == low:
				least = append(least, i)
			}
		}
		cands = least
	}
	return cands[r.int64n(int64(len(cands)))]
}

// failed records a retryable failure of d and starts its cooldown once it
// failed AllowedFails times within a minute.
func (r *Router) failed(d *Deployment) {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state[d]
	s.lastFail = now
	if r.opts.AllowedFails < 1 || r.opts.Cooldown <= 0 {
		return
	}
	old := 0
	for old < len(s.fails) && now.Sub(s.fails[old]) >= failWindow {
		old++
	}
	s.fails = append(s.fails[old:], now)
	if len(s.fails) >= r.opts.AllowedFails {
		s.coolUntil = now.Add(r.opts.Cooldown)
		s.fails = s.fails[:0]
		id, until := s.id, s.coolUntil
		r.announce(func(ctx context.Context, h HealthShare) error { return h.Cool(ctx, id, until) })
	}
}

// succeeded forgets d's failures and ends its cooldown.
func (r *Router) succeeded(d *Deployment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state[d]
	s.fails = s.fails[:0]
	if !s.coolUntil.IsZero() {
		id := s.id
		r.announce(func(ctx context.Context, h HealthShare) error { return h.Clear(ctx, id) })
	}
	s.coolUntil = time.Time{}
}

// sleep waits d or until ctx is done, and returns ctx.Err().
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return ctx.Err()
}
