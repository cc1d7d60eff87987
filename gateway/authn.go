package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/llm"
)

type tunnelAuthKey struct{}

// tunnelAuthFailed marks a tunnel request whose edge credential was
// refused; such a request is never authenticated from its own headers.
func tunnelAuthFailed(ctx context.Context) context.Context {
	return context.WithValue(ctx, tunnelAuthKey{}, true)
}

// authenticate establishes the request's Identity: tunnel requests arrive
// with it (set by the gRPC side after checking the edge's key); plain-HTTP
// requests present a key and headers. Failures answer 401 and fail closed.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.FromContext(r.Context()); ok {
			next.ServeHTTP(w, r)
			return
		}
		if failed, _ := r.Context().Value(tunnelAuthKey{}).(bool); failed {
			writeError(w, r, newAPIError(http.StatusUnauthorized, llm.ErrAuthentication, "invalid_api_key",
				"the edge's gateway key was refused: run 'memedge login' with a valid key"))
			return
		}
		p, err := s.keys.Check(auth.KeyFromHeader(r.Header))
		if err != nil {
			code := "invalid_api_key"
			if errors.Is(err, auth.ErrNoKey) {
				code = "missing_api_key"
			}
			writeError(w, r, newAPIError(http.StatusUnauthorized, llm.ErrAuthentication, code, err.Error()))
			return
		}
		id := s.resolver.Resolve(r.Header, p)
		applyIdentity(&stateFrom(r.Context()).rec, id)
		next.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
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
