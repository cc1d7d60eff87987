package mcp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memproxy/memproxy/gateway/tools"
)

// TestMain doubles as a stdio MCP server when the stdio test starts this
// binary again with MEMPROXY_MCP_TEST_SERVER=1.
func TestMain(m *testing.M) {
	if os.Getenv("MEMPROXY_MCP_TEST_SERVER") == "1" {
		if err := testServer().Run(context.Background(), &sdk.StdioTransport{}); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type echoIn struct {
	Message string `json:"message"`
}

// testServer has echo (text back, or an error result for "fail"), env
// (a variable of its environment) and hidden (for allowed_tools).
func testServer() *sdk.Server {
	s := sdk.NewServer(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "echo", Description: "Echoes"}, func(_ context.Context, _ *sdk.CallToolRequest, in echoIn) (*sdk.CallToolResult, any, error) {
		if in.Message == "fail" {
			return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: "echo refuses to fail"}}}, nil, nil
		}
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "Echo: " + in.Message}}}, nil, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "env"}, func(_ context.Context, _ *sdk.CallToolRequest, in echoIn) (*sdk.CallToolResult, any, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: in.Message + "=" + os.Getenv(in.Message)}}}, nil, nil
	})
	sdk.AddTool(s, &sdk.Tool{Name: "hidden"}, func(context.Context, *sdk.CallToolRequest, echoIn) (*sdk.CallToolResult, any, error) {
		return nil, nil, errors.New("hidden must not be offered")
	})
	return s
}

// syncBuffer is a log sink safe for the Set's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startSet(t *testing.T, cfg ServerConfig) (*Set, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	set := Start(Options{Servers: []ServerConfig{cfg}, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, ConnectTimeout: 10 * time.Second})
	t.Cleanup(func() {
		set.Close()
		if t.Failed() {
			t.Logf("set log:\n%s", logs)
		}
	})
	return set, logs
}

// waitTools waits until the set offers exactly the named tools.
func waitTools(t *testing.T, set *Set, names ...string) map[string]tools.Tool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		byName := map[string]tools.Tool{}
		var got []string
		for _, tl := range set.Tools() {
			byName[tl.Name()] = tl
			got = append(got, tl.Name())
		}
		if slices.Equal(got, names) {
			return byName
		}
		if time.Now().After(deadline) {
			t.Fatalf("tools = %v, want %v", got, names)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func call(t *testing.T, tl tools.Tool, args string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return tl.Call(ctx, []byte(args))
}

// TestMCPSetTransports: each transport connects, offers the allowed tools
// under the server's prefix, and runs them; an error result is an error
// carrying the server's text.
func TestMCPSetTransports(t *testing.T) {
	var sawHeader atomic.Value
	streamable := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return testServer() }, nil)
	sse := sdk.NewSSEHandler(func(*http.Request) *sdk.Server { return testServer() }, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawHeader.Store(r.Header.Get("Authorization"))
		if strings.HasPrefix(r.URL.Path, "/sse") {
			sse.ServeHTTP(w, r)
			return
		}
		streamable.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MEMPROXY_MCP_TEST_SECRET", "gateway-secret") // must not reach a stdio server
	allowed := []string{"echo", "env"}
	for _, cfg := range []ServerConfig{
		{Name: "web", Transport: TransportHTTP, URL: hs.URL + "/mcp", Headers: map[string]string{"Authorization": "Bearer up-token"}, AllowedTools: allowed},
		{Name: "legacy", Transport: TransportSSE, URL: hs.URL + "/sse", AllowedTools: allowed},
		{Name: "local", Transport: TransportStdio, Command: exe, Args: []string{"-test.run=^$"},
			Env: map[string]string{"MEMPROXY_MCP_TEST_SERVER": "1", "GIVEN": "yes"}, AllowedTools: allowed},
	} {
		t.Run(cfg.Transport, func(t *testing.T) {
			set, _ := startSet(t, cfg)
			ts := waitTools(t, set, cfg.Name+"__echo", cfg.Name+"__env")
			echo := ts[cfg.Name+"__echo"]
			if !strings.Contains(string(echo.Definition()), `"name":"`+cfg.Name+`__echo"`) || !strings.Contains(string(echo.Definition()), `"message"`) {
				t.Errorf("definition = %s", echo.Definition())
			}
			if out, err := call(t, echo, `{"message":"hi from mcp"}`); err != nil || out != "Echo: hi from mcp" {
				t.Errorf("echo = %q, %v", out, err)
			}
			if _, err := call(t, echo, `["not", "an", "object"]`); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
				t.Errorf("arguments that are not an object: %v", err)
			}
			_, err := call(t, echo, `{"message":"fail"}`)
			if h, ok := errors.AsType[tools.Hinted](err); !ok || err.Error() != "echo refuses to fail" || h.RetryHint() == "" {
				t.Errorf("error result = %v", err)
			}
			if cfg.Transport == TransportStdio {
				env := ts[cfg.Name+"__env"]
				if out, _ := call(t, env, `{"message":"GIVEN"}`); out != "GIVEN=yes" {
					t.Errorf("configured env: %q", out)
				}
				if out, _ := call(t, env, `{"message":"MEMPROXY_MCP_TEST_SECRET"}`); out != "MEMPROXY_MCP_TEST_SECRET=" {
					t.Errorf("the gateway's environment leaked to the stdio server: %q", out)
				}
				if out, _ := call(t, env, `{"message":"PATH"}`); out == "PATH=" {
					t.Error("PATH was not passed on")
				}
			}
			if cfg.Transport == TransportHTTP && sawHeader.Load() != "Bearer up-token" {
				t.Errorf("server saw Authorization %q", sawHeader.Load())
			}
		})
	}
}

// TestMCPSetReconnects: a server that is down is logged and retried; its
// tools are absent, then appear when it answers, follow a list-changed
// notification, and go away again when it fails.
func TestMCPSetReconnects(t *testing.T) {
	var up atomic.Bool
	srv := testServer()
	streamable := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		streamable.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	set, logs := startSet(t, ServerConfig{Name: "flaky", Transport: TransportHTTP, URL: hs.URL})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "MCP server unavailable") {
		if time.Now().After(deadline) {
			t.Fatal("no warning for a server that is down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(set.Tools()); n != 0 {
		t.Fatalf("%d tools of a server that is down", n)
	}
	if !strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "up-token") {
		t.Errorf("log: %s", logs)
	}

	up.Store(true)
	waitTools(t, set, "flaky__echo", "flaky__env", "flaky__hidden")

	// The server adds a tool: its list-changed notification refreshes ours.
	sdk.AddTool(srv, &sdk.Tool{Name: "late"}, func(context.Context, *sdk.CallToolRequest, map[string]any) (*sdk.CallToolResult, any, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "late answer"}}}, nil, nil
	})
	ts := waitTools(t, set, "flaky__echo", "flaky__env", "flaky__hidden", "flaky__late")
	if out, err := call(t, ts["flaky__late"], `{}`); err != nil || out != "late answer" {
		t.Errorf("late = %q, %v", out, err)
	}

	// The server goes away: a call fails as unavailable (not the transport's words).
	up.Store(false)
	_, err := call(t, ts["flaky__echo"], `{"message":"x"}`)
	if err == nil || !strings.Contains(err.Error(), "flaky") || strings.Contains(err.Error(), hs.URL) {
		t.Errorf("call to a server that went away: %v", err)
	}
	waitTools(t, set) // the failed call's ping found the server gone: its tools are withdrawn
}

// TestMCPSetClose: Close ends a stdio server's process.
func TestMCPSetClose(t *testing.T) {
	exe, _ := os.Executable()
	set, _ := startSet(t, ServerConfig{Name: "local", Transport: TransportStdio, Command: exe, Args: []string{"-test.run=^$"},
		Env: map[string]string{"MEMPROXY_MCP_TEST_SERVER": "1"}})
	ts := waitTools(t, set, "local__echo", "local__env", "local__hidden")
	done := make(chan struct{})
	go func() { set.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if len(set.Tools()) != 0 {
		t.Error("tools left after Close")
	}
	if _, err := call(t, ts["local__echo"], `{"message":"x"}`); err == nil {
		t.Error("a tool of a closed set still answers")
	}
	var nilSet *Set
	if nilSet.Tools() != nil || nilSet.Close() != nil {
		t.Error("nil Set")
	}
}
