package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/memproxy/memproxy/gateway/api/anthropic"
	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider"
)

// apiError is an error with everything needed to answer the client.
type apiError struct {
	status int
	kind   llm.ErrorKind
	code   string // OpenAI's error.code; empty sends null
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func newAPIError(status int, kind llm.ErrorKind, code, msg string) *apiError {
	return &apiError{status: status, kind: kind, code: code, msg: msg}
}

// isAnthropicPath reports whether the client speaks Anthropic's dialect,
// decided by the raw path as the clients send it.
func isAnthropicPath(path string) bool {
	return strings.HasPrefix(path, "/v1/messages") || strings.HasPrefix(path, "/messages")
}

// writeError answers with e in the dialect of the request and records it in
// the request's usage row. It is the one place errors become responses.
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	stateFrom(r.Context()).setError(e.kind)
	if isAnthropicPath(r.URL.Path) {
		anthropic.WriteError(w, e.status, e.msg, 0)
		return
	}
	openai.WriteError(w, e.status, openai.NewError(openAIType(e.status, e.kind), e.code, e.msg), 0)
}

// openAIType maps a status to the error.type values OpenAI sends.
func openAIType(status int, kind llm.ErrorKind) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "invalid_request_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		if kind == llm.ErrUpstreamTimeout {
			return "timeout"
		}
		return "api_error"
	default:
		return "invalid_request_error"
	}
}

// upstreamCallError classifies an error from provider.Do (no HTTP answer).
func upstreamCallError(ctx context.Context, name string, err error) *apiError {
	switch {
	case ctx.Err() != nil:
		return newAPIError(statusClientClosed, llm.ErrClientCancelled, "client_closed_request", "the client closed the request")
	case errors.Is(err, provider.ErrTimeout):
		return newAPIError(http.StatusGatewayTimeout, llm.ErrUpstreamTimeout, "upstream_timeout",
			"the upstream for model "+name+" did not answer in time")
	case errors.Is(err, provider.ErrUnsupported):
		return newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "unsupported_operation", err.Error())
	default:
		// The cause is logged; the client learns which model failed, not
		// the upstream's address or the transport's details.
		return newAPIError(http.StatusBadGateway, llm.ErrUpstream, "upstream_unreachable",
			"could not reach the upstream for model "+name)
	}
}
