// Package gateway is memgateway: it authenticates requests arriving over
// HTTP or the edge tunnel, routes them to providers, streams answers back
// and logs one usage row per request. Both ingresses run the same handler.
package gateway

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/adminapi"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/cache"
	"github.com/memproxy/memproxy/gateway/dialect"
	"github.com/memproxy/memproxy/gateway/limits"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/extract"
	"github.com/memproxy/memproxy/gateway/memory/writeback"
	"github.com/memproxy/memproxy/gateway/pricing"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/relay"
	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/gateway/ui"
	"github.com/memproxy/memproxy/gateway/usage"
	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
)

// Options configure a Server.
type Options struct {
	Config *config.Gateway
	// DataDir holds the embedded database and other local state.
	DataDir string
	// MasterKey is the administrator's key (the config's, or one the
	// command generated); empty accepts no key at all.
	MasterKey string
	Logger    *slog.Logger
	// HTTPClient, when set, is used for every provider call (tests).
	HTTPClient *http.Client
	// ShutdownGrace is how long running requests may take to finish once
	// Run's ctx is cancelled (default: the config's drain_timeout); see
	// drain for what happens at its end.
	ShutdownGrace time.Duration
	// BodyReadTimeout bounds the time to receive a request, headers and
	// body, over HTTP and through the tunnel (default: the config's
	// request_body_timeout). Responses are not bounded by it.
	BodyReadTimeout time.Duration
	// MaxConnsPerIP caps the connections one source address holds on each
	// listener: 0 takes the config's max_connections_per_ip, < 0 none.
	MaxConnsPerIP int
	// UsageQueue tunes the usage log's queue.
	UsageQueue usage.QueueOptions
	// TLS, when set, serves both HTTP and gRPC over TLS with it.
	TLS *tls.Config
	// Memory, when set, overrides the config's context_retrieval.
	Memory *MemoryOptions
	// Tools, when set, overrides the config's tool_execution.
	Tools *ToolOptions
}

// Server is one gateway process.
type Server struct {
	opts     Options
	log      *slog.Logger
	keys     *auth.Keys
	resolver *auth.Resolver
	models   *provider.Table
	db       store.DB
	usage    *usage.Queue
	handler  http.Handler
	maxBody  int64
	prices   *pricing.Table
	router   *provider.Router
	limiter  limits.Limiter
	cache    cache.Cache
	redis    *redis.Client // nil without Redis
	metrics  *metrics
	// tracker keeps every API request's record (usage row, span, metrics);
	// pipe serves the completion endpoints; admin the APIs around them.
	tracker *track.Tracker
	pipe    *relay.Pipeline
	admin   *adminapi.API
	// flushOnce writes out the queues once: at the end of Run, or in
	// Close for a server that never ran.
	flushOnce sync.Once
	// writes queues memory write-backs, durably (nil when memory is off);
	// closed once the servers have stopped.
	writes *writeback.Queue
	// draining is set at the start of drain: /health answers 503 and the
	// gRPC health service NOT_SERVING, so balancers and edges move away.
	draining   atomic.Bool
	grpcHealth *health.Server
	// cutCtx is cancelled, with track.CutCause() as its cause, when the
	// drain timeout ends the requests still running (see drain); nil
	// before Run.
	cutCtx context.Context
	// claim, stopUpkeep and upkeepDone: see replicas.go.
	claim      *store.Claim
	stopUpkeep func()
	upkeepDone chan struct{}
}

// New builds a server: it opens the database (applying migrations) and
// prepares every configured deployment. Call Run to serve, then Close.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Config == nil {
		opts.Config = config.Default()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := opts.Config
	opts.servingDefaults(cfg.General)
	models, err := buildDeployments(cfg, opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	resolver, err := buildResolver(cfg)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.General.DatabaseURL, opts.DataDir, store.Options{VectorSearch: cfg.Memory.VectorSearch})
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	claim, err := store.ClaimFile(ctx, db, newReplicaID())
	if errors.Is(err, store.ErrShared) {
		db.Close()
		return nil, err
	} else if err != nil {
		opts.Logger.Warn("starting without the check for another gateway on the database file", "err", err)
	}
	if opts.Memory == nil {
		if opts.Memory, err = buildMemory(cfg.Memory, db, opts.HTTPClient); err != nil {
			_ = claim.Leave(ctx)
			db.Close()
			return nil, err
		}
	}
	if opts.Tools == nil {
		t := cfg.Tools
		opts.Tools = &ToolOptions{Enabled: t.Enabled, MaxIterations: t.MaxIterations,
			TimeoutPerTool: time.Duration(t.TimeoutPerTool * float64(time.Second)), MaxResults: t.MaxResults}
		opts.Tools.MCP = newMCPSet(cfg, opts) // connects in the background
	}
	qopts := opts.UsageQueue
	qopts.Logger = opts.Logger
	if qopts.Fsync == "" {
		qopts.Fsync = cfg.Usage.Fsync
	}
	if qopts.JournalDir == "" {
		qopts.JournalDir = opts.DataDir // rows the database cannot take wait here, on disk
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		keys:     auth.NewKeys(opts.MasterKey),
		resolver: resolver,
		models:   models,
		db:       db,
		usage:    usage.NewQueue(db, qopts),
		maxBody:  cfg.General.MaxRequestBytes(),
		claim:    claim,
	}
	s.prices = buildPrices(cfg)
	s.router = provider.NewRouter(models, routerOptions(cfg))
	s.keys.Attach(db, auth.CacheOptions{Logger: opts.Logger})
	upkeep, stop := context.WithCancel(context.Background())
	s.stopUpkeep, s.upkeepDone = stop, make(chan struct{})
	go s.replicaUpkeep(upkeep, s.upkeepDone)
	s.sharedState(cfg)
	s.metrics = newMetrics(s.usage, models.Names())
	s.pipe = relay.New(relay.Deps{Config: cfg, Log: s.log, Memory: opts.Memory, Tools: opts.Tools, Models: models,
		Router: s.router, Prices: s.prices, Cache: s.cache, Limiter: s.limiter, Usage: s.usage, MaxBody: s.maxBody})
	hybridMemory(cfg.Memory, opts.Memory, s.pipe, s.log) // embeddings for recall, when configured
	if err := s.memoryWrites(cfg, qopts.Fsync); err != nil {
		s.usage.Close(ctx)
		db.Close()
		return nil, err
	}
	s.tracker = &track.Tracker{Usage: s.usage, Prices: s.prices, Receipts: &track.Receipts{}, Log: s.log, Observe: s.metrics.observe}
	s.admin = adminapi.New(adminapi.Deps{DB: db, Memory: opts.Memory, Receipts: s.tracker.Receipts, Models: models, Log: s.log,
		MasterKey: opts.MasterKey, MCPMaxResults: opts.Tools.MaxResults, MCPEnded: s.mcpEnded(), Authenticate: s.authenticate})
	s.handler = s.routes()
	go s.usage.Run()
	return s, nil
}

// memoryWrites sets up the pipeline's write-back: the durable queue in the
// data directory and, with context_retrieval.extraction.model, the fact
// extractor. Nothing when memory is off.
func (s *Server) memoryWrites(cfg *config.Gateway, fsync string) error {
	m := s.opts.Memory
	if m == nil || !m.Enabled || m.Backend == nil {
		return nil
	}
	relay.MemoryDefaults(m)
	if x := cfg.Memory.Extraction; x.Model != "" {
		s.pipe.Extractor = &extract.Extractor{Model: x.Model, Call: s.pipe.ExtractionCall, MaxFacts: x.MaxFacts, Logger: s.log,
			Budget: &extract.Budget{Tokens: x.DailyBudgetTokens, Calls: x.DailyBudgetCalls}}
	}
	w, err := writeback.Open(cmp.Or(s.opts.DataDir, "."), s.pipe.StoreMemory, writeback.Options{Logger: s.log, Fsync: fsync})
	if err != nil {
		return err
	}
	s.writes, s.pipe.Writes = w, w
	s.metrics.watchWriteback(w)
	return nil
}

// Handler returns the HTTP handler shared by both ingresses.
func (s *Server) Handler() http.Handler { return s.handler }

// Models lists the public model names.
func (s *Server) Models() []string { return s.models.Names() }

// Run serves HTTP on httpLn and gRPC on grpcLn (either may be nil) until ctx
// is cancelled, then stops accepting, lets running requests finish within
// the shutdown grace, and flushes the usage log. It closes the listeners.
func (s *Server) Run(ctx context.Context, httpLn, grpcLn net.Listener) error {
	// Requests hang off base, which the drain timeout cancels with
	// track.CutCause() as its cause.
	base, cut := context.WithCancelCause(context.Background())
	defer cut(nil)
	s.cutCtx = base
	hs := &http.Server{
		Handler:           abortOnDrainCut(s.handler),
		ReadHeaderTimeout: min(10*time.Second, s.opts.BodyReadTimeout),
		// ReadTimeout bounds headers and body together: a body sent a byte
		// at a time fails to read (408, then the connection closes).
		// net/http lifts the deadline once the body has been read, so a
		// long streamed answer is not cut by it.
		ReadTimeout:    s.opts.BodyReadTimeout,
		MaxHeaderBytes: 1 << 20,
		IdleTimeout:    2 * time.Minute,
		BaseContext:    func(net.Listener) context.Context { return base },
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	httpLn, grpcLn = s.limitConns(httpLn, "http"), s.limitConns(grpcLn, "grpc")
	gs := s.newGRPCServer()
	serveHTTP := func() error { return hs.Serve(httpLn) }
	if s.opts.TLS != nil {
		hs.TLSConfig = s.opts.TLS.Clone()
		serveHTTP = func() error { return hs.ServeTLS(httpLn, "", "") }
	}
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	if httpLn != nil {
		wg.Go(func() {
			if err := serveHTTP(); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http: %w", err)
			}
		})
	}
	if grpcLn != nil {
		wg.Go(func() {
			if err := gs.Serve(grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("grpc: %w", err)
			}
		})
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.drain(hs, gs, cut)
	wg.Wait()
	return runErr
}

// Close releases the database and Redis. Call it after Run has returned.
func (s *Server) Close() error {
	s.flushAfterDrain(5 * time.Second) // a server that never ran still has its queues to write out
	s.stopUpkeep()
	<-s.upkeepDone
	if s.redis != nil {
		_ = s.redis.Close()
	}
	_ = s.opts.Tools.MCP.Close()
	return s.db.Close()
}

// routes maps the gateway's URLs: the model traffic through the Tracker
// to the pipeline, the admin APIs, the dashboard, health and metrics.
func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/health", s.health).Methods(http.MethodGet)
	api := func(path string, h http.HandlerFunc, methods ...string) {
		for _, p := range []string{"/v1" + path, path} {
			r.Handle(p, s.tracker.Wrap("/v1"+path, s.authenticate(h))).Methods(methods...).Name(track.TrackedRoute + " " + p)
		}
	}
	for _, c := range dialect.All() {
		api(strings.TrimPrefix(c.Path(), "/v1"), s.pipe.Completions(c), http.MethodPost)
	}
	api("/messages/count_tokens", s.pipe.CountTokens, http.MethodPost)
	api("/embeddings", s.pipe.OpenAIOnly(provider.OpEmbeddings), http.MethodPost)
	api("/completions", s.pipe.OpenAIOnly(provider.OpCompletions), http.MethodPost)
	s.admin.Routes(r)
	r.PathPrefix("/ui").Handler(ui.Handler()).Methods(http.MethodGet, http.MethodHead)
	// The API port serves the metrics to the master key only: their labels
	// name every model and client in use. An open copy for scrapers runs
	// on its own listener (ServeMetrics, memgateway serve --metrics).
	metricsPage := s.metricsHandler()
	r.Handle("/metrics", s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if track.RequireAdmin(w, r) {
			metricsPage.ServeHTTP(w, r)
		}
	}))).Methods(http.MethodGet)
	r.Use(track.AdminSpans)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		track.WriteError(w, r, track.NewError(http.StatusNotFound, "not_found_error", "unknown_url", "no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		track.WriteError(w, r, track.NewError(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path))
	})
	return r
}

var _ pb.GatewayServer = (*tunnelService)(nil)

// MemoryOptions configure retrieval, injection and write-back.
type MemoryOptions = memory.Options

// ToolOptions configure the server-side tool loop.
type ToolOptions = relay.ToolOptions
