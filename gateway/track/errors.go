package track

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/dialect"
	"github.com/memproxy/memproxy/gateway/llm"
)

// Error is an error with everything needed to answer the client, in any
// dialect.
type Error = dialect.Error

// NewError is an Error of kind with the given status, code and message.
func NewError(status int, kind llm.ErrorKind, code, msg string) *Error {
	return dialect.NewError(status, kind, code, msg)
}

// WriteError answers with e in the dialect of the request and records it in
// the request's usage row. It is the one place errors become responses.
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	From(r.Context()).SetError(e.Kind)
	ClientOf(r).WriteError(w, e)
}

// ClientOf is the request's client dialect: its route's, or for a request
// no route took, its path's.
func ClientOf(r *http.Request) dialect.Client {
	if c := From(r.Context()).Client; c != nil {
		return c
	}
	return dialect.ForPath(r.URL.Path)
}

// errDrainTimeout is the cause of the context of every request still
// running when the drain timeout ends: the gateway, not the client, ended
// it. context.Cause(r.Context()) tells the two apart.
var errDrainTimeout = errors.New("the gateway shut down before the answer was complete (drain timeout)")

// CutCause is the cause with which the gateway's drain timeout cancels the
// requests still running.
func CutCause() error { return errDrainTimeout }

// ClientGone reports whether ctx ended because the client left (not
// because the gateway's drain timeout cut the request).
func ClientGone(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled) && !DrainCut(ctx)
}

// DrainCut reports whether the gateway's drain timeout ended ctx.
func DrainCut(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errDrainTimeout) }

// ShutdownError is what a client whose answer the drain cut is told.
func ShutdownError() *Error {
	return NewError(http.StatusServiceUnavailable, llm.ErrGatewayShutdown, "gateway_shutdown", errDrainTimeout.Error())
}

// RequireAdmin answers 403 unless the request was made with the master key.
func RequireAdmin(w http.ResponseWriter, r *http.Request) bool {
	if id, ok := auth.FromContext(r.Context()); ok && id.Admin {
		return true
	}
	WriteError(w, r, NewError(http.StatusForbidden, llm.ErrPermission, "admin_only", "this endpoint needs the master key"))
	return false
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
