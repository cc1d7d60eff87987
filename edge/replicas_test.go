package edge

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
)

// replica is a stub gateway that answers with its name and serves the gRPC
// health service, as memgateway does.
type replica struct {
	name   string
	addr   string
	health *health.Server
	gs     *grpc.Server
}

func startReplica(t *testing.T, name string) *replica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, addr: ln.Addr().String(), health: health.NewServer(), gs: grpc.NewServer()}
	pb.RegisterGatewayServer(r.gs, &stubGateway{forward: func(_ *pb.RequestHead, _ []byte, _ metadata.MD, s pb.Gateway_ForwardServer) error {
		// (memgateway sends its headers as it takes the call; the stub
		// answers at once, which amounts to the same.)
		if err := sendHead(s, 200, "text/plain"); err != nil {
			return err
		}
		return sendBody(s, name)
	}})
	healthpb.RegisterHealthServer(r.gs, r.health)
	go r.gs.Serve(ln)
	t.Cleanup(r.gs.Stop)
	return r
}

// ask sends one request and returns which replica answered, or the
// status when the request failed.
func ask(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.Status
	}
	return string(b)
}

// askN returns the answers of n requests.
func askN(t *testing.T, base string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = ask(t, base)
	}
	return out
}

func all(answers []string, want string) bool {
	for _, a := range answers {
		if a != want {
			return false
		}
	}
	return true
}

func TestRequestsGoToHealthyReplicas(t *testing.T) {
	a, b := startReplica(t, "A"), startReplica(t, "B")
	_, base := startEdgeWith(t, Options{Gateway: a.addr + "," + b.addr, ConnectWait: 2 * time.Second})

	// Both replicas take requests.
	seen := map[string]bool{}
	waitUntil(t, func() bool { seen[ask(t, base)] = true; return seen["A"] && seen["B"] })

	// A drains: it says NOT_SERVING, and new requests leave it.
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	waitUntil(t, func() bool { return all(askN(t, base, 4), "B") })
	if got := askN(t, base, 10); !all(got, "B") {
		t.Fatalf("requests after A turned NOT_SERVING: %v", got)
	}

	// A is back; then B dies: every request after its death succeeds on A.
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	waitUntil(t, func() bool { return ask(t, base) == "A" })
	b.gs.Stop()
	if got := askN(t, base, 10); !all(got, "A") {
		t.Fatalf("requests after B died: %v", got)
	}

	// With no replica left, a request fails at once with a clear 503.
	a.gs.Stop()
	if got := ask(t, base); got != "503 Service Unavailable" {
		t.Fatalf("with every replica gone: %s", got)
	}
}
