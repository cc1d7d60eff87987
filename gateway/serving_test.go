package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/gateway/usage"
	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
)

// servingGateway runs a gateway on HTTP and gRPC loopback listeners with
// opts applied; run reports Run's return.
type servingGateway struct {
	*harness
	run    chan error
	cancel context.CancelFunc
}

func newServingGateway(t *testing.T, opts func(*Options)) *servingGateway {
	t.Helper()
	fake := providertest.NewOpenAI(t)
	o := Options{Config: testConfig(t, fake.URL, ""), DataDir: t.TempDir(), MasterKey: testMaster,
		ShutdownGrace: 20 * time.Second, UsageQueue: usage.QueueOptions{FlushInterval: 5 * time.Millisecond}}
	opts(&o)
	srv, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	g := &servingGateway{run: make(chan error, 1), cancel: cancel}
	go func() { g.run <- srv.Run(ctx, hl, gl) }()
	g.harness = &harness{t: t, srv: srv, fake: fake, httpURL: "http://" + hl.Addr().String(), grpcAddr: gl.Addr().String()}
	t.Cleanup(func() {
		cancel()
		if fake.Hold != nil {
			select {
			case <-fake.Hold:
			default:
				close(fake.Hold)
			}
		}
		<-g.run
		srv.Close()
	})
	return g
}

// rawConn dials the gateway's HTTP port, with a read deadline far above
// any bound under test so that a regression fails instead of hanging.
func rawConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	return c, bufio.NewReader(c)
}

// A client that declares 200000 bytes and sends one (a slow body, or a
// Content-Length longer than the body) is answered 408 and disconnected
// once the body bound passes, over HTTP and through the tunnel.
func TestSlowBodyIsCut(t *testing.T) {
	g := newServingGateway(t, func(o *Options) { o.BodyReadTimeout = 200 * time.Millisecond })

	c, br := rawConn(t, g.httpURL)
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n{", testMaster)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "request_timeout") {
		t.Fatalf("HTTP: status %d %s, want 408 request_timeout", resp.StatusCode, b)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("HTTP: the connection stayed open after a cut body")
	}

	stream := openForward(t, g.grpcAddr, &pb.RequestHead{Method: http.MethodPost, Path: "/v1/chat/completions", ContentLength: 200000})
	if err := stream.Send(&pb.ForwardRequest{Msg: &pb.ForwardRequest_Body{Body: []byte("{")}}); err != nil {
		t.Fatal(err)
	}
	m, err := stream.Recv()
	if err != nil {
		t.Fatalf("tunnel: %v", err)
	}
	if st := m.GetHead().GetStatus(); st != http.StatusRequestTimeout {
		t.Fatalf("tunnel: status %d, want 408", st)
	}
}

func openForward(t *testing.T, addr string, head *pb.RequestHead) pb.Gateway_ForwardClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+testMaster), 30*time.Second)
	t.Cleanup(cancel)
	stream, err := pb.NewGatewayClient(cc).Forward(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head.Headers == nil {
		head.Headers = []*pb.Header{{Name: "Content-Type", Values: []string{"application/json"}}}
	}
	if err := stream.Send(&pb.ForwardRequest{Msg: &pb.ForwardRequest_Head{Head: head}}); err != nil {
		t.Fatal(err)
	}
	return stream
}

const streamBody = `{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`

// startHeldStream sends a streaming request over HTTP and returns once its
// first chunk arrived; the fake holds the rest until Hold is closed.
func startHeldStream(t *testing.T, g *servingGateway) (*http.Response, *bufio.Reader) {
	t.Helper()
	req, _ := newReq(http.MethodPost, g.httpURL+"/v1/chat/completions", []string{"Content-Type", "application/json"})
	req.Body = io.NopCloser(strings.NewReader(streamBody))
	req.ContentLength = int64(len(streamBody))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	return resp, br
}

// A streamed answer that lasts longer than the body bound still completes:
// the bound is on reading the request, not on the exchange.
func TestStreamOutlivesBodyBound(t *testing.T) {
	const bound = 200 * time.Millisecond
	g := newServingGateway(t, func(o *Options) { o.BodyReadTimeout = bound })
	g.fake.Hold = make(chan struct{})
	_, br := startHeldStream(t, g)
	<-time.After(3 * bound) // the answer outlives the bound
	close(g.fake.Hold)
	rest, err := io.ReadAll(br)
	if err != nil || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Fatalf("stream after the bound: %q, %v", rest, err)
	}
}

func TestConnectionsPerSourceAreCapped(t *testing.T) {
	g := newServingGateway(t, func(o *Options) { o.MaxConnsPerIP = 2 })
	health := func(c net.Conn, br *bufio.Reader) error {
		fmt.Fprint(c, "GET /health HTTP/1.1\r\nHost: gw\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	for i := range 2 { // two kept-alive connections are taken
		if err := health(rawConn(t, g.httpURL)); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
	}
	if err := health(rawConn(t, g.httpURL)); err == nil {
		t.Fatal("a third connection from the same address was served")
	}
}

// SIGTERM: /health answers 503 at once and no new connection is taken,
// while the running stream finishes; then Run returns.
func TestDrainFinishesRunningStreams(t *testing.T) {
	g := newServingGateway(t, func(*Options) {})
	g.fake.Hold = make(chan struct{})
	_, br := startHeldStream(t, g)
	g.cancel()
	eventually(t, func() bool {
		rec := httptest.NewRecorder()
		req, _ := http.NewRequest(http.MethodGet, "/health", nil)
		g.srv.Handler().ServeHTTP(rec, req)
		return rec.Code == http.StatusServiceUnavailable && strings.Contains(rec.Body.String(), `"draining"`)
	})
	eventually(t, func() bool {
		c, err := net.Dial("tcp", strings.TrimPrefix(g.httpURL, "http://"))
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-g.run:
		t.Fatalf("Run returned (%v) while a stream was running", err)
	default:
	}
	close(g.fake.Hold)
	rest, err := io.ReadAll(br)
	if err != nil || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Fatalf("stream during the drain: %q, %v", rest, err)
	}
	if err := <-g.run; err != nil {
		t.Fatal(err)
	}
	g.run <- nil // for the cleanup
}

// At the drain timeout a stream still running is cut visibly: the HTTP
// connection is aborted (no clean end), the tunnel call ends Unavailable.
func TestDrainTimeoutCutsStreamsVisibly(t *testing.T) {
	g := newServingGateway(t, func(o *Options) { o.ShutdownGrace = 300 * time.Millisecond })
	g.fake.Hold = make(chan struct{})
	_, br := startHeldStream(t, g)
	tunnel := openForward(t, g.grpcAddr, &pb.RequestHead{Method: http.MethodPost, Path: "/v1/chat/completions", ContentLength: int64(len(streamBody))})
	if err := tunnel.Send(&pb.ForwardRequest{Msg: &pb.ForwardRequest_Body{Body: []byte(streamBody)}}); err != nil {
		t.Fatal(err)
	}
	_ = tunnel.CloseSend()
	if m, err := tunnel.Recv(); err != nil || m.GetHead().GetStatus() != http.StatusOK {
		t.Fatalf("tunnel head: %v %v", m, err)
	}
	g.cancel()
	rest, err := io.ReadAll(br)
	if err == nil {
		t.Fatalf("HTTP stream ended cleanly at the drain timeout: %q", rest)
	}
	for {
		_, err := tunnel.Recv()
		if err == nil {
			continue
		}
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "drain timeout") {
			t.Fatalf("tunnel ended with %v, want Unavailable (drain timeout)", err)
		}
		break
	}
	if err := <-g.run; err != nil {
		t.Fatal(err)
	}
	g.run <- nil
	// The rows say the gateway cut them, not that the clients left.
	recs, err := g.srv.db.QueryUsage(context.Background(), usage.Filter{Limit: 10})
	if err != nil || len(recs) != 2 {
		t.Fatalf("rows: %v %v", recs, err)
	}
	for _, r := range recs {
		if r.ErrorType != "gateway_shutdown" || r.Status == track.StatusClientClosed || r.CompletionTokens == 0 {
			t.Errorf("row of a stream cut by the drain: status %d, error %q, %d completion tokens", r.Status, r.ErrorType, r.CompletionTokens)
		}
	}
}

// eventually polls ok until it holds, failing the test after 20 s.
func eventually(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
