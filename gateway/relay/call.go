package relay

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/memproxy/memproxy/gateway/dialect"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/internal/telemetry"
)

// modelCall is an upstream answer the router got: the deployment and wire
// dialect that gave it, the request that was sent, and its body, which
// enforces the deployment's stream idle timeout.
type modelCall struct {
	resp *provider.Response
	dep  *provider.Deployment
	wire dialect.Wire
	req  *provider.Request
	body *idleBody
	idle idleBody // body's storage: one allocation for both
}

// callModel is the one way to the model, for the plain relay and for every
// round of the tool loop: the router picks a deployment (retries, other
// deployments, fallbacks: all before the first byte reaches the client),
// build makes the request in that deployment's dialect (on a copy of x
// whose dep is set; the answering attempt's copy becomes *x), each attempt
// gets a provider.attempt span, and the attempts are counted in the
// request's state. An error answer (status ≥ 400) comes back as the
// client's error, its body read and closed. The caller closes mc.body.
func (s *Pipeline) callModel(ctx context.Context, r *http.Request, x *exchange, build func(*exchange) (*provider.Request, *apiError)) (*modelCall, *apiError) {
	st := track.From(r.Context())
	cctx, cancel := context.WithCancelCause(ctx)
	var last exchange // the attempt that gave the answer (attempts run one after another)
	var preq *provider.Request
	var buildErr *apiError
	resp, dep, n, err := s.Router.Call(cctx, x.model, func(actx context.Context, d *provider.Deployment) (*provider.Response, error) {
		last = *x
		last.dep = d
		if preq, buildErr = build(&last); buildErr != nil {
			return nil, provider.ErrUnsupported // not retried, not held against the deployment
		}
		return attempt(actx, d, preq)
	})
	st.Attempts += n
	if n > 1 {
		s.Log.Info("upstream retried", "request_id", st.Rec.RequestID, "model", x.model, "attempts", n)
	}
	if buildErr != nil {
		cancel(nil)
		return nil, buildErr
	}
	if err != nil {
		cancel(nil)
		aerr := upstreamCallError(r.Context(), x.model, err)
		if aerr.Kind != llm.ErrClientCancelled {
			s.Log.Warn("upstream call failed", "request_id", st.Rec.RequestID, "model", x.model, "attempts", n, "err", err)
		}
		return nil, aerr
	}
	*x = last
	st.Rec.Provider, st.Rec.UpstreamModel = dep.ProviderName, dep.UpstreamModel
	mc := &modelCall{resp: resp, dep: dep, wire: x.wire(dep), req: preq}
	if resp.Status >= 400 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		cancel(nil)
		aerr := upstreamAnswerError(mc.wire, resp.Status, b)
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			aerr.RetryAfter = ra
		}
		return nil, aerr
	}
	idle := time.Duration(0)
	if preq.Stream {
		idle = dep.StreamIdle
	}
	mc.body = &mc.idle
	mc.body.init(resp.Body, idle, cancel)
	return mc, nil
}

// attempt calls one deployment, in a provider.attempt span when tracing.
func attempt(ctx context.Context, d *provider.Deployment, req *provider.Request) (*provider.Response, error) {
	if !telemetry.Recording() {
		return d.Provider.Do(ctx, req)
	}
	sctx, end := telemetry.Span(ctx, "provider.attempt", attribute.String("gen_ai.provider.name", d.ProviderName),
		attribute.String("memproxy.deployment", d.UpstreamModel), attribute.Bool("memproxy.stream", req.Stream))
	resp, err := d.Provider.Do(sctx, req)
	if resp != nil {
		trace.SpanFromContext(sctx).SetAttributes(attribute.Int("http.response.status_code", resp.Status))
	}
	end(err)
	return resp, err
}

// errStreamIdle is the cause of a call cut for going silent; it reports
// itself as a timeout (Timeout() bool), as net errors do.
var errStreamIdle error = idleError{}

type idleError struct{}

func (idleError) Error() string { return "upstream stream idle timeout" }
func (idleError) Timeout() bool { return true }

// idleBody is an upstream body that cancels its call after idle without a
// byte (0: never); reads then fail with an error wrapping errStreamIdle.
// Close ends the call.
type idleBody struct {
	r      io.ReadCloser
	idle   time.Duration
	timer  *time.Timer
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	fired  bool
}

func (b *idleBody) init(r io.ReadCloser, idle time.Duration, cancel context.CancelCauseFunc) {
	b.r, b.idle, b.cancel = r, idle, cancel
	if idle > 0 {
		b.timer = time.AfterFunc(idle, func() {
			b.mu.Lock()
			b.fired = true
			b.mu.Unlock()
			cancel(errStreamIdle)
		})
	}
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 && b.timer != nil {
		b.timer.Reset(b.idle)
	}
	if err != nil && b.idled() {
		return n, fmt.Errorf("%w after %s: %w", errStreamIdle, b.idle, err)
	}
	return n, err
}

func (b *idleBody) idled() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fired
}

func (b *idleBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.r.Close()
	b.cancel(nil)
	return err
}
