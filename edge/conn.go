package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/memproxy/memproxy/internal/telemetry"
	"github.com/memproxy/memproxy/internal/version"
	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
	"github.com/memproxy/memproxy/proto/tunnel"
)

// keyCreds sends the user's gateway key with every call.
type keyCreds struct {
	key        string
	requireTLS bool
}

func (k keyCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + k.key}, nil
}

func (k keyCreds) RequireTransportSecurity() bool { return k.requireTLS }

// gatewayConn is the edge's one connection to the gateway. gRPC re-makes it
// by itself after failures; the backoff is capped at maxBackoff so that a
// gateway that comes back is used again within seconds.
type gatewayConn struct {
	cc     *grpc.ClientConn
	client pb.GatewayClient
	// everReady is set once the connection has worked: a failure before
	// that is a configuration problem, after it an outage.
	everReady atomic.Bool
}

const maxBackoff = 2 * time.Second

// dialGateway prepares the connection; nothing is dialled until first use.
// A nil tlsCfg means plaintext (loopback or --insecure only: the caller
// decides).
func dialGateway(addr, key string, tlsCfg *tls.Config) (*gatewayConn, error) {
	creds := insecure.NewCredentials()
	if tlsCfg != nil {
		creds = credentials.NewTLS(tlsCfg)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithPerRPCCredentials(keyCreds{key: key, requireTLS: tlsCfg != nil}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: maxBackoff},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(tunnel.ChunkSize + 64<<10)),
	}
	if telemetry.Recording() {
		// A client span per call, and the W3C trace context in the call's
		// metadata (global propagator), so that the gateway's spans join
		// the edge's trace. Decided here: memedge run calls telemetry.Setup
		// before it makes the daemon.
		opts = append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("gateway address %q: %w", addr, err)
	}
	return &gatewayConn{cc: cc, client: pb.NewGatewayClient(cc)}, nil
}

// ready waits up to wait for the connection to be usable. It returns at
// once when it already is, which is the common case.
func (g *gatewayConn) ready(ctx context.Context, wait time.Duration) bool {
	st := g.cc.GetState()
	if st == connectivity.Ready {
		g.everReady.Store(true)
		return true
	}
	g.cc.Connect()
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for st = g.cc.GetState(); st != connectivity.Ready; st = g.cc.GetState() {
		if !g.cc.WaitForStateChange(wctx, st) {
			return false
		}
	}
	g.everReady.Store(true)
	return true
}

// ProbeResult is what Probe learned about a gateway.
type ProbeResult struct {
	Version string
	Models  []string
	User    string
	Admin   bool
	// RTT is the round trip of the Hello call; Skew the gateway's clock
	// minus ours, corrected by half the round trip.
	RTT  time.Duration
	Skew time.Duration
}

// Probe calls Hello on the gateway at addr with key, as the daemon would.
// Errors are gRPC status errors (codes.Unauthenticated for a bad key).
func Probe(ctx context.Context, addr, key string, tlsCfg *tls.Config, edgeID, hostname string) (ProbeResult, error) {
	gw, err := dialGateway(addr, key, tlsCfg)
	if err != nil {
		return ProbeResult{}, err
	}
	defer gw.cc.Close()
	start := time.Now()
	resp, err := gw.client.Hello(ctx, &pb.HelloRequest{EdgeId: edgeID, Hostname: hostname, Version: version.Version}, grpc.WaitForReady(true))
	if err != nil {
		return ProbeResult{}, err
	}
	rtt := time.Since(start)
	mid := start.Add(rtt / 2)
	return ProbeResult{
		Version: resp.GetVersion(), Models: resp.GetModels(), User: resp.GetUser(), Admin: resp.GetAdmin(), RTT: rtt,
		Skew: time.UnixMilli(resp.GetTimeUnixMs()).Sub(mid),
	}, nil
}
