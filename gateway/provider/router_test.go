package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

type attemptFunc = func(context.Context, *Deployment) (*Response, error)

// rig is a Router over named deployments ("m/0", "m/1", …) with a fake
// clock, a Sleep that records and advances it, and bodies that count
// their closes. At the end of the test no call may be in flight.
type rig struct {
	t      *testing.T
	r      *Router
	deps   map[string]*Deployment
	closes atomic.Int32

	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	calls  []string // deployments attempted, in order
}

// newRig builds spec's deployments: model name, count, model name, ….
func newRig(t *testing.T, opts RouterOptions, spec ...any) *rig {
	g := &rig{t: t, deps: map[string]*Deployment{}, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var list []*Deployment
	for i := 0; i < len(spec); i += 2 {
		for j := range spec[i+1].(int) {
			d := &Deployment{ModelName: spec[i].(string), UpstreamModel: fmt.Sprintf("%s/%d", spec[i], j)}
			g.deps[d.UpstreamModel], list = d, append(list, d)
		}
	}
	opts.Rand = rand.New(rand.NewPCG(1, 2))
	opts.Now = func() time.Time { g.mu.Lock(); defer g.mu.Unlock(); return g.now }
	if opts.Sleep == nil {
		opts.Sleep = func(ctx context.Context, d time.Duration) error {
			g.mu.Lock()
			g.sleeps, g.now = append(g.sleeps, d), g.now.Add(d)
			g.mu.Unlock()
			return ctx.Err()
		}
	}
	g.r = NewRouter(NewTable(list), opts)
	t.Cleanup(func() { checkIdle(t, g.r) })
	return g
}

// checkIdle fails the test unless no call is in flight on any deployment.
func checkIdle(t *testing.T, r *Router) {
	for d, s := range r.state {
		if n := s.inflight.Load(); n != 0 {
			t.Errorf("%s%s: %d calls in flight, want 0", d.ModelName, d.UpstreamModel, n)
		}
	}
}

func (g *rig) advance(d time.Duration) { g.mu.Lock(); g.now = g.now.Add(d); g.mu.Unlock() }

type countingBody struct {
	io.Reader
	n *atomic.Int32
}

func (b *countingBody) Close() error { b.n.Add(1); return nil }

// answer is what a fake deployment gives: a status or an error.
type answer struct {
	status int
	err    error
	header http.Header
}

// script answers the i-th attempt with outs[i] (the last one repeats).
func (g *rig) script(outs ...answer) attemptFunc {
	i := 0
	return g.by(func(*Deployment) answer { i++; return outs[min(i, len(outs))-1] })
}

// by answers depending on the deployment, recording which was called.
func (g *rig) by(f func(d *Deployment) answer) attemptFunc {
	return func(_ context.Context, d *Deployment) (*Response, error) {
		g.mu.Lock()
		g.calls = append(g.calls, d.UpstreamModel)
		g.mu.Unlock()
		a := f(d)
		if a.err != nil {
			return nil, a.err
		}
		return &Response{Status: a.status, Header: a.header, Body: &countingBody{strings.NewReader("{}"), &g.closes}}, nil
	}
}

func (g *rig) call(model string, attempt attemptFunc) (*Response, *Deployment, int, error) {
	return g.r.Call(context.Background(), model, attempt)
}

// do calls model, closes the answer and returns the number of attempts.
func (g *rig) do(model string, attempt attemptFunc) int {
	resp, _, n, _ := g.call(model, attempt)
	closeBody(resp)
	return n
}

// tries counts the attempts made on one deployment.
func (g *rig) tries(name string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(slices.DeleteFunc(slices.Clone(g.calls), func(c string) bool { return c != name }))
}

func (g *rig) cooling(name string) bool {
	g.r.mu.Lock()
	defer g.r.mu.Unlock()
	return g.r.opts.Now().Before(g.r.state[g.deps[name]].coolUntil)
}

var errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

func TestRetry5xxThenSecondDeployment(t *testing.T) {
	g := newRig(t, RouterOptions{Retries: 2, Backoff: 500 * time.Millisecond}, "m", 2)
	resp, d, n, err := g.call("m", g.script(answer{status: 503}, answer{status: 200}))
	if err != nil || resp.Status != 200 || n != 2 {
		t.Fatalf("Call = %v, %v, %d, %v; want 200 after 2 attempts", resp, d, n, err)
	}
	resp.Body.Close()
	if g.calls[0] == g.calls[1] || d.UpstreamModel != g.calls[1] {
		t.Errorf("attempts went to %v (answer from %s); want both deployments", g.calls, d.UpstreamModel)
	}
	if len(g.sleeps) != 1 || g.sleeps[0] < 0 || g.sleeps[0] >= 500*time.Millisecond {
		t.Errorf("sleeps = %v, want one in [0, 500ms)", g.sleeps)
	}
	if c := g.closes.Load(); c != 2 {
		t.Errorf("%d bodies closed, want the 503's and the answer's", c)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	date := time.Date(2026, 1, 1, 0, 0, 7, 0, time.UTC).Format(http.TimeFormat) // rig clock + 7 s
	const jitter = -1                                                           // Retry-After ignored: below Backoff
	for _, tc := range []struct {
		status int
		header http.Header
		want   time.Duration
	}{
		{429, http.Header{"Retry-After": {"2"}}, 2 * time.Second},
		{503, http.Header{"Retry-After": {date}}, 7 * time.Second},
		{429, http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"2"}}, 1500 * time.Millisecond},
		{429, http.Header{"Retry-After": {"0"}}, 0},
		{429, http.Header{"Retry-After": {"30"}}, jitter}, // too long
		{502, http.Header{"Retry-After": {"2"}}, jitter},  // only 429 and 503
		{429, http.Header{"Retry-After": {"soon"}}, jitter},
		{429, http.Header{"Retry-After": {"99999999999"}}, jitter},
	} {
		g := newRig(t, RouterOptions{Retries: 1, Backoff: 100 * time.Millisecond}, "m", 1)
		if n := g.do("m", g.script(answer{status: tc.status, header: tc.header}, answer{status: 200})); n != 2 || len(g.sleeps) != 1 {
			t.Fatalf("%v: %d attempts, sleeps %v", tc.header, n, g.sleeps)
		}
		if got := g.sleeps[0]; tc.want == jitter && got >= 100*time.Millisecond || tc.want != jitter && got != tc.want {
			t.Errorf("%d %v: slept %v, want %v (-1: below 100ms)", tc.status, tc.header, got, tc.want)
		}
	}
}

func TestNonRetryableReturnedAtOnce(t *testing.T) {
	for _, a := range []answer{{status: 400}, {status: 401}, {status: 404}, {status: 501}, {status: 200}, {err: fmt.Errorf("x: %w", ErrUnsupported)}} {
		g := newRig(t, RouterOptions{Retries: 3, AllowedFails: 1, Cooldown: time.Minute}, "m", 2)
		resp, d, n, err := g.call("m", g.script(a, answer{status: 200}))
		if n != 1 || len(g.sleeps) != 0 || d == nil || g.cooling(d.UpstreamModel) {
			t.Errorf("%+v: %d attempts, sleeps %v; want 1, none, no cooldown", a, n, g.sleeps)
		}
		if a.err != nil && (!errors.Is(err, ErrUnsupported) || resp != nil) ||
			a.err == nil && (err != nil || resp.Status != a.status || g.closes.Load() != 0) {
			t.Errorf("%+v: Call = %v, %v, %d closed", a, resp, err, g.closes.Load())
		}
		closeBody(resp)
	}
}

func TestConnectionErrorsRetried(t *testing.T) {
	for _, e := range []error{errRefused, fmt.Errorf("openai: %w: no headers after 1s", ErrTimeout), syscall.ECONNRESET} {
		g := newRig(t, RouterOptions{Retries: 2}, "m", 1)
		resp, _, n, err := g.call("m", g.script(answer{err: e}, answer{err: e}, answer{status: 200}))
		if err != nil || resp.Status != 200 || n != 3 {
			t.Fatalf("%v: Call = %v, %d, %v; want 200 on the third attempt", e, resp, n, err)
		}
		resp.Body.Close()
	}
}

func TestFallbacksAfterBudget(t *testing.T) {
	g := newRig(t, RouterOptions{Retries: 2, Fallbacks: map[string][]string{"m": {"missing", "f1", "f2"}}}, "m", 1, "f1", 1, "f2", 1)
	resp, d, n, err := g.call("m", g.by(func(d *Deployment) answer {
		if d.ModelName == "f2" {
			return answer{status: 200}
		}
		return answer{status: 502}
	}))
	if err != nil || resp.Status != 200 || d.ModelName != "f2" || n != 7 {
		t.Fatalf("Call = %v, %v, %d, %v; want f2's 200 on attempt 7", resp, d, n, err)
	}
	if want := []string{"m/0", "m/0", "m/0", "f1/0", "f1/0", "f1/0", "f2/0"}; !slices.Equal(g.calls, want) {
		t.Errorf("attempts %v, want %v", g.calls, want)
	}
	if len(g.sleeps) != 4 { // two per exhausted name; none before a fallback
		t.Errorf("sleeps %v, want 4", g.sleeps)
	}
	if c := g.closes.Load(); c != 6 {
		t.Errorf("%d discarded bodies closed, want 6", c)
	}
	resp.Body.Close()
}

func TestAllFailedReturnsLast(t *testing.T) {
	g := newRig(t, RouterOptions{Retries: 1, Fallbacks: map[string][]string{"m": {"f"}}}, "m", 2, "f", 1)
	resp, d, n, err := g.call("m", g.script(answer{err: errRefused}, answer{status: 500}, answer{status: 500}, answer{status: 529}))
	if err != nil || resp == nil || resp.Status != 529 || d.ModelName != "f" || n != 4 {
		t.Fatalf("Call = %v, %v, %d, %v; want f's 529 after 4 attempts", resp, d, n, err)
	}
	if c := g.closes.Load(); c != 2 {
		t.Errorf("%d bodies closed, want the two 500s only", c)
	}
	resp.Body.Close()

	g = newRig(t, RouterOptions{Retries: 1}, "m", 1)
	resp, _, n, err = g.call("m", g.script(answer{status: 500}, answer{err: errRefused}))
	if !errors.Is(err, syscall.ECONNREFUSED) || resp != nil || n != 2 || g.closes.Load() != 1 {
		t.Errorf("Call = %v, %d, %v, closes %d; want the last error", resp, n, err, g.closes.Load())
	}
}

func TestCooldownAndRecovery(t *testing.T) {
	g := newRig(t, RouterOptions{Retries: 1, AllowedFails: 2, Cooldown: 30 * time.Second}, "m", 2)
	bad := g.by(func(d *Deployment) answer {
		if d.UpstreamModel == "m/0" {
			return answer{status: 500}
		}
		return answer{status: 200}
	})
	for i := 0; g.tries("m/0") < 2; i++ {
		resp, _, _, err := g.call("m", bad)
		if err != nil || resp.Status != 200 || i == 100 {
			t.Fatalf("Call = %v, %v after %d calls; want m/1's 200, and m/0 tried twice", resp, err, i)
		}
		resp.Body.Close()
	}
	if !g.cooling("m/0") || g.cooling("m/1") {
		t.Fatal("m/0 not cooling after 2 failures")
	}
	for range 50 {
		if n := g.do("m", bad); n != 1 || g.tries("m/0") != 2 {
			t.Fatalf("cooling deployment tried (%d attempts)", n)
		}
	}
	if g.advance(31 * time.Second); g.cooling("m/0") {
		t.Fatal("still cooling after Cooldown")
	}
	for i := 0; g.tries("m/0") == 2; i++ {
		if i == 100 {
			t.Fatal("m/0 never tried again after its cooldown")
		}
		g.do("m", g.script(answer{status: 200}))
	}
}

func TestFailuresOlderThanAMinuteForgotten(t *testing.T) {
	g := newRig(t, RouterOptions{AllowedFails: 2, Cooldown: 30 * time.Second}, "m", 1)
	fail := g.script(answer{status: 503})
	for range 3 {
		if g.do("m", fail); g.cooling("m/0") {
			t.Fatal("cooling after failures a minute apart")
		}
		g.advance(61 * time.Second)
	}
	g.do("m", fail)
	if g.do("m", fail); !g.cooling("m/0") {
		t.Error("not cooling after 2 failures within a minute")
	}
	// Success resets the count and ends the cooldown.
	g.do("m", g.script(answer{status: 200}))
	if g.cooling("m/0") || len(g.r.state[g.deps["m/0"]].fails) != 0 {
		t.Error("success did not reset the deployment's health")
	}
}

func TestAllCoolingStillTried(t *testing.T) {
	g := newRig(t, RouterOptions{AllowedFails: 1, Cooldown: time.Hour}, "m", 2)
	fail := g.script(answer{err: errRefused})
	g.do("m", fail) // one deployment fails and cools down
	g.advance(time.Second)
	g.do("m", fail) // so the other is picked, fails and cools down
	if len(g.calls) != 2 || g.calls[0] == g.calls[1] || !g.cooling("m/0") || !g.cooling("m/1") {
		t.Fatalf("attempts %v; want each deployment once, both cooling", g.calls)
	}
	resp, d, n, err := g.call("m", g.script(answer{status: 200}))
	if err != nil || n != 1 || d.UpstreamModel != g.calls[0] {
		t.Fatalf("Call = %v, %v, %d, %v; want %s (least recently failed) tried anyway", resp, d, n, err, g.calls[0])
	}
	if resp.Body.Close(); g.cooling(d.UpstreamModel) {
		t.Error("success did not end the cooldown")
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g := newRig(t, RouterOptions{Retries: 5, Backoff: time.Second, Sleep: func(ctx context.Context, _ time.Duration) error {
		cancel() // the client leaves while the router waits
		<-ctx.Done()
		return ctx.Err()
	}}, "m", 2)
	resp, _, n, err := g.r.Call(ctx, "m", g.script(answer{status: 503}))
	if !errors.Is(err, context.Canceled) || resp != nil || n != 1 || len(g.calls) != 1 || g.closes.Load() != 1 {
		t.Fatalf("Call = %v, %d, %v after %v, %d closed; want context.Canceled after 1 attempt, its body closed",
			resp, n, err, g.calls, g.closes.Load())
	}
}

// TestCancelDefaultSleep runs the default timer in a synctest bubble: the
// router waits a 20 s Retry-After, the client leaves after 1 s.
func TestCancelDefaultSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		r := NewRouter(NewTable([]*Deployment{{ModelName: "m"}}), RouterOptions{Retries: 3})
		time.AfterFunc(time.Second, cancel)
		calls, start := 0, time.Now()
		_, _, n, err := r.Call(ctx, "m", func(context.Context, *Deployment) (*Response, error) {
			calls++
			return &Response{Status: 429, Header: http.Header{"Retry-After": {"20"}}, Body: http.NoBody}, nil
		})
		if !errors.Is(err, context.Canceled) || n != 1 || calls != 1 || time.Since(start) != time.Second {
			t.Errorf("Call = %d, %v after %v; want context.Canceled after 1 attempt and 1s", n, err, time.Since(start))
		}
		checkIdle(t, r)
	})
}

func TestCancelDuringAttempt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g := newRig(t, RouterOptions{Retries: 3, AllowedFails: 1, Cooldown: time.Minute}, "m", 1)
	_, _, n, err := g.r.Call(ctx, "m", func(ctx context.Context, d *Deployment) (*Response, error) {
		cancel()
		return nil, fmt.Errorf("post: %w", ctx.Err())
	})
	if !errors.Is(err, context.Canceled) || n != 1 || len(g.sleeps) != 0 || g.cooling("m/0") {
		t.Errorf("Call = %d, %v, sleeps %v; want context.Canceled at once, no cooldown", n, err, g.sleeps)
	}
}

func TestLeastBusyPicksIdle(t *testing.T) {
	g := newRig(t, RouterOptions{Strategy: StrategyLeastBusy}, "m", 3)
	ok := g.script(answer{status: 200})
	var open []*Response
	var got []*Deployment
	for range 3 {
		resp, d, _, _ := g.call("m", ok)
		open, got = append(open, resp), append(got, d)
	}
	if slices.Sort(g.calls); !slices.Equal(g.calls, []string{"m/0", "m/1", "m/2"}) {
		t.Fatalf("three calls held open went to %v; want one per deployment", g.calls)
	}
	for round := range 3 {
		open[1].Body.Close() // got[1] is now the only idle deployment
		resp, d, _, _ := g.call("m", ok)
		if open[1] = resp; d != got[1] {
			t.Fatalf("round %d: least-busy picked %s, want the idle %s", round, d.UpstreamModel, got[1].UpstreamModel)
		}
	}
	for _, r := range open {
		r.Body.Close()
		r.Body.Close() // a second Close must not lower the count again
	}
}

func TestRetriesSpreadOverDeployments(t *testing.T) {
	g := newRig(t, RouterOptions{Retries: 2}, "m", 3)
	n := g.do("m", g.script(answer{status: 500}))
	if slices.Sort(g.calls); n != 3 || !slices.Equal(g.calls, []string{"m/0", "m/1", "m/2"}) {
		t.Errorf("%d attempts went to %v; want each deployment once", n, g.calls)
	}
}

func TestConcurrentCalls(t *testing.T) {
	for _, strategy := range []string{StrategySimpleShuffle, StrategyLeastBusy} {
		r := NewRouter(NewTable([]*Deployment{{ModelName: "m"}, {ModelName: "m"}, {ModelName: "f"}}), RouterOptions{
			Retries: 2, Backoff: time.Microsecond, AllowedFails: 2, Cooldown: time.Millisecond, Strategy: strategy,
			Fallbacks: map[string][]string{"m": {"f"}},
		})
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				resp, _, _, _ := r.Call(context.Background(), "m", func(context.Context, *Deployment) (*Response, error) {
					switch i % 3 {
					case 0:
						return nil, errRefused
					case 1:
						return &Response{Status: 503, Body: http.NoBody}, nil
					}
					return &Response{Status: 200, Body: io.NopCloser(strings.NewReader("ok"))}, nil
				})
				closeBody(resp)
			})
		}
		wg.Wait()
		checkIdle(t, r)
	}
}

func TestTableAndUnknownModel(t *testing.T) {
	a, b, c := &Deployment{ModelName: "x"}, &Deployment{ModelName: "y"}, &Deployment{ModelName: "x"}
	tb := NewTable([]*Deployment{a, b, c})
	if got := tb.Names(); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("Names = %v", got)
	}
	if d, ok := tb.Lookup("x"); !ok || d != a {
		t.Errorf("Lookup(x) = %p, want the first (%p)", d, a)
	}
	if all := tb.All("x"); len(all) != 2 || all[0] != a || all[1] != c {
		t.Errorf("All(x) = %v", all)
	}
	if tb.All("x")[0] = nil; tb.All("x")[0] != a {
		t.Error("All shares the table's slice")
	}
	if _, ok := tb.Lookup("z"); ok || tb.All("z") != nil {
		t.Error("Lookup/All found a missing name")
	}
	r := NewRouter(tb, RouterOptions{Fallbacks: map[string][]string{"z": {"w"}}})
	for _, m := range []string{"z", "w"} {
		if _, _, n, err := r.Call(t.Context(), m, nil); !errors.Is(err, ErrNoDeployment) || n != 0 {
			t.Errorf("Call(%s) = %d, %v; want ErrNoDeployment", m, n, err)
		}
	}
}
