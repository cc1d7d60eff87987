package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/health" // client-side health checking (healthCheckConfig)
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/memproxy/memproxy/config"
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

// gatewayConn is the edge's channel to the gateway's replicas: one address,
// whose DNS name may resolve to several (re-resolved when a replica goes
// away), or several joined by commas. Each new request goes to a replica
// that is connected and whose gRPC health service says SERVING (round
// robin): a replica that dies drops out as its connection breaks, and one
// that drains (SIGTERM) as it turns NOT_SERVING, both at once. gRPC
// reconnects to a lost replica by itself, with a backoff capped at
// maxBackoff, so one that comes back is used again within seconds.
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
	target, resolvers, err := gatewayTarget(addr)
	if err != nil {
		return nil, err
	}
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
		grpc.WithDefaultServiceConfig(replicasServiceConfig),
		grpc.WithMaxCallAttempts(3),
		grpc.WithDefaultCallOptions(grpc.MaxRetryRPCBufferSize(maxReplayBuffer)),
		grpc.WithResolvers(resolvers...),
	}
	if telemetry.Recording() {
		// A client span per call, and the W3C trace context in the call's
		// metadata (global propagator), so that the gateway's spans join
		// the edge's trace. Decided here: memedge run calls telemetry.Setup
		// before it makes the daemon.
		opts = append(opts, grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	}
	cc, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("gateway address %q: %w", addr, err)
	}
	return &gatewayConn{cc: cc, client: pb.NewGatewayClient(cc)}, nil
}

// replicasServiceConfig spreads requests over the replicas that are
// connected and healthy ("" is the gateway's whole-server health status),
// and lets gRPC retry a call that failed UNAVAILABLE before the gateway
// sent its response headers. The gateway sends them as soon as it takes a
// Forward call, so only a call no replica took is sent again (to another
// replica): one the gateway took and then lost fails, never runs twice.
const replicasServiceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "healthCheckConfig": {"serviceName": ""},
  "methodConfig": [{
    "name": [{"service": "memproxy.v1.Gateway"}],
    "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.05s", "maxBackoff": "0.5s",
      "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}
  }]
}`

// maxReplayBuffer bounds what gRPC keeps of a call's request to send it
// again, until the first answer message commits the call: a body up to
// this size is held once more while it is sent; a call that sent more is
// not retried (it fails over only by the client's own retry).
const maxReplayBuffer = 4 << 20

// gatewayTarget turns the gateway setting into a gRPC target: a single
// address goes through the DNS resolver (every address of the name is a
// replica); a list through a fixed resolver, each address with its own
// host name for TLS verification.
func gatewayTarget(setting string) (string, []resolver.Builder, error) {
	addrs := config.SplitGateways(setting)
	switch len(addrs) {
	case 0:
		return "", nil, fmt.Errorf("no gateway address in %q", setting)
	case 1:
		return "dns:///" + addrs[0], nil, nil
	}
	var st resolver.State
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return "", nil, fmt.Errorf("gateway address %q: %w", a, err)
		}
		st.Addresses = append(st.Addresses, resolver.Address{Addr: a, ServerName: host})
	}
	r := manual.NewBuilderWithScheme("memproxy-gateways")
	r.InitialState(st)
	return r.Scheme() + ":///replicas", []resolver.Builder{r}, nil
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
