// Package edge is memedge: one daemon per machine with one loopback listener
// per project. Each listener tags requests with identity, replaces the
// client's credential with the user's gateway key, and tunnels the exchange
// to the gateway over gRPC. A Unix socket controls the daemon.
package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memproxy/memproxy/internal/version"
	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
	"github.com/memproxy/memproxy/registry"
)

// Options configure a Daemon.
type Options struct {
	// Gateway is the gateway's gRPC address (host:port); Key the user's
	// gateway key.
	Gateway string
	Key     string
	// User, Hostname and EdgeID are sent with every request.
	User, Hostname, EdgeID string
	// DetectClient names the client of a request from its headers.
	DetectClient func(get func(string) string) (client, pattern string)
	// Registry allocates project ports.
	Registry *registry.Registry
	// AllowedOrigins lists browser origins allowed besides loopback ones.
	AllowedOrigins []string
	// MaxBody bounds a request body (default 32 MiB).
	MaxBody int64
	// BodyReadTimeout bounds the time a client takes to send a request,
	// headers and body (default 60s); the answer is not bounded by it.
	// IdleTimeout closes a kept-alive connection left idle (default 2m).
	BodyReadTimeout, IdleTimeout time.Duration
	// ShutdownGrace is how long running requests may take to finish when
	// a listener stops (default 10s).
	ShutdownGrace time.Duration
	// TLS secures the tunnel; nil speaks plaintext, which the command
	// allows only for a loopback gateway or with --insecure.
	TLS *tls.Config
	// ConnectWait is how long a request waits for a gateway connection
	// that is being re-made (default a little over the reconnect backoff).
	ConnectWait time.Duration
	// QuietProcs, when positive, is the GOMAXPROCS the daemon runs with
	// while its request rate is light (see procs.go); 0 leaves the
	// runtime's setting alone.
	QuietProcs int
	Logger     *slog.Logger
}

// Daemon serves every project of one machine.
type Daemon struct {
	opts   Options
	log    *slog.Logger
	gw     *gatewayConn
	client pb.GatewayClient

	served atomic.Int64 // requests received, every project

	mu       sync.Mutex
	projects map[string]*project
	stop     context.CancelFunc
}

// New returns a daemon; the gateway connection is made lazily and re-made
// by itself after failures.
func New(opts Options) (*Daemon, error) {
	if opts.Registry == nil {
		return nil, errors.New("edge: Options.Registry is required")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 32 << 20
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 10 * time.Second
	}
	if opts.BodyReadTimeout <= 0 {
		opts.BodyReadTimeout = time.Minute
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ConnectWait <= 0 {
		opts.ConnectWait = maxBackoff + 500*time.Millisecond
	}
	gw, err := dialGateway(opts.Gateway, opts.Key, opts.TLS)
	if err != nil {
		return nil, err
	}
	return &Daemon{opts: opts, log: opts.Logger, gw: gw, client: gw.client, projects: map[string]*project{}}, nil
}

// Run serves the control API on ctl until ctx is cancelled or a shutdown is
// requested, then stops every project listener gracefully. It closes ctl.
func (d *Daemon) Run(ctx context.Context, ctl net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	d.mu.Lock()
	d.stop = cancel
	d.mu.Unlock()
	defer d.gw.cc.Close()
	go d.hello(ctx)
	go d.governProcs(ctx)
	cs := &http.Server{Handler: d.controlHandler(), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- cs.Serve(ctl) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, scancel := context.WithTimeout(context.Background(), time.Second)
	_ = cs.Shutdown(sctx)
	scancel()
	d.stopAll()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// hello registers the edge with the gateway once it is reachable; it only
// logs, since requests work without it.
func (d *Daemon) hello(ctx context.Context) {
	for delay := time.Second; ; delay = min(2*delay, time.Minute) {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := d.client.Hello(hctx, &pb.HelloRequest{EdgeId: d.opts.EdgeID, Hostname: d.opts.Hostname, Version: version.Version, Projects: d.names()})
		cancel()
		if err == nil {
			d.log.Info("gateway reached", "gateway", d.opts.Gateway, "gateway_version", resp.GetVersion(), "models", len(resp.GetModels()))
			return
		}
		d.log.Warn("gateway not reachable yet", "gateway", d.opts.Gateway, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// ProjectStatus describes one served project.
type ProjectStatus struct {
	Project   string    `json:"project"`
	Port      int       `json:"port"`
	URL       string    `json:"url"`
	Running   bool      `json:"running"`
	Requests  int64     `json:"requests"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	// Previous and Reason report a port change made by this start.
	Previous int    `json:"previous_port,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// StartRequest asks the daemon to serve a project.
type StartRequest struct {
	Project string `json:"project"`
	// Port pins the port (0: the registry's choice).
	Port int `json:"port,omitempty"`
	// Dir is the project's checkout, for git remote and branch ("" none).
	Dir string `json:"dir,omitempty"`
}

// Start serves a project, allocating its port from the registry. Starting a
// project already served returns its status unchanged.
func (d *Daemon) Start(req StartRequest) (ProjectStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.projects[req.Project]; ok {
		if req.Port != 0 && req.Port != p.port {
			return ProjectStatus{}, fmt.Errorf("project %s is already served on port %d; stop it first to move it to %d", req.Project, p.port, req.Port)
		}
		return p.status(), nil
	}
	alloc, err := d.opts.Registry.Allocate(req.Project, registry.AllocateRequest{Port: req.Port, PID: os.Getpid()})
	if err != nil {
		return ProjectStatus{}, err
	}
	port := alloc.Entry.Port
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
	if err != nil {
		_ = d.opts.Registry.Release(req.Project, os.Getpid())
		return ProjectStatus{}, fmt.Errorf("listening on 127.0.0.1:%d: %w", port, err)
	}
	p := &project{d: d, name: req.Project, port: port, git: newGitInfo(req.Dir), started: time.Now()}
	p.server = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: min(10*time.Second, d.opts.BodyReadTimeout),
		// ReadTimeout bounds headers and body together (a body sent a byte
		// at a time gets 408); net/http lifts it once the body is read, so
		// a long streamed answer is not cut.
		ReadTimeout:    d.opts.BodyReadTimeout,
		IdleTimeout:    d.opts.IdleTimeout,
		MaxHeaderBytes: 1 << 20,
		ErrorLog:       slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := p.server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("project listener failed", "project", p.name, "port", port, "err", err)
			p.setLastError(err.Error())
		}
	}()
	d.projects[req.Project] = p
	d.log.Info("serving project", "project", p.name, "port", port)
	st := p.status()
	st.Previous, st.Reason = alloc.Previous, alloc.Reason
	return st, nil
}

// Stop stops serving a project: it stops accepting at once and lets running
// requests finish within the shutdown grace. The port stays the project's.
func (d *Daemon) Stop(name string) error {
	d.mu.Lock()
	p, ok := d.projects[name]
	delete(d.projects, name)
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("project %s is not being served", name)
	}
	d.stopProject(p)
	return nil
}

func (d *Daemon) stopProject(p *project) {
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.ShutdownGrace)
	defer cancel()
	if err := p.server.Shutdown(ctx); err != nil {
		_ = p.server.Close()
	}
	if err := d.opts.Registry.Release(p.name, os.Getpid()); err != nil {
		d.log.Warn("registry release failed", "project", p.name, "err", err)
	}
	d.log.Info("stopped project", "project", p.name)
}

func (d *Daemon) stopAll() {
	d.mu.Lock()
	ps := make([]*project, 0, len(d.projects))
	for _, p := range d.projects {
		ps = append(ps, p)
	}
	d.projects = map[string]*project{}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { d.stopProject(p) })
	}
	wg.Wait()
}

// Shutdown asks Run to return.
func (d *Daemon) Shutdown() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stop != nil {
		d.stop()
	}
}

// Status lists the served projects, sorted by name.
func (d *Daemon) Status() []ProjectStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]ProjectStatus, 0, len(d.projects))
	for _, p := range d.projects {
		out = append(out, p.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out
}

func (d *Daemon) names() []string {
	var out []string
	for _, s := range d.Status() {
		out = append(out, s.Project)
	}
	return out
}

func (p *project) status() ProjectStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ProjectStatus{
		Project: p.name, Port: p.port, URL: fmt.Sprintf("http://127.0.0.1:%d", p.port), Running: true,
		Requests: p.requests.Load(), LastError: p.lastError, Since: p.started,
	}
}
