package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/memproxy/memproxy/internal/telemetry"
	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
	"github.com/memproxy/memproxy/proto/tunnel"
)

// project is one project's listener: it tags each request with identity,
// swaps the client's credential for the user's gateway key, and tunnels the
// exchange to the gateway.
type project struct {
	d    *Daemon
	name string
	port int
	git  *gitInfo

	requests  atomic.Int64
	mu        sync.Mutex
	lastError string
	server    *http.Server
	started   time.Time
}

func (p *project) setLastError(msg string) {
	p.mu.Lock()
	p.lastError = msg
	p.mu.Unlock()
}

// dropHeader reports the client headers that never reach the gateway: its
// own credentials (the edge sends the user's key instead) and any identity
// header it tried to set (the edge sets identity itself). The one x-memory-*
// header that passes is the client's opt-out, x-memory-disable: it can only
// take memory away from the request, never point it at another scope.
func dropHeader(canonical string) bool {
	switch canonical {
	case "Authorization", "X-Api-Key", "Content-Length", "Cookie":
		return true
	case memoryOptOut:
		return false
	}
	return strings.HasPrefix(canonical, "X-Memory-")
}

// memoryOptOut is the header with which a client turns memory off for one
// request.
const memoryOptOut = "X-Memory-Disable"

func (p *project) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.d.localRequest(w, r, p.port) {
		return
	}
	if r.URL.Path == "/memory-routing/info" && r.Method == http.MethodGet {
		p.routingInfo(w, r)
		return
	}
	p.requests.Add(1)
	p.d.served.Add(1)
	if r.ContentLength > p.d.opts.MaxBody {
		writeError(w, r, http.StatusRequestEntityTooLarge, "request_too_large", p.tooLarge(), 0)
		return
	}
	p.forward(w, r)
}

func (p *project) tooLarge() string {
	return fmt.Sprintf("request body is larger than the limit of %d bytes", p.d.opts.MaxBody)
}

// forward runs one exchange over the tunnel, streaming the request body as
// it arrives (one chunk in memory, whatever the body's size). Cancelling
// the client's request cancels the call, which cancels the gateway's
// upstream work.
func (p *project) forward(w http.ResponseWriter, r *http.Request) {
	id := p.identity(r)
	r, end := p.startSpan(r, id)
	var failed error // why the exchange failed, for the span
	defer func() { end(failed) }()
	if !p.d.gw.ready(r.Context(), p.d.opts.ConnectWait) {
		failed = status.Error(codes.Unavailable, "no connection")
		p.gatewayDown(w, r, failed)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stream, err := p.d.client.Forward(ctx)
	if err != nil {
		failed = err
		p.gatewayDown(w, r, err)
		return
	}
	head := &pb.RequestHead{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Headers: tunnel.HeadersToProto(r.Header, dropHeader), Identity: id, ContentLength: r.ContentLength,
	}
	// A failed Send reports io.EOF (the gateway answered early, or the call
	// failed); the call's real status comes from Recv.
	if err := stream.Send(&pb.ForwardRequest{Msg: &pb.ForwardRequest_Head{Head: head}}); err == nil {
		if f := p.sendBody(w, r, stream); f != nil {
			cancel() // the gateway sees the call end, not a short body
			failed = errors.New(f.code)
			if f.status != 0 {
				writeError(w, r, f.status, f.code, f.msg, 0)
			}
			return
		}
		_ = stream.CloseSend()
	}
	p.relay(w, r, stream, &failed)
}

// bodyFault is a request body the edge could not forward whole; status 0
// means the client left and gets no answer.
type bodyFault struct {
	status    int
	code, msg string
}

// sendBody streams the client's body to the gateway in chunks, bounded by
// MaxBody and by the server's ReadTimeout. It stops early, without a fault,
// when the gateway stops taking the body (it answered already).
func (p *project) sendBody(w http.ResponseWriter, r *http.Request, stream pb.Gateway_ForwardClient) *bodyFault {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body := http.MaxBytesReader(w, r.Body, p.d.opts.MaxBody)
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	buf := *bp // Send has encoded a chunk when it returns: the buffer is reused
	var sent int64
	for {
		n, err := fill(body, buf)
		// A failed read is judged first: it may have cancelled the
		// request's context, and with it the call, so Send would fail too.
		if f := p.bodyFault(r, err, sent+int64(n)); f != nil {
			return f
		}
		if n > 0 {
			if stream.Send(&pb.ForwardRequest{Msg: &pb.ForwardRequest_Body{Body: buf[:n]}}) != nil {
				return nil
			}
			sent += int64(n)
		}
		if err == io.EOF {
			return nil
		}
	}
}

// chunkBufs holds the buffers sendBody reads a body into, one chunk each:
// a request would otherwise allocate (and zero) a chunk of its own.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, tunnel.ChunkSize); return &b }}

// bodyFault classifies an error reading the client's body; nil and io.EOF
// are no fault.
func (p *project) bodyFault(r *http.Request, err error, read int64) *bodyFault {
	var mbe *http.MaxBytesError
	switch {
	case err == nil, err == io.EOF:
		return nil
	case errors.As(err, &mbe):
		return &bodyFault{http.StatusRequestEntityTooLarge, "request_too_large", p.tooLarge()}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &bodyFault{http.StatusRequestTimeout, "request_timeout", "the request body was not received in time"}
	case errors.Is(err, io.ErrUnexpectedEOF) && r.ContentLength >= 0:
		return &bodyFault{http.StatusBadRequest, "content_length_mismatch",
			fmt.Sprintf("Content-Length says %d bytes but the body has %d", r.ContentLength, read)}
	case r.Context().Err() != nil:
		return &bodyFault{code: "client_closed_request"} // nobody to answer
	default:
		return &bodyFault{http.StatusBadRequest, "body_read_error", "could not read the request body"}
	}
}

// fill reads into buf until it is full or the body ends (io.EOF) or fails.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// relay copies the gateway's answer to the client, flushing each chunk.
func (p *project) relay(w http.ResponseWriter, r *http.Request, stream pb.Gateway_ForwardClient, failed *error) {
	first, rerr := stream.Recv()
	if rerr != nil {
		*failed = rerr
		p.gatewayDown(w, r, rerr)
		return
	}
	rh := first.GetHead()
	if rh == nil {
		*failed = errors.New("gateway answered without a response head")
		p.gatewayDown(w, r, *failed)
		return
	}
	trace.SpanFromContext(r.Context()).SetAttributes(attribute.Int("http.response.status_code", int(rh.GetStatus())))
	tunnel.HeadersFromProto(w.Header(), rh.GetHeaders())
	w.WriteHeader(int(rh.GetStatus()))
	rc := http.NewResponseController(w)
	sse := strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream")
	if sse {
		_ = rc.Flush()
	}
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return
		}
		if err != nil {
			*failed = err
			p.cut(w, r, sse, err)
			return
		}
		if _, err := w.Write(m.GetBody()); err != nil {
			*failed = err
			return // the client left; returning cancels the call
		}
		_ = rc.Flush()
	}
}

// startSpan starts the request's edge.forward span, continuing the
// client's own W3C trace context if it sent one, and returns the request
// carrying it; the Forward call's span, and through it the gateway's,
// are its children. The span names the project and the client, never the
// key or the body. With tracing off it costs nothing.
func (p *project) startSpan(r *http.Request, id *pb.Identity) (*http.Request, func(error)) {
	if !telemetry.Recording() {
		return r, func(error) {}
	}
	ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, end := telemetry.Span(ctx, "edge.forward",
		attribute.String("memproxy.project", p.name), attribute.String("memproxy.client", id.GetClient()),
		attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path))
	return r.WithContext(ctx), end
}

// gatewayDown answers a request that could not be tunnelled at all.
func (p *project) gatewayDown(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client left first
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.Unauthenticated:
		p.setLastError("gateway refused the key")
		writeError(w, r, http.StatusUnauthorized, "invalid_api_key", "the gateway refused this edge's key: run 'memedge login' again", 0)
	case codes.Unavailable, codes.DeadlineExceeded:
		// Never reached: the address or the network is wrong (502). Reached
		// before: the gateway is restarting or down for now (503, retry).
		p.d.log.Warn("gateway unavailable", "project", p.name, "gateway", p.d.opts.Gateway, "err", err)
		if !p.d.gw.everReady.Load() {
			msg := fmt.Sprintf("memedge could not reach the gateway at %s: check 'memedge doctor'", p.d.opts.Gateway)
			p.setLastError(msg)
			writeError(w, r, http.StatusBadGateway, "gateway_unreachable", msg, 0)
			return
		}
		msg := fmt.Sprintf("the gateway at %s is unavailable right now (restarting?); retry shortly", p.d.opts.Gateway)
		p.setLastError(msg)
		writeError(w, r, http.StatusServiceUnavailable, "gateway_unavailable", msg, int(maxBackoff/time.Second))
	default:
		msg := fmt.Sprintf("the gateway at %s failed the request: %s", p.d.opts.Gateway, st.Message())
		p.setLastError(msg)
		p.d.log.Warn("tunnel call failed", "project", p.name, "err", err)
		writeError(w, r, http.StatusBadGateway, "gateway_error", msg, 0)
	}
}

// cut ends a response the gateway stopped sending midway. An event stream
// gets a final error event; any other body is aborted, so the client sees a
// broken response rather than a short one that looks whole.
func (p *project) cut(w http.ResponseWriter, r *http.Request, sse bool, err error) {
	if r.Context().Err() != nil {
		return
	}
	msg := "the gateway connection was lost mid-response: " + status.Convert(err).Message()
	p.setLastError(msg)
	p.d.log.Warn("response cut", "project", p.name, "err", err)
	if !sse {
		panic(http.ErrAbortHandler)
	}
	_, _ = w.Write(sseError(r, msg))
	_ = http.NewResponseController(w).Flush()
}

func sseError(r *http.Request, msg string) []byte {
	var b bytes.Buffer
	if p := r.URL.Path; strings.HasPrefix(p, "/v1/messages") || strings.HasPrefix(p, "/messages") {
		b.WriteString("event: error\ndata: ")
		b.Write(mustJSON(map[string]any{"type": "error", "error": map[string]any{"type": "api_error", "message": msg}}))
	} else {
		b.WriteString("data: ")
		b.Write(mustJSON(map[string]any{"error": map[string]any{"message": msg, "type": "api_error", "param": nil, "code": "gateway_connection_lost"}}))
	}
	b.WriteString("\n\n")
	return b.Bytes()
}
