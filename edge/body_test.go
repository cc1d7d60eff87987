package edge

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
	"github.com/memproxy/memproxy/proto/tunnel"
)

// dialProject opens a raw connection to a project's listener, with a read
// deadline far above any bound under test (a regression fails, not hangs).
func dialProject(t *testing.T, base string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	return c, bufio.NewReader(c)
}

func okStub() *stubGateway {
	return &stubGateway{forward: func(_ *pb.RequestHead, _ []byte, _ metadata.MD, s pb.Gateway_ForwardServer) error {
		if err := sendHead(s, 200, "application/json"); err != nil {
			return err
		}
		return sendBody(s, `{"ok":true}`)
	}}
}

// A client that declares 200000 bytes and sends one is answered 408 and
// disconnected once the body bound passes.
func TestSlowBodyIsCutAtTheEdge(t *testing.T) {
	addr := startStub(t, okStub())
	_, base := startEdgeWith(t, Options{Gateway: addr, BodyReadTimeout: 200 * time.Millisecond})
	c, br := dialProject(t, base)
	host := strings.TrimPrefix(base, "http://")
	fmt.Fprintf(c, "POST /v1/messages HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{", host)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "the request body was not received in time") {
		t.Fatalf("status %d %s, want 408", resp.StatusCode, b)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the connection stayed open after a cut body")
	}
}

// An answer that streams for longer than the body bound is not cut by it.
func TestStreamOutlivesBodyBoundAtTheEdge(t *testing.T) {
	const bound = 200 * time.Millisecond
	addr := startStub(t, &stubGateway{forward: func(_ *pb.RequestHead, _ []byte, _ metadata.MD, s pb.Gateway_ForwardServer) error {
		if err := sendHead(s, 200, "text/event-stream"); err != nil {
			return err
		}
		if err := sendBody(s, "data: 1\n\n"); err != nil {
			return err
		}
		select {
		case <-time.After(3 * bound): // the answer outlives the bound
		case <-s.Context().Done():
			return s.Context().Err()
		}
		return sendBody(s, "data: 2\n\n")
	}})
	_, base := startEdgeWith(t, Options{Gateway: addr, BodyReadTimeout: bound})
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "data: 1\n\ndata: 2\n\n" {
		t.Fatalf("stream: %q, %v", b, err)
	}
}

// The edge streams a body to the gateway as it arrives: the gateway has
// its first chunk while the client is still sending, so the edge holds a
// chunk, not the body. A chunked body over the limit is refused with 413.
func TestBodyIsStreamedAndBounded(t *testing.T) {
	firstChunk := make(chan struct{})
	var once sync.Once
	stub := &stubGateway{}
	stub.forwardRaw = func(s pb.Gateway_ForwardServer) error {
		if _, err := s.Recv(); err != nil { // head
			return err
		}
		if _, err := s.Recv(); err != nil { // first body chunk
			return err
		}
		once.Do(func() { close(firstChunk) })
		for {
			if _, err := s.Recv(); err != nil {
				if err == io.EOF {
					if err := sendHead(s, 200, "application/json"); err != nil {
						return err
					}
					return sendBody(s, `{"ok":true}`)
				}
				return err
			}
		}
	}
	addr := startStub(t, stub)
	_, base := startEdgeWith(t, Options{Gateway: addr, MaxBody: 1 << 20})

	pr, pw := io.Pipe()
	go func() {
		chunk := strings.Repeat("x", tunnel.ChunkSize)
		_, _ = io.WriteString(pw, chunk)
		select {
		case <-firstChunk:
		case <-time.After(20 * time.Second): // a buffering edge never forwards it
		}
		_, _ = io.WriteString(pw, chunk)
		pw.Close()
	}()
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", pr) // chunked: no length
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-firstChunk:
	default:
		t.Fatal("the gateway got no body chunk while the client was still sending")
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}

	big := io.MultiReader(strings.NewReader(strings.Repeat("y", 3<<20))) // chunked, 3 MiB
	resp, err = http.Post(base+"/v1/messages", "application/json", big)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "request_too_large") {
		t.Fatalf("over-limit chunked body: %d %s", resp.StatusCode, b)
	}
}

// x-memory-disable, the client's opt-out, reaches the gateway; every other
// x-memory-* header is still dropped.
func TestMemoryOptOutPassesThrough(t *testing.T) {
	heads := make(chan *pb.RequestHead, 1)
	addr := startStub(t, &stubGateway{forward: func(h *pb.RequestHead, _ []byte, _ metadata.MD, s pb.Gateway_ForwardServer) error {
		heads <- h
		if err := sendHead(s, 200, "application/json"); err != nil {
			return err
		}
		return sendBody(s, `{}`)
	}})
	_, base := startEdge(t, addr)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/messages", strings.NewReader(`{}`))
	req.Header.Set("x-memory-disable", "1")
	req.Header.Set("x-memory-user-id", "mallory")
	req.Header.Set("x-memory-scope", "team")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := http.Header{}
	tunnel.HeadersFromProto(h, (<-heads).GetHeaders())
	if h.Get("X-Memory-Disable") != "1" {
		t.Errorf("x-memory-disable did not reach the gateway: %v", h)
	}
	for _, name := range []string{"X-Memory-User-Id", "X-Memory-Scope"} {
		if h.Get(name) != "" {
			t.Errorf("%s reached the gateway", name)
		}
	}
}

// A kept-alive connection left idle is closed.
func TestIdleConnectionsAreClosed(t *testing.T) {
	addr := startStub(t, okStub())
	_, base := startEdgeWith(t, Options{Gateway: addr, IdleTimeout: 100 * time.Millisecond})
	c, br := dialProject(t, base)
	fmt.Fprintf(c, "GET /v1/models HTTP/1.1\r\nHost: %s\r\n\r\n", strings.TrimPrefix(base, "http://"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want it closed (EOF)", err)
	}
}
