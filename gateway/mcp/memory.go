package mcp

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memproxy/memproxy/gateway/memory"
)

// Caller is who a request to the memory MCP server acts for, as the
// gateway authenticated it.
type Caller struct {
	// ID names the caller (its user, project and key, hashed: never a
	// credential). A session is bound to the ID of the caller that opened
	// it; a request of any other caller is refused (403).
	ID string
	// Scope is the memory every tool of the session reads and writes,
	// derived from the identity exactly as the memory API derives it.
	Scope memory.Scope
	// Client names the calling program (e.g. claude-code), kept as the
	// provenance of memories it adds.
	Client string
}

type callerKey struct{}

// WithCaller returns ctx carrying c, for MemoryHandler.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok && c.ID != "" && c.Scope != ""
}

// MemoryOptions configure NewMemoryHandler.
type MemoryOptions struct {
	Backend memory.Backend
	// MaxResults is memory_search's default and largest limit (clamped
	// as memory.ClampLimit does).
	MaxResults int
	// SessionTimeout closes a session that made no request for this long
	// (default 24h). A client whose session is gone gets 404 and starts a
	// new one.
	SessionTimeout time.Duration
	Logger         *slog.Logger
	Version        string
	// SessionKey signs session ids. Replicas given the same key serve each
	// other's sessions: a request naming a session this process does not
	// hold, signed for its caller, is served statelessly (the memory
	// server keeps nothing in a session but its caller). Empty: a random
	// key, so sessions live in this process only.
	SessionKey []byte
	// Ended, when set, shares the sessions that ended between replicas
	// (see EndedSessions).
	Ended EndedSessions
}

// MemoryHandler serves the memory MCP server over streamable HTTP (SSE
// responses, a GET stream per session, DELETE to end one). Every request
// must carry its Caller (WithCaller): the gateway authenticates first.
type MemoryHandler struct {
	opts   MemoryOptions
	cache  *sdk.SchemaCache
	stub   *sdk.Server
	next   http.Handler
	sdkLog *slog.Logger
	// adopted serves sessions opened by another replica (see SessionKey).
	adopted http.Handler
	signer  sessionSigner
	ended   localEnded

	mu      sync.Mutex
	closed  bool
	streams map[*http.Request]context.CancelFunc
	servers map[string][]bornServer // by Caller.ID, oldest first
	swept   time.Time
}

// MaxSessionsPerCaller bounds one caller's open sessions: opening one
// more closes its oldest (a client that never ends its sessions cannot
// grow the gateway's memory without bound).
const MaxSessionsPerCaller = 64

// bornServer is a session's server and when it was made.
type bornServer struct {
	srv  *sdk.Server
	born time.Time
}

// sessionHeader is the streamable HTTP transport's session id header.
const sessionHeader = "Mcp-Session-Id"

// NewMemoryHandler returns the handler; call Shutdown when the gateway
// stops.
func NewMemoryHandler(o MemoryOptions) *MemoryHandler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 24 * time.Hour
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	o.MaxResults = memory.ClampLimit(o.MaxResults)
	h := &MemoryHandler{opts: o, cache: sdk.NewSchemaCache(), streams: map[*http.Request]context.CancelFunc{},
		servers: map[string][]bornServer{}, sdkLog: slog.New(warnOnly{o.Logger.Handler()})}
	h.stub = sdk.NewServer(h.impl(), nil)
	h.signer = sessionSigner{key: o.SessionKey}
	if len(h.signer.key) == 0 {
		h.signer.key = []byte(rand.Text())
	}
	streamable := sdk.NewStreamableHTTPHandler(h.server, &sdk.StreamableHTTPOptions{
		Logger:         h.sdkLog, // the SDK logs every session at info
		SessionTimeout: o.SessionTimeout,
		// Every request arrives authenticated (a key over HTTP, or through
		// an edge port, which checks Host and Origin itself), so the SDK's
		// loopback Host check would only refuse a gateway behind a
		// same-host reverse proxy.
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        1 << 20,
	})
	// The SDK binds a session to TokenInfo.UserID and refuses any other
	// user on it (403). TokenInfo reaches its context only through
	// RequireBearerToken, so ServeHTTP hands that middleware a stand-in
	// bearer and the verifier answers with the caller the gateway
	// authenticated, whatever the token says.
	bearer := auth.RequireBearerToken(func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		c, ok := callerFrom(ctx)
		if !ok {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{UserID: c.ID, Expiration: time.Now().Add(time.Hour)}, nil
	}, nil)
	h.next = bearer(streamable)
	h.adopted = bearer(sdk.NewStreamableHTTPHandler(func(r *http.Request) *sdk.Server {
		if c, ok := callerFrom(r.Context()); ok {
			return h.boundServer(c)
		}
		return nil
	}, &sdk.StreamableHTTPOptions{Stateless: true, Logger: h.sdkLog, DisableLocalhostProtection: true, MaxRequestBodyBytes: 1 << 20}))
	return h
}

func (h *MemoryHandler) impl() *sdk.Implementation {
	return &sdk.Implementation{Name: "memproxy-memory", Title: "memproxy memory", Version: h.opts.Version}
}

// ServeHTTP serves one MCP request of the caller in r's context. Without
// a caller it answers 500 and does nothing (a wiring fault fails closed).
func (h *MemoryHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := callerFrom(r.Context()); !ok {
		http.Error(w, "no authenticated caller", http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	if r.Method == http.MethodGet { // the server-to-client stream: held open until the client, the session or Shutdown ends it
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		if !h.track(r, cancel) {
			http.Error(w, "the gateway is shutting down", http.StatusServiceUnavailable)
			return
		}
		defer h.untrack(r)
	} else if h.isClosed() {
		http.Error(w, "the gateway is shutting down", http.StatusServiceUnavailable)
		return
	}
	r = r.Clone(context.WithValue(ctx, slotKey{}, &serverSlot{}))
	r.Header.Set("Authorization", "Bearer memproxy-caller") // see NewMemoryHandler; the real credential was checked and stays out of the tools' view
	r.Header.Del("X-Api-Key")
	switch local, foreign := h.whose(r); {
	case foreign:
		h.serveAdopted(w, r)
		return
	case local && r.Method == http.MethodDelete:
		defer h.endSessions(r.Header.Get(sessionHeader))
	}
	h.next.ServeHTTP(w, r)
}

// whose tells a session this process holds for r's caller (local) from
// one signed for that caller that another replica opened (foreign), both
// not ended. Neither: no session, another caller's, or an ended one (a
// held one ended elsewhere is closed here); the SDK answers those (404 or
// 403).
func (h *MemoryHandler) whose(r *http.Request) (local, foreign bool) {
	sid := r.Header.Get(sessionHeader)
	c, _ := callerFrom(r.Context())
	if sid == "" || !h.signer.verify(c.ID, sid) {
		return false, false
	}
	var held *sdk.ServerSession
	h.mu.Lock()
	for _, b := range h.servers[c.ID] {
		for ss := range b.srv.Sessions() {
			if ss.ID() == sid {
				held = ss
			}
		}
	}
	h.mu.Unlock()
	ended := h.sessionEnded(r.Context(), sid)
	if held != nil && ended { // deleted through another replica
		_ = held.Close()
		return false, false
	}
	return held != nil, held == nil && !ended
}

// serveAdopted serves a request of a session another replica opened:
// a POST runs statelessly on a server bound to the caller, as the
// session's own would; DELETE records it as ended (204); the GET stream
// is not offered (405, which the transport allows).
func (h *MemoryHandler) serveAdopted(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodDelete:
		h.endSessions(r.Header.Get(sessionHeader))
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		h.adopted.ServeHTTP(w, r)
	default:
		w.Header().Set("Allow", "POST, DELETE")
		http.Error(w, "this session's event stream is on another replica", http.StatusMethodNotAllowed)
	}
}

func (h *MemoryHandler) track(r *http.Request, cancel context.CancelFunc) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.streams[r] = cancel
	return true
}

func (h *MemoryHandler) untrack(r *http.Request) {
	h.mu.Lock()
	delete(h.streams, r)
	h.mu.Unlock()
}

func (h *MemoryHandler) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Shutdown ends the held-open GET streams, so a draining gateway does not
// wait on them, and answers later requests 503; requests already running
// finish.
func (h *MemoryHandler) Shutdown() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, cancel := range h.streams {
		cancel()
	}
	clear(h.streams)
}

// server is the SDK's getServer: a request naming a session goes to that
// session's own server (the stub is consulted only for protocol
// versions); one opening a session gets a new server bound to its caller.
func (h *MemoryHandler) server(r *http.Request) *sdk.Server {
	if r.Header.Get(sessionHeader) != "" {
		return h.stub
	}
	c, ok := callerFrom(r.Context())
	if !ok {
		return nil
	}
	// The SDK asks twice for a request that opens a session; one server
	// answers both.
	slot, _ := r.Context().Value(slotKey{}).(*serverSlot)
	if slot != nil && slot.srv != nil {
		return slot.srv
	}
	srv := h.boundServer(c)
	h.register(c.ID, srv)
	if slot != nil {
		slot.srv = srv
	}
	return srv
}

type slotKey struct{}

// serverSlot holds the server made for one HTTP request.
type serverSlot struct{ srv *sdk.Server }

// register keeps srv among its caller's servers, forgetting servers whose
// sessions have ended and closing the oldest sessions past
// MaxSessionsPerCaller.
func (h *MemoryHandler) register(id string, srv *sdk.Server) {
	now := time.Now()
	live := func(b bornServer) bool {
		for range b.srv.Sessions() {
			return true
		}
		return now.Sub(b.born) < time.Minute // a session may still be connecting
	}
	var evict []bornServer
	h.mu.Lock()
	if now.Sub(h.swept) > time.Minute { // now and then, every caller's list
		h.swept = now
		for k, list := range h.servers {
			if list = slices.DeleteFunc(list, func(b bornServer) bool { return !live(b) }); len(list) == 0 {
				delete(h.servers, k)
			} else {
				h.servers[k] = list
			}
		}
	}
	list := slices.DeleteFunc(h.servers[id], func(b bornServer) bool { return !live(b) })
	if n := len(list) + 1 - MaxSessionsPerCaller; n > 0 {
		evict, list = slices.Clone(list[:n]), list[n:]
	}
	h.servers[id] = append(list, bornServer{srv, now})
	h.mu.Unlock()
	var ended []string
	for _, b := range evict {
		for ss := range b.srv.Sessions() {
			ended = append(ended, ss.ID())
			_ = ss.Close()
		}
	}
	h.endSessions(ended...)
	if len(evict) > 0 {
		h.opts.Logger.Info("closed the oldest MCP sessions of a caller past the limit", "closed", len(evict), "max", MaxSessionsPerCaller)
	}
}

// warnOnly passes on warnings and errors only.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

func (w warnOnly) WithAttrs(as []slog.Attr) slog.Handler { return warnOnly{w.Handler.WithAttrs(as)} }
func (w warnOnly) WithGroup(g string) slog.Handler       { return warnOnly{w.Handler.WithGroup(g)} }
