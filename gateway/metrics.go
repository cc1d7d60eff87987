package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/memory/writeback"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/gateway/usage"
)

// metrics are one Server's Prometheus collectors, in a registry of their
// own (no global registry: two servers in one process, as in tests, count
// apart).
//
// Label values are bounded: model is a configured model_name (else
// "other", or "none" for a request that named none), client a name from
// the built-in detection table (else "other"), status_class 2xx, 4xx, 5xx
// or 499, route one of the API routes, ingress http or tunnel, and memory
// status the closed set recall records.
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	ttfb       *prometheus.HistogramVec
	tokens     *prometheus.CounterVec
	cost       *prometheus.CounterVec
	memory     *prometheus.CounterVec
	toolRounds prometheus.Counter

	models  map[string]bool
	clients map[string]bool

	// sets caches each label combination's series, so that a request
	// costs one map lookup and no allocation.
	mu   sync.RWMutex
	sets map[seriesKey]*seriesSet
}

type seriesKey struct{ route, model, class, client, ingress string }

// seriesSet is the series one request updates.
type seriesSet struct {
	requests                                prometheus.Counter
	duration, ttfb                          prometheus.Observer
	prompt, completion, cached, costCounter prometheus.Counter
}

func (m *metrics) set(k seriesKey) *seriesSet {
	m.mu.RLock()
	s := m.sets[k]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s = m.sets[k]; s == nil {
		s = &seriesSet{
			requests: m.requests.WithLabelValues(k.route, k.model, k.class, k.client, k.ingress),
			duration: m.duration.WithLabelValues(k.route, k.model),
			ttfb:     m.ttfb.WithLabelValues(k.route, k.model),
			prompt:   m.tokens.WithLabelValues(k.model, "prompt"), completion: m.tokens.WithLabelValues(k.model, "completion"),
			cached: m.tokens.WithLabelValues(k.model, "cached"), costCounter: m.cost.WithLabelValues(k.model),
		}
		m.sets[k] = s
	}
	return s
}

const metricsNamespace = "memproxy"

// Buckets in seconds. LLM requests run from milliseconds (cache hits,
// refusals) to minutes (long streams and tool loops).
var (
	durationBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320}
	ttfbBuckets     = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 4, 8, 16, 32}
)

// newMetrics registers the collectors; q feeds the usage queue's gauges
// and models are the configured model names.
func newMetrics(q *usage.Queue, models []string) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), models: map[string]bool{}, clients: map[string]bool{config.UnknownClient: true},
		sets: map[seriesKey]*seriesSet{}}
	for _, name := range models {
		m.models[name] = true
	}
	for _, r := range config.DefaultClientRules() {
		m.clients[r.Name] = true
	}
	f := promauto{m.reg}
	m.requests = f.counterVec("requests_total", "API requests answered, by route, model, status class (2xx, 4xx, 5xx, 499 for a client that left), client and ingress.",
		"route", "model", "status_class", "client", "ingress")
	m.duration = f.histogramVec("request_duration_seconds", "Time from a request's arrival to the end of its answer.", durationBuckets, "route", "model")
	m.ttfb = f.histogramVec("ttfb_seconds", "Time from a request's arrival to the first byte of its answer.", ttfbBuckets, "route", "model")
	m.tokens = f.counterVec("tokens_total", "Tokens reported by providers: prompt, completion, and cached (the part of prompt read from the provider's cache).", "model", "kind")
	m.cost = f.counterVec("cost_usd_total", "What requests cost in US dollars at the gateway's prices.", "model")
	m.memory = f.counterVec("memory_retrievals_total", "Requests for which memory retrieval ran or was considered, by outcome (injected, empty, timeout, error, …).", "status")
	m.toolRounds = prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "tool_rounds_total", Help: "Rounds of gateway-run tools."})
	m.reg.MustRegister(m.toolRounds,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "usage_queue_depth",
			Help: "Usage rows finished and not yet stored in the database."}, func() float64 { return float64(q.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "usage_journal_bytes",
			Help: "Size of the usage journal on disk: requests in flight and rows the database has not taken yet."}, func() float64 { return float64(q.JournalBytes()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// watchWriteback adds the memory write-back queue's gauges: jobs not yet
// stored and jobs stuck (failing again and again, still retried: a
// backend that refuses them needs a look).
func (m *metrics) watchWriteback(w *writeback.Queue) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "memory_writeback_pending",
			Help: "Memory write-backs journaled and not yet stored."}, func() float64 { return float64(w.Stats().Pending) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "memory_writeback_stuck",
			Help: "Memory write-backs that keep failing (kept and retried, never dropped)."}, func() float64 { return float64(w.Stats().Stuck) }),
	)
}

// promauto builds memproxy_ collectors and registers them in reg.
type promauto struct{ reg *prometheus.Registry }

func (f promauto) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f promauto) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// observe counts one finished request from its usage row.
func (m *metrics) observe(route, ingress string, rec *usage.Record, ttfb, total time.Duration) {
	s := m.set(seriesKey{route: route, model: m.model(rec.Model), class: statusClass(rec.Status), client: m.client(rec.Client), ingress: ingress})
	s.requests.Inc()
	s.duration.Observe(total.Seconds())
	if ttfb > 0 {
		s.ttfb.Observe(ttfb.Seconds())
	}
	for _, t := range []struct {
		c prometheus.Counter
		n int64
	}{{s.prompt, rec.PromptTokens}, {s.completion, rec.CompletionTokens}, {s.cached, rec.CachedTokens}} {
		if t.n > 0 {
			t.c.Add(float64(t.n))
		}
	}
	if rec.Cost != nil && *rec.Cost > 0 {
		s.costCounter.Add(*rec.Cost)
	}
	if st := rec.MemoryStatus; st != "" && st != track.MemOff {
		m.memory.WithLabelValues(memoryLabel(st)).Inc()
	}
	if rec.ToolRounds > 0 {
		m.toolRounds.Add(float64(rec.ToolRounds))
	}
}

func (m *metrics) model(name string) string {
	switch {
	case name == "":
		return "none"
	case m.models[name]:
		return name
	}
	return "other" // a name the client made up: never a label of its own
}

func (m *metrics) client(name string) string {
	switch {
	case name == "":
		return config.UnknownClient
	case m.clients[name]:
		return name
	}
	return "other" // an edge's own detection rule
}

func statusClass(code int) string {
	if code == track.StatusClientClosed {
		return "499"
	}
	switch code / 100 {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	case 5:
		return "5xx"
	}
	return "other"
}

func memoryLabel(st string) string {
	switch st {
	case track.MemOptedOut, track.MemNoScope, track.MemNoQuery, track.MemEmpty, track.MemInjected, track.MemNoPlace, track.MemTimeout, track.MemError, track.MemLexicalOnly:
		return st
	}
	return "other"
}

// metricsHandler serves the registry in the Prometheus text format.
func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn), ErrorHandling: promhttp.ContinueOnError,
		// A slow scraper must not pile up gathers.
		MaxRequestsInFlight: 4, Timeout: 10 * time.Second,
	})
}

// ServeMetrics serves GET /metrics on ln, without authentication, until
// ctx is cancelled; it closes ln. It is meant for a listener that only the
// monitoring network reaches (memgateway serve --metrics): the API port
// serves the same page to the master key only.
func (s *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsHandler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
