package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc/peer"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/usage"
	"github.com/memproxy/memproxy/internal/telemetry"
)

type tunnelAuthKey struct{}

// tunnelAuthFailed marks a tunnel request whose edge credential was
// refused with err; such a request is never authenticated from its own
// headers.
func tunnelAuthFailed(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, tunnelAuthKey{}, err)
}

// checkKey checks a presented key: the master key, or a per-user key of the
// database (through the auth cache).
func (s *Server) checkKey(ctx context.Context, key string) (auth.Principal, error) {
	ctx, end := telemetry.Span(ctx, "auth.check") // never the key itself
	p, err := s.keys.Check(ctx, key)
	end(err)
	return p, err
}

// keyError is the answer to a refused key: 401 for a missing or wrong key,
// 503 when the key could not be checked (the database is down): a key is
// then neither accepted nor called wrong.
func keyError(err error, badKeyMsg string) *apiError {
	switch {
	case errors.Is(err, auth.ErrNoKey):
		return newAPIError(http.StatusUnauthorized, llm.ErrAuthentication, "missing_api_key", err.Error())
	case errors.Is(err, auth.ErrUnavailable):
		return newAPIError(http.StatusServiceUnavailable, llm.ErrUnavailable, "auth_unavailable", auth.ErrUnavailable.Error())
	default:
		return newAPIError(http.StatusUnauthorized, llm.ErrAuthentication, "invalid_api_key", badKeyMsg)
	}
}

// authenticate establishes the request's Identity: tunnel requests arrive
// with it (set by the gRPC side after checking the edge's key); plain-HTTP
// requests present a key and headers. Failures answer 401 and fail closed.
// Either way a key restricted to a project may act for that project only:
// naming another answers 403.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, ok := auth.FromContext(ctx)
		if !ok {
			if err, failed := ctx.Value(tunnelAuthKey{}).(error); failed {
				writeError(w, r, keyError(err, "the edge's gateway key was refused: run 'memedge login' with a valid key"))
				return
			}
			p, err := s.checkKey(ctx, auth.KeyFromHeader(r.Header))
			if err != nil {
				writeError(w, r, keyError(err, auth.ErrBadKey.Error()))
				return
			}
			id = s.resolver.Resolve(r.Header, p)
			applyIdentity(&stateFrom(ctx).rec, id)
			ctx = auth.WithIdentity(ctx, id)
		}
		if !id.Key.AllowsProject(id.Project) {
			writeError(w, r, newAPIError(http.StatusForbidden, llm.ErrPermission, "project_not_allowed",
				"this API key may not act for project "+id.Project))
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireAdmin answers 403 unless the request was made with the master key.
func requireAdmin(w http.ResponseWriter, r *http.Request) bool {
	if id, ok := auth.FromContext(r.Context()); ok && id.Admin {
		return true
	}
	writeError(w, r, newAPIError(http.StatusForbidden, llm.ErrPermission, "admin_only", "this endpoint needs the master key"))
	return false
}

// Rows for failed authentication are sampled per source, so that a client
// without a key cannot grow the usage log without bound: each source (the
// client's IP address, or the edge's for a tunnelled request) gets the
// rows of its first authFailRowsPerSource failures of each minute, and all
// sources together at most authFailRowsPerMinute. The failures left out
// are still counted in the metrics and summed up in one warning per
// source and minute. Requests that authenticated always get their row.
const (
	authFailRowsPerSource = 10
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
	if c.kept >= authFailRowsPerSource || a.kept >= authFailRowsPerMinute {
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
	if addr == tunnelRemoteAddr {
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
