// Package mcp speaks the Model Context Protocol for the gateway, both ways.
//
// As a client, a Set keeps one connection to each MCP server of the
// operator's config (streamable HTTP, the legacy HTTP+SSE transport, or a
// stdio subprocess) and offers their tools to the server-side tool loop as
// tools.Tool values named <server>__<tool> (see ToolNames). Connecting
// happens in the background: a server that is down is logged and retried
// with backoff, and its tools are simply absent until it answers. Tool
// lists are fetched again on every reconnect and when a server says its
// list changed.
//
// As a server, MemoryHandler serves the caller's memory (memory_search,
// memory_add, memory_get, memory_delete) over streamable HTTP, each
// session bound to the caller that opened it.
//
// What MCP servers say (tool descriptions, results) is untrusted text: it
// reaches the model only as tool definitions and tool results, and never
// chooses models, URLs or other tools.
package mcp

import (
	"cmp"
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memproxy/memproxy/gateway/redact"
	"github.com/memproxy/memproxy/gateway/tools"
)

// Transports of ServerConfig.
const (
	TransportHTTP  = "http"  // streamable HTTP
	TransportSSE   = "sse"   // the legacy HTTP+SSE transport
	TransportStdio = "stdio" // a subprocess speaking on stdin/stdout
)

// ServerConfig is one MCP server to connect to. It comes from the
// operator's config only: nothing a request carries can name a server, a
// command or a URL.
type ServerConfig struct {
	// Name prefixes the server's tools (<Name>__<tool>): letters, digits,
	// '-' and single '_', as config validates it.
	Name      string
	Transport string
	// URL and Headers reach an http or sse server. Redirects are not
	// followed, so the headers go nowhere else.
	URL     string
	Headers map[string]string
	// Command and Args start a stdio server, directly (no shell). Its
	// environment is a minimal one (PATH, HOME, USER, LOGNAME, SHELL,
	// TERM, LANG, TMPDIR, from the gateway's) plus Env: the gateway's
	// credentials are not passed on. Its stderr is logged at debug level.
	Command string
	Args    []string
	Env     map[string]string
	// AllowedTools, when non-nil, are the only tools offered (by the
	// server's names for them).
	AllowedTools []string
}

// Options configure Start. Zero values take the defaults.
type Options struct {
	Servers []ServerConfig
	Logger  *slog.Logger
	// HTTPClient's Transport carries http and sse traffic (default
	// http.DefaultTransport); its Timeout must be 0, as streams are long.
	HTTPClient *http.Client
	// MinBackoff and MaxBackoff bound the wait between connection
	// attempts of one server (defaults 1s and 1m; doubled per failure).
	MinBackoff, MaxBackoff time.Duration
	// ConnectTimeout bounds connecting and listing tools (default 30s).
	ConnectTimeout time.Duration
	// KeepAlive is the interval of pings that notice a silent server
	// (default 30s; negative: none).
	KeepAlive time.Duration
	// Version is the client version told to servers.
	Version string
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(time.Minute, o.MinBackoff)
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.Version == "" {
		o.Version = "dev"
	}
}

// Set is the gateway's connections to its MCP servers. Its methods are
// safe for concurrent use, and a nil *Set has no tools.
type Set struct {
	servers []*server
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// Start connects to every server in the background and returns at once.
// Close stops it.
func Start(opts Options) *Set {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Set{stop: cancel}
	cfgs := slices.SortedFunc(slices.Values(opts.Servers), func(a, b ServerConfig) int { return cmp.Compare(a.Name, b.Name) })
	for _, c := range cfgs {
		srv := newServer(c, &opts)
		s.servers = append(s.servers, srv)
		s.wg.Go(func() { srv.run(ctx) })
	}
	return s
}

// Tools returns the tools of the servers connected now, in the order of
// their server names, each server's tools sorted by name.
func (s *Set) Tools() []tools.Tool {
	if s == nil {
		return nil
	}
	var out []tools.Tool
	for _, srv := range s.servers {
		out = append(out, srv.snapshot()...)
	}
	return out
}

// Close disconnects every server (stdio servers get their stdin closed,
// then SIGTERM, then SIGKILL) and waits for it. It is idempotent.
func (s *Set) Close() error {
	if s == nil {
		return nil
	}
	s.stop()
	s.wg.Wait()
	return nil
}

// server is one configured server and its current session.
type server struct {
	name    string
	cfg     ServerConfig
	opts    *Options
	log     *slog.Logger
	client  *sdk.Client
	refresh chan struct{} // a list-changed notification asks for a new list

	mu    sync.Mutex
	sess  *sdk.ClientSession
	tools []tools.Tool
}

func newServer(c ServerConfig, opts *Options) *server {
	s := &server{name: c.Name, cfg: c, opts: opts, refresh: make(chan struct{}, 1),
		log: opts.Logger.With("mcp_server", c.Name, "transport", c.Transport)}
	keep := opts.KeepAlive
	if keep < 0 {
		keep = 0
	}
	s.client = sdk.NewClient(&sdk.Implementation{Name: "memproxy", Version: opts.Version}, &sdk.ClientOptions{
		KeepAlive: keep,
		ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) {
			select {
			case s.refresh <- struct{}{}:
			default:
			}
		},
	})
	return s
}

func (s *server) session() *sdk.ClientSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess
}

func (s *server) snapshot() []tools.Tool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tools
}

func (s *server) set(sess *sdk.ClientSession, ts []tools.Tool) {
	s.mu.Lock()
	s.sess, s.tools = sess, ts
	s.mu.Unlock()
}

// broken is told of a call that failed below MCP (transport, closed
// connection). A session that is gone, or that does not answer a ping
// now, is closed: run then takes its tools away and reconnects, rather
// than waiting for the keepalive to notice.
func (s *server) broken(sess *sdk.ClientSession, err error) {
	s.log.Warn("MCP tool call failed", "err", redact.String(err.Error()))
	if isGone(err) {
		_ = sess.Close()
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sess.Ping(ctx, nil); err != nil {
			_ = sess.Close()
		}
	}()
}

// run keeps the server connected until ctx ends.
func (s *server) run(ctx context.Context) {
	backoff := s.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		sess, closeConn, err := s.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("MCP server unavailable; its tools are left out until it answers",
				"attempt", attempt, "retry_in", backoff, "err", redact.String(err.Error()))
		} else {
			attempt = 0
			since := time.Now()
			werr := s.serve(ctx, sess)
			s.set(nil, nil)
			_ = sess.Close()
			closeConn()
			if ctx.Err() != nil {
				return
			}
			if time.Since(since) > time.Minute {
				backoff = s.opts.MinBackoff
			}
			msg := "connection closed"
			if werr != nil {
				msg = redact.String(werr.Error())
			}
			s.log.Warn("MCP server disconnected; its tools are left out until it reconnects", "retry_in", backoff, "err", msg)
		}
		// Full jitter over the upper half, so many gateways do not retry in step.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, s.opts.MaxBackoff)
	}
}

// serve waits for the session to end (or ctx), listing the tools again
// whenever the server says they changed.
func (s *server) serve(ctx context.Context, sess *sdk.ClientSession) error {
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-done:
			return err
		case <-s.refresh:
			ts, err := s.list(ctx, sess)
			if err != nil {
				s.log.Warn("MCP server's new tool list could not be read; keeping the old one", "err", redact.String(err.Error()))
				continue
			}
			s.set(sess, ts)
			s.log.Info("MCP server's tools changed", "tools", len(ts))
		}
	}
}

// connect opens a session and lists its tools, within ConnectTimeout. The
// session's transport may keep using the ctx it was opened with (the SSE
// transport's stream does), so that ctx lives until closeConn.
func (s *server) connect(ctx context.Context) (_ *sdk.ClientSession, closeConn func(), err error) {
	t, err := s.transport()
	if err != nil {
		return nil, nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(s.opts.ConnectTimeout, cancel)
	defer timer.Stop()
	sess, err := s.client.Connect(cctx, t, nil)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	ts, err := s.list(cctx, sess)
	if err != nil || !timer.Stop() && cctx.Err() != nil {
		_ = sess.Close()
		cancel()
		if err == nil {
			err = context.DeadlineExceeded
		}
		return nil, nil, err
	}
	s.set(sess, ts)
	s.log.Info("MCP server connected", "tools", len(ts))
	return sess, cancel, nil
}

// maxToolsPerServer bounds what one server may add to every request.
const maxToolsPerServer = 128

// list reads the server's tools (all pages) and builds the offered ones.
func (s *server) list(ctx context.Context, sess *sdk.ClientSession) ([]tools.Tool, error) {
	lctx, cancel := context.WithTimeout(ctx, s.opts.ConnectTimeout)
	defer cancel()
	allowed := map[string]bool{}
	for _, t := range s.cfg.AllowedTools {
		allowed[t] = true
	}
	byName := map[string]*sdk.Tool{}
	for t, err := range sess.Tools(lctx, nil) {
		if err != nil {
			return nil, err
		}
		if s.cfg.AllowedTools != nil && !allowed[t.Name] {
			continue
		}
		if len(byName) == maxToolsPerServer {
			s.log.Warn("MCP server lists more tools than are offered; list the ones to keep in allowed_tools", "max", maxToolsPerServer)
			break
		}
		byName[t.Name] = t
	}
	names := ToolNames(s.name, slices.Collect(func(yield func(string) bool) {
		for n := range byName {
			if !yield(n) {
				return
			}
		}
	}))
	var out []tools.Tool
	for remote, name := range names {
		out = append(out, &remoteTool{srv: s, name: name, remote: remote, def: definition(name, byName[remote])})
	}
	slices.SortFunc(out, func(a, b tools.Tool) int { return cmp.Compare(a.Name(), b.Name()) })
	for _, t := range s.cfg.AllowedTools {
		if byName[t] == nil {
			s.log.Warn("allowed_tools names a tool the MCP server does not list", "tool", t)
		}
	}
	return out, nil
}
