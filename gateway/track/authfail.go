package track

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc/peer"

	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/usage"
)

// Rows for failed authentication are sampled per source, so that a client
// without a key cannot grow the usage log without bound: each source (the
// client's IP address, or the edge's for a tunnelled request) gets the
// rows of its first AuthFailRowsPerSource failures of each minute, and all
// sources together at most authFailRowsPerMinute. The failures left out
// are still counted in the metrics and summed up in one warning per
// source and minute. Requests that authenticated always get their row.
const (
	AuthFailRowsPerSource = 10
	authFailRowsPerMinute = 600
	authFailMaxSources    = 10000 // sources tracked in one minute; past it, rows are left out
)

// authFailSampler decides which failed-authentication requests get a row.
type authFailSampler struct {
	mu      sync.Mutex
	minute  int64
	kept    int
	sources map[string]*authFailCount
}

type authFailCount struct{ kept, left int }

// keep reports whether the failure from source at now gets its row, and
// logs what the previous minute left out once a new minute starts.
func (a *authFailSampler) keep(log *slog.Logger, source string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := now.Unix() / 60; m != a.minute {
		for src, c := range a.sources {
			if c.left > 0 {
				log.Warn("failed-authentication requests left out of the usage log (sampled)",
					"source", src, "logged", c.kept, "left_out", c.left)
			}
		}
		a.minute, a.kept, a.sources = m, 0, map[string]*authFailCount{}
	}
	c := a.sources[source]
	if c == nil {
		if len(a.sources) >= authFailMaxSources {
			return false
		}
		c = &authFailCount{}
		a.sources[source] = c
	}
	if c.kept >= AuthFailRowsPerSource || a.kept >= authFailRowsPerMinute {
		c.left++
		return false
	}
	c.kept++
	a.kept++
	return true
}

// authFailSource names where a request came from: the peer of the gRPC
// tunnel for a tunnelled request, the client's IP address otherwise.
func authFailSource(r *http.Request) string {
	addr := r.RemoteAddr
	if addr == TunnelRemoteAddr {
		if p, ok := peer.FromContext(r.Context()); ok && p.Addr != nil {
			addr = p.Addr.String()
		}
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// unauthenticatedFailure reports a row of a request refused for its key
// (no identity was established): the rows authFailSampler samples.
func unauthenticatedFailure(rec *usage.Record) bool {
	return rec.ErrorType == string(llm.ErrAuthentication) && rec.User == ""
}
