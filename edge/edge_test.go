package edge

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
	"github.com/memproxy/memproxy/proto/tunnel"
	"github.com/memproxy/memproxy/registry"
)

// stubGateway is a gRPC Gateway whose Forward is a function field.
type stubGateway struct {
	pb.UnimplementedGatewayServer
	forward func(head *pb.RequestHead, body []byte, md metadata.MD, stream pb.Gateway_ForwardServer) error
	// forwardRaw, when set, serves Forward on the raw stream instead.
	forwardRaw func(stream pb.Gateway_ForwardServer) error
}

func (s *stubGateway) Hello(context.Context, *pb.HelloRequest) (*pb.HelloResponse, error) {
	return &pb.HelloResponse{Version: "stub"}, nil
}

func (s *stubGateway) Forward(stream pb.Gateway_ForwardServer) error {
	if s.forwardRaw != nil {
		return s.forwardRaw(stream)
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	body, err := io.ReadAll(tunnel.NewBodyReader(func() ([]byte, error) {
		m, err := stream.Recv()
		return m.GetBody(), err
	}))
	if err != nil {
		return err
	}
	md, _ := metadata.FromIncomingContext(stream.Context())
	if s.forward == nil {
		return status.Error(codes.Unimplemented, "stub has no Forward")
	}
	return s.forward(first.GetHead(), body, md, stream)
}

func sendHead(stream pb.Gateway_ForwardServer, code int, ctype string) error {
	return stream.Send(&pb.ForwardResponse{Msg: &pb.ForwardResponse_Head{Head: &pb.ResponseHead{
		Status: int32(code), Headers: []*pb.Header{{Name: "Content-Type", Values: []string{ctype}}},
	}}})
}

func sendBody(stream pb.Gateway_ForwardServer, s string) error {
	return stream.Send(&pb.ForwardResponse{Msg: &pb.ForwardResponse_Body{Body: []byte(s)}})
}

// startStub serves stub on loopback and returns its address.
func startStub(t *testing.T, stub *stubGateway) string {
	t.Helper()
	addr, _ := startStubAt(t, stub, "127.0.0.1:0")
	return addr
}

// startStubAt serves stub at addr and returns the address and a stop func.
func startStubAt(t *testing.T, stub *stubGateway, addr string) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	pb.RegisterGatewayServer(gs, stub)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return ln.Addr().String(), gs.Stop
}

// startEdge runs a daemon serving project "shop" against gateway addr and
// returns the project's base URL.
func startEdge(t *testing.T, addr string, origins ...string) (*Daemon, string) {
	t.Helper()
	return startEdgeWith(t, Options{Gateway: addr, AllowedOrigins: origins, ConnectWait: 300 * time.Millisecond})
}

func startEdgeWith(t *testing.T, opts Options) (*Daemon, string) {
	t.Helper()
	reg, err := registry.Open(t.TempDir(), registry.Options{PortMin: 20000, PortMax: 29999})
	if err != nil {
		t.Fatal(err)
	}
	opts.Key, opts.User, opts.Hostname, opts.EdgeID = "sk-edge-key", "alice", "laptop", "edge-1"
	opts.Registry, opts.ShutdownGrace = reg, time.Second
	opts.DetectClient = func(get func(string) string) (string, string) {
		if strings.HasPrefix(get("User-Agent"), "claude-cli/") {
			return "claude-code", "^claude-cli/"
		}
		return "unknown", ""
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := ListenControl(t.TempDir() + "/s.sock")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx, ctl); close(done) }()
	// Projects of consecutive tests reuse the range's first port: drop the
	// client's keep-alive connections to the stopped server with it.
	t.Cleanup(func() { cancel(); <-done; http.DefaultClient.CloseIdleConnections() })
	st, err := d.Start(StartRequest{Project: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	return d, st.URL
}

func TestForwardSetsIdentityAndReplacesCredentials(t *testing.T) {
	var got struct {
		head *pb.RequestHead
		body []byte
		md   metadata.MD
	}
	addr := startStub(t, &stubGateway{forward: func(h *pb.RequestHead, b []byte, md metadata.MD, s pb.Gateway_ForwardServer) error {
		got.head, got.body, got.md = h, b, md
		if err := sendHead(s, 200, "application/json"); err != nil {
			return err
		}
		return sendBody(s, `{"ok":true}`)
	}})
	_, base := startEdge(t, addr)
	body := strings.Repeat("x", 3*tunnel.ChunkSize+17) // several chunks
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions?x=1", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer sk-whatever-the-ide-sends")
	req.Header.Set("X-Api-Key", "dummy")
	req.Header.Set("X-Memory-User-Id", "mallory")
	req.Header.Set("X-Memory-Project", "billing")
	req.Header.Set("User-Agent", "claude-cli/2.0.1 (external, cli)")
	req.Header.Set("Anthropic-Beta", "x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"ok":true}` {
		t.Fatalf("status %d body %s", resp.StatusCode, b)
	}
	if string(got.body) != body || got.head.GetContentLength() != int64(len(body)) {
		t.Errorf("body arrived with %d bytes (declared %d), want %d", len(got.body), got.head.GetContentLength(), len(body))
	}
	if got.head.GetPath() != "/v1/chat/completions" || got.head.GetRawQuery() != "x=1" || got.head.GetMethod() != "POST" {
		t.Errorf("head %v", got.head)
	}
	h := http.Header{}
	tunnel.HeadersFromProto(h, got.head.GetHeaders())
	for _, name := range []string{"Authorization", "X-Api-Key", "X-Memory-User-Id", "X-Memory-Project"} {
		if v := h.Get(name); v != "" {
			t.Errorf("client header %s reached the gateway: %q", name, v)
		}
	}
	if h.Get("Anthropic-Beta") != "x" {
		t.Error("ordinary headers must pass through")
	}
	id := got.head.GetIdentity()
	if id.GetUser() != "alice" || id.GetProject() != "shop" || id.GetClient() != "claude-code" ||
		id.GetClientPattern() != "^claude-cli/" || id.GetHostname() != "laptop" || id.GetEdgeId() != "edge-1" {
		t.Errorf("identity %v", id)
	}
	if a := got.md.Get("authorization"); len(a) != 1 || a[0] != "Bearer sk-edge-key" {
		t.Errorf("gateway credential %v", a)
	}
}

func TestLocalOnlyGuards(t *testing.T) {
	addr := startStub(t, &stubGateway{forward: func(_ *pb.RequestHead, _ []byte, _ metadata.MD, s pb.Gateway_ForwardServer) error {
		return sendHead(s, 204, "text/plain")
	}})
	_, base := startEdge(t, addr, "https://trusted.example")
	port := strings.TrimPrefix(base, "http://127.0.0.1:")
	cases := []struct {
		host, origin, fetchSite string
		want                    int
	}{
		{"127.0.0.1:" + port, "", "", 204},
		{"localhost:" + port, "", "", 204},
		{"[::1]:" + port, "", "", 204},
		{"evil.example:" + port, "", "", 403}, // DNS rebinding
		{"127.0.0.1:1", "", "", 403},
		{"127.0.0.1", "", "", 403},
		{"127.0.0.1:" + port, "https://evil.example", "", 403},
		{"127.0.0.1:" + port, "http://localhost:3000", "", 204},
		{"127.0.0.1:" + port, "https://trusted.example", "cross-site", 204},
		{"127.0.0.1:" + port, "", "cross-site", 403}, // e.g. <img src> from a web page
		{"127.0.0.1:" + port, "", "none", 204},       // typed into the address bar
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader("{}"))
		req.Host = c.host
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		if c.fetchSite != "" {
			req.Header.Set("Sec-Fetch-Site", c.fetchSite)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("Host %q Origin %q Sec-Fetch-Site %q: status %d, want %d", c.host, c.origin, c.fetchSite, resp.StatusCode, c.want)
		}
	}
}

func TestGatewayUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, base := startEdge(t, addr)
	for _, c := range []struct{ path, dialect string }{{"/v1/chat/completions", "openai"}, {"/v1/messages", "anthropic"}} {
		resp, err := http.Post(base+c.path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%s: status %d", c.path, resp.StatusCode)
		}
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &e); err != nil || !strings.Contains(e.Error.Message, addr) {
			t.Errorf("%s: error must name the gateway %s: %s", c.path, addr, b)
		}
		if (c.dialect == "anthropic") != (e.Type == "error") {
			t.Errorf("%s: wrong dialect: %s", c.path, b)
		}
	}
}

// TestStreamsFlushPerChunkAndCutsEndWithError: the first chunk reaches the
// client while the gateway holds the rest; a stream the gateway aborts
// ends with an error event.
func TestStreamsFlushPerChunkAndCutsEndWithError(t *testing.T) {
	release := make(chan struct{})
	addr := startStub(t, &stubGateway{forward: func(_ *pb.RequestHead, _ []byte, _ metadata.MD, s pb.Gateway_ForwardServer) error {
		sendHead(s, 200, "text/event-stream")
		sendBody(s, "data: {\"n\":1}\n\n")
		<-release
		return status.Error(codes.Unavailable, "gateway going away")
	}})
	_, base := startEdge(t, addr)
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: {\"n\":1}\n" {
		t.Fatalf("first line %q %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), `"code":"gateway_connection_lost"`) {
		t.Errorf("cut stream must end with an error event, got %q", rest)
	}
}

func TestClientDisconnectCancelsForward(t *testing.T) {
	cancelled := make(chan struct{})
	addr := startStub(t, &stubGateway{forward: func(_ *pb.RequestHead, _ []byte, _ metadata.MD, s pb.Gateway_ForwardServer) error {
		sendHead(s, 200, "text/event-stream")
		sendBody(s, "data: {}\n\n")
		<-s.Context().Done()
		close(cancelled)
		return nil
	}})
	_, base := startEdge(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bufio.NewReader(resp.Body).ReadString('\n')
	cancel()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway call was not cancelled when the client left")
	}
}

func TestStartIsIdempotentAndRoutingInfo(t *testing.T) {
	addr := startStub(t, &stubGateway{})
	d, base := startEdge(t, addr)
	st, err := d.Start(StartRequest{Project: "shop"})
	if err != nil || st.URL != base {
		t.Fatalf("second start: %v %v (first %s)", st, err, base)
	}
	if n := len(d.Status()); n != 1 {
		t.Fatalf("%d listeners after starting one project twice", n)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/memory-routing/info", nil)
	req.Header.Set("User-Agent", "claude-cli/2.0.1")
	req.Header.Set("X-Memory-User-Id", "mallory")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]string
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	want := map[string]string{"user": "alice", "project": "shop", "client": "claude-code", "matched_pattern": "^claude-cli/", "gateway": addr}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("routing info %s = %q, want %q", k, info[k], v)
		}
	}
}

func TestControlSocket(t *testing.T) {
	addr := startStub(t, &stubGateway{})
	reg, _ := registry.Open(t.TempDir(), registry.Options{PortMin: 30000, PortMax: 39999})
	d, err := New(Options{Gateway: addr, Key: "k", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	sock := t.TempDir() + "/c.sock"
	ctl, err := ListenControl(sock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ListenControl(sock); err == nil {
		t.Fatal("a second daemon must not take over a live control socket")
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(context.Background(), ctl) }()
	c := NewClient(sock)
	ctx := context.Background()
	st, err := c.Start(ctx, StartRequest{Project: "a"})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.Status(ctx)
	if err != nil || len(ds.Projects) != 1 || ds.Projects[0].Port != st.Port {
		t.Fatalf("status %+v %v", ds, err)
	}
	if err := c.Stop(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", st.Port)); err == nil {
		t.Error("the project's port still accepts connections after stop")
	}
	if err := c.Stop(ctx, "a"); err == nil {
		t.Error("stopping a project that is not served must fail")
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(sock).Status(ctx); err == nil {
		t.Error("daemon still answers after shutdown")
	}
}

// TestGatewayOutageAndRecovery: once the gateway has worked, its absence is
// an outage (503 with Retry-After, in the client's dialect), and the first
// request after it returns succeeds with no user action.
func TestGatewayOutageAndRecovery(t *testing.T) {
	ok := &stubGateway{forward: func(_ *pb.RequestHead, _ []byte, _ metadata.MD, s pb.Gateway_ForwardServer) error {
		return sendHead(s, 204, "text/plain")
	}}
	addr, stop := startStubAt(t, ok, "127.0.0.1:0")
	_, base := startEdgeWith(t, Options{Gateway: addr, ConnectWait: 3 * time.Second})
	post := func(path string) *http.Response {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := post("/v1/chat/completions"); resp.StatusCode != 204 {
		t.Fatalf("gateway up: status %d", resp.StatusCode)
	}
	stop()
	for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
		resp := post(path)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s during outage: status %d Retry-After %q", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	startStubAt(t, ok, addr)
	if resp := post("/v1/chat/completions"); resp.StatusCode != 204 {
		t.Errorf("first request after the gateway returned: status %d", resp.StatusCode)
	}
}

// TestShutdownLetsRunningStreamsFinish: Stop refuses new connections at
// once but a stream already running completes.
func TestShutdownLetsRunningStreamsFinish(t *testing.T) {
	release := make(chan struct{})
	addr := startStub(t, &stubGateway{forward: func(_ *pb.RequestHead, _ []byte, _ metadata.MD, s pb.Gateway_ForwardServer) error {
		sendHead(s, 200, "text/event-stream")
		sendBody(s, "data: 1\n\n")
		<-release
		return sendBody(s, "data: [DONE]\n\n")
	}})
	d, base := startEdge(t, addr)
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	br.ReadString('\n')
	stopped := make(chan error, 1)
	go func() { stopped <- d.Stop("shop") }()
	waitUntil(t, func() bool {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "[DONE]") {
		t.Errorf("running stream was cut by shutdown: %q", rest)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
