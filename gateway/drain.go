package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/internal/httplimit"
)

// cutWait is how long requests cancelled at the drain timeout get to write
// their last bytes (an error event) before their connections are closed.
const cutWait = 2 * time.Second

// servingDefaults fills the serving bounds left zero from the config.
func (o *Options) servingDefaults(g config.GeneralSettings) {
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = g.DrainTimeoutDuration()
	}
	if o.BodyReadTimeout <= 0 {
		o.BodyReadTimeout = g.RequestBodyTimeoutDuration()
	}
	if o.MaxConnsPerIP == 0 {
		o.MaxConnsPerIP = g.MaxConnectionsPerIP
	}
}

// limitConns caps the connections per source address on ln (nil stays
// nil). Refusals are logged at most every 10 seconds per listener.
func (s *Server) limitConns(ln net.Listener, name string) net.Listener {
	if ln == nil {
		return nil
	}
	var last atomic.Int64
	return httplimit.PerSourceListener(ln, s.opts.MaxConnsPerIP, func(ip string) {
		now := time.Now().UnixNano()
		if prev := last.Load(); now-prev >= int64(10*time.Second) && last.CompareAndSwap(prev, now) {
			s.log.Warn("connection refused: too many open from one address (max_connections_per_ip)",
				"listener", name, "source", ip, "max", s.opts.MaxConnsPerIP)
		}
	})
}

// drain stops the gateway in four steps:
//
//  1. At once: /health answers 503 and the gRPC health service
//     NOT_SERVING (edges stop picking this replica), both listeners close,
//     idle connections close, and edges get a GOAWAY: no new request or
//     tunnel is taken.
//  2. Running requests, streams included, finish within the grace period
//     (drain_timeout).
//  3. At its end, every request still running has its context cancelled
//     with track.CutCause() and gets cutWait to end: a tunnelled request
//     ends its Forward call with codes.Unavailable, which the edge turns
//     into an error event in the client's dialect (or a broken response);
//     a plain HTTP connection is aborted (abortOnDrainCut), so no client
//     mistakes a cut answer for a complete one.
//  4. Connections still open are closed; the memory write-backs and the
//     usage queue are written out.
func (s *Server) drain(hs *http.Server, gs *grpc.Server, cut context.CancelCauseFunc) {
	s.draining.Store(true)
	s.grpcHealth.Shutdown()
	grace := s.opts.ShutdownGrace
	s.log.Info("draining: no new requests; running ones may finish", "drain_timeout", grace)
	s.admin.ShutdownMCP() // ends held-open MCP streams, which would otherwise hold up both servers
	done := make(chan struct{})
	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	go func() {
		grpcDone := make(chan struct{})
		go func() { gs.GracefulStop(); close(grpcDone) }()
		_ = hs.Shutdown(sctx) // returns early only when sctx ends
		<-grpcDone
		close(done)
	}()
	if !waitOrTimeout(done, grace) {
		s.log.Warn("drain timeout: ending the requests still running", "drain_timeout", grace)
		cut(track.CutCause()) // s.cutCtx: tunnelled requests too
		if !waitOrTimeout(done, cutWait) {
			_ = hs.Close()
			gs.Stop()
			scancel()
			<-done
		}
	}
	s.flushAfterDrain(grace)
}

// waitOrTimeout reports whether done closed within d.
func waitOrTimeout(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// flushAfterDrain writes out the memory write-backs and the usage queue
// once no request runs any more.
func (s *Server) flushAfterDrain(grace time.Duration) {
	s.flushOnce.Do(func() { s.flush(grace) })
}

func (s *Server) flush(grace time.Duration) {
	if s.writes != nil {
		// The queue is journaled: what is not stored by then is replayed at
		// the next start, so the wait is short.
		wctx, wcancel := context.WithTimeout(context.Background(), min(grace, 30*time.Second))
		if err := s.writes.Close(wctx); err != nil {
			s.log.Warn("memory write-back not finished at shutdown; the next start replays it", "err", err)
		}
		wcancel()
	}
	qctx, qcancel := context.WithTimeout(context.Background(), grace)
	defer qcancel()
	if err := s.usage.Close(qctx); err != nil {
		s.log.Error("usage log not fully written at shutdown", "pending", s.usage.Len(), "err", err)
	}
}

// abortOnDrainCut aborts the connection of a request the drain timeout
// ended, so that a plain HTTP client sees a broken response rather than a
// short one that looks complete.
func abortOnDrainCut(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if errors.Is(context.Cause(r.Context()), track.CutCause()) {
			panic(http.ErrAbortHandler)
		}
	})
}
