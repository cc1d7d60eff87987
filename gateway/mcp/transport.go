package mcp

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memproxy/memproxy/gateway/redact"
)

// transport builds a fresh transport for one connection attempt (a stdio
// command can be started once only).
func (s *server) transport() (sdk.Transport, error) {
	switch s.cfg.Transport {
	case TransportStdio:
		cmd := exec.Command(s.cfg.Command, s.cfg.Args...)
		cmd.Env = childEnv(s.cfg.Env)
		cmd.Stderr = &stderrLog{log: s.log}
		detach(cmd)
		return &sdk.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil
	case TransportSSE:
		return &sdk.SSEClientTransport{Endpoint: s.cfg.URL, HTTPClient: s.httpClient()}, nil
	case TransportHTTP, "":
		return &sdk.StreamableClientTransport{Endpoint: s.cfg.URL, HTTPClient: s.httpClient()}, nil
	}
	return nil, fmt.Errorf("unknown MCP transport %q", s.cfg.Transport)
}

// httpClient sends the configured headers on every request and follows
// no redirect (which would carry them to another address).
func (s *server) httpClient() *http.Client {
	base := http.DefaultTransport
	if c := s.opts.HTTPClient; c != nil && c.Transport != nil {
		base = c.Transport
	}
	return &http.Client{
		Transport:     &headerTransport{base: base, headers: s.cfg.Headers},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(t.headers) > 0 {
		r = r.Clone(r.Context())
		for k, v := range t.headers {
			r.Header.Set(k, v)
		}
	}
	return t.base.RoundTrip(r)
}

// inheritedEnv are the variables a stdio server gets from the gateway's
// environment (as the reference SDKs pass on): enough to find programs
// and a home directory, nothing that holds a credential.
var inheritedEnv = []string{"HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL", "TMPDIR"}

func childEnv(extra map[string]string) []string {
	var env []string
	for _, k := range inheritedEnv {
		if _, set := extra[k]; set {
			continue
		}
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// isGone reports an error after which the session cannot serve calls.
func isGone(err error) bool {
	return errors.Is(err, sdk.ErrConnectionClosed) || errors.Is(err, sdk.ErrSessionMissing)
}

// stderrLog logs a stdio server's stderr line by line at debug level,
// redacted, with lines cut at 4 KiB.
type stderrLog struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

const maxStderrLine = 4 << 10

func (w *stderrLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) > maxStderrLine {
				w.emit(w.buf[:maxStderrLine])
				w.buf = w.buf[:0]
			}
			return len(p), nil
		}
		w.emit(w.buf[:min(i, maxStderrLine)])
		w.buf = w.buf[i+1:]
	}
}

func (w *stderrLog) emit(line []byte) {
	if len(bytes.TrimSpace(line)) > 0 {
		w.log.Debug("MCP server stderr", "line", redact.String(string(line)))
	}
}
