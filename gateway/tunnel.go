package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/internal/telemetry"
	"github.com/memproxy/memproxy/internal/version"
	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
	"github.com/memproxy/memproxy/proto/tunnel"
)

// tunnelService serves the Gateway gRPC service for edges.
type tunnelService struct {
	pb.UnimplementedGatewayServer
	s *Server
}

func (s *Server) newGRPCServer() *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(tunnel.ChunkSize + 64<<10),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
		// Calls run on reused goroutines, whose stacks have grown to what
		// a request needs, instead of a new goroutine each (its stack grew
		// and was copied twice per call: 3 % of the gateway's CPU under
		// load). Past that many calls at once, gRPC starts a goroutine per
		// call as before.
		grpc.NumStreamWorkers(streamWorkers()),
	}
	if s.opts.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.opts.TLS)))
	}
	// Spans for every call, continuing the edge's trace from the call's
	// metadata (W3C traceparent, through the global propagator), when
	// tracing is on as Run starts (the command calls telemetry.Setup
	// first). otelgrpc's message events stay off: a Forward stream has a
	// message per body chunk.
	if telemetry.Recording() {
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler()))
	}
	gs := grpc.NewServer(opts...)
	pb.RegisterGatewayServer(gs, &tunnelService{s: s})
	// The standard health service ("" = the whole gateway): edges watch
	// it to pick a replica, and drain turns it NOT_SERVING at once.
	s.grpcHealth = health.NewServer()
	healthpb.RegisterHealthServer(gs, s.grpcHealth)
	return gs
}

// streamWorkers is the number of goroutines kept for gRPC calls.
func streamWorkers() uint32 { return uint32(4 * runtime.GOMAXPROCS(0)) }

// principal checks the edge's key from the call's metadata: the master key
// or a per-user key. A refused key is codes.Unauthenticated; a key that
// could not be checked (database down) codes.Unavailable.
func (t *tunnelService) principal(ctx context.Context) (auth.Principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var key string
	if v := md.Get("authorization"); len(v) > 0 {
		key, _ = strings.CutPrefix(v[0], "Bearer ")
	}
	p, err := t.s.checkKey(ctx, key)
	switch {
	case errors.Is(err, auth.ErrUnavailable):
		return p, status.Error(codes.Unavailable, err.Error())
	case err != nil:
		return p, status.Error(codes.Unauthenticated, err.Error())
	}
	return p, nil
}

// Hello implements pb.GatewayServer.
func (t *tunnelService) Hello(ctx context.Context, req *pb.HelloRequest) (*pb.HelloResponse, error) {
	p, err := t.principal(ctx)
	if err != nil {
		return nil, err
	}
	t.s.log.Info("edge connected", "edge_id", req.GetEdgeId(), "hostname", req.GetHostname(), "edge_version", req.GetVersion())
	return &pb.HelloResponse{Version: version.Version, Models: t.s.models.Names(), User: p.User,
		TimeUnixMs: time.Now().UnixMilli(), Admin: p.Admin}, nil
}

// Forward implements pb.GatewayServer: it rebuilds the HTTP request from the
// tunnel's head and chunks and runs it through the same handler as plain
// HTTP, writing the response back as head and chunks. A refused key still
// reaches the handler, which answers 401 and logs the request's usage row.
func (t *tunnelService) Forward(stream pb.Gateway_ForwardServer) error {
	// Headers at once tell the edge this replica took the call: from here
	// on it fails rather than being sent to another replica, so no request
	// runs twice.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	head := first.GetHead()
	if head == nil {
		return status.Error(codes.InvalidArgument, "the first message of Forward must be a request head")
	}
	callCtx, cancel := t.callContext(stream.Context())
	defer cancel(nil)
	ctx := callCtx
	if p, err := t.principal(ctx); err != nil {
		cause := auth.ErrBadKey
		if status.Code(err) == codes.Unavailable {
			cause = auth.ErrUnavailable
		}
		ctx = tunnelAuthFailed(ctx, cause)
	} else {
		ctx = auth.WithIdentity(ctx, tunnelIdentity(head.GetIdentity(), p))
	}
	req, err := newTunnelRequest(ctx, head, stream, t.s.opts.BodyReadTimeout)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	w := &tunnelWriter{stream: stream, header: http.Header{}}
	t.s.handler.ServeHTTP(w, req)
	if errors.Is(context.Cause(ctx), track.CutCause()) {
		// Not OK: the edge must not take a cut answer for a whole one.
		return status.Error(codes.Unavailable, track.CutCause().Error())
	}
	return w.finish()
}

// callContext returns the context of a Forward call's handler and its
// cancel: ended when the call ends, or when the drain timeout cuts the
// requests still running (cause track.CutCause()), with no goroutine of
// its own (context.AfterFunc).
func (t *tunnelService) callContext(streamCtx context.Context) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(streamCtx)
	return ctx, t.watchCut(cancel)
}

// watchCut makes the drain cut call cancel and returns the cancel that
// also stops watching.
func (t *tunnelService) watchCut(cancel context.CancelCauseFunc) context.CancelCauseFunc {
	cutCtx := t.s.cutCtx
	if cutCtx == nil {
		return cancel
	}
	stop := context.AfterFunc(cutCtx, func() {
		if errors.Is(context.Cause(cutCtx), track.CutCause()) {
			cancel(track.CutCause())
		}
	})
	return func(cause error) {
		stop()
		cancel(cause)
	}
}

// tunnelIdentity builds the identity of a tunnelled request. The user comes
// from the credential; only the master key may name another user. The
// project is the tag's, or the key's when the tag is empty; a tag naming a
// project the key may not act for is refused by authenticate.
func tunnelIdentity(tags *pb.Identity, p auth.Principal) *auth.Identity {
	id := &auth.Identity{
		Project: auth.DefaultProject(tags.GetProject(), p), Key: p, Client: tags.GetClient(), ClientPattern: tags.GetClientPattern(),
		Hostname: tags.GetHostname(), EdgeID: tags.GetEdgeId(), GitRemote: tags.GetGitRemote(),
		GitBranch: tags.GetGitBranch(), Ingress: auth.IngressTunnel, Admin: p.Admin,
		User: p.User, UserRule: "key",
	}
	if p.Admin {
		id.User, id.UserRule = tags.GetUser(), "edge"
	}
	return id
}

func newTunnelRequest(ctx context.Context, head *pb.RequestHead, stream pb.Gateway_ForwardServer, bodyTimeout time.Duration) (*http.Request, error) {
	u := &url.URL{Path: head.GetPath(), RawQuery: head.GetRawQuery()}
	var body io.Reader = tunnel.NewBodyReader(deadlineRecv(ctx, stream, bodyTimeout))
	if n := head.GetContentLength(); n >= 0 {
		// A declared body ends at its length, as net/http's does: the
		// handler need not wait for the edge's end-of-body message (which
		// a call the edge's gRPC retried on this replica may be slow to
		// bring) once it has every byte.
		body = io.LimitReader(body, n)
	}
	req, err := http.NewRequestWithContext(ctx, head.GetMethod(), u.String(), io.NopCloser(body))
	if err != nil {
		return nil, err
	}
	tunnel.HeadersFromProto(req.Header, head.GetHeaders())
	req.ContentLength = head.GetContentLength()
	req.RemoteAddr = track.TunnelRemoteAddr
	req.RequestURI = u.RequestURI()
	return req, nil
}

// deadlineRecv returns the body chunks of a Forward call, failing with
// os.ErrDeadlineExceeded once the body has taken longer than timeout from
// now, as the HTTP listener's ReadTimeout does: an edge that sends a body a
// byte at a time holds the call no longer than a plain client would.
// stream.Recv cannot be interrupted, so one goroutine receives, started on
// the first read; it ends with the call.
func deadlineRecv(ctx context.Context, stream pb.Gateway_ForwardServer, timeout time.Duration) func() ([]byte, error) {
	type msg struct {
		body []byte
		err  error
	}
	deadline := time.Now().Add(timeout)
	var msgs chan msg
	var timer *time.Timer
	return func() ([]byte, error) {
		if msgs == nil {
			msgs, timer = make(chan msg), time.NewTimer(time.Until(deadline))
			go func() {
				for {
					m, err := stream.Recv()
					select {
					case msgs <- msg{m.GetBody(), err}:
					case <-ctx.Done():
						return
					}
					if err != nil {
						return
					}
				}
			}()
		}
		select {
		case m := <-msgs:
			if m.err != nil {
				timer.Stop()
			}
			return m.body, m.err
		case <-timer.C:
			return nil, fmt.Errorf("request body not received within %s: %w", timeout, os.ErrDeadlineExceeded)
		}
	}
}

// tunnelWriter is the http.ResponseWriter of a tunnelled request: the head
// goes out on the first write, and every Write is one body message, sent at
// once, so flushing is implicit.
type tunnelWriter struct {
	stream pb.Gateway_ForwardServer
	header http.Header
	wrote  bool
	err    error
}

func (w *tunnelWriter) Header() http.Header { return w.header }

func (w *tunnelWriter) WriteHeader(code int) {
	if w.wrote || w.err != nil {
		return
	}
	w.wrote = true
	w.err = w.stream.Send(&pb.ForwardResponse{Msg: &pb.ForwardResponse_Head{Head: &pb.ResponseHead{
		Status: int32(code), Headers: tunnel.HeadersToProto(w.header, nil),
	}}})
}

func (w *tunnelWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	w.err = tunnel.SendChunks(p, func(c []byte) error {
		return w.stream.Send(&pb.ForwardResponse{Msg: &pb.ForwardResponse_Body{Body: c}})
	})
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// Flush implements http.Flusher; every Write is already sent.
func (w *tunnelWriter) Flush() {}

func (w *tunnelWriter) finish() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.err
}
