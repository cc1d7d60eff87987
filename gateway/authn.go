package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/track"
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
func keyError(err error, badKeyMsg string) *track.Error {
	switch {
	case errors.Is(err, auth.ErrNoKey):
		return track.NewError(http.StatusUnauthorized, llm.ErrAuthentication, "missing_api_key", err.Error())
	case errors.Is(err, auth.ErrUnavailable):
		return track.NewError(http.StatusServiceUnavailable, llm.ErrUnavailable, "auth_unavailable", auth.ErrUnavailable.Error())
	default:
		return track.NewError(http.StatusUnauthorized, llm.ErrAuthentication, "invalid_api_key", badKeyMsg)
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
				track.WriteError(w, r, keyError(err, "the edge's gateway key was refused: run 'memedge login' with a valid key"))
				return
			}
			p, err := s.checkKey(ctx, auth.KeyFromHeader(r.Header))
			if err != nil {
				track.WriteError(w, r, keyError(err, auth.ErrBadKey.Error()))
				return
			}
			id = s.resolver.Resolve(r.Header, p)
			track.ApplyIdentity(&track.From(ctx).Rec, id)
			ctx = auth.WithIdentity(ctx, id)
		}
		if !id.Key.AllowsProject(id.Project) {
			track.WriteError(w, r, track.NewError(http.StatusForbidden, llm.ErrPermission, "project_not_allowed",
				"this API key may not act for project "+id.Project))
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
