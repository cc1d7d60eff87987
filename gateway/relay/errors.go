package relay

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/memproxy/memproxy/gateway/dialect"
	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/track"
)

// apiError is an error with everything needed to answer the client, in
// any dialect.
type apiError = track.Error

var (
	newAPIError = track.NewError
	writeError  = track.WriteError
)

// upstreamCallError classifies an error from provider.Do (no HTTP answer).
func upstreamCallError(ctx context.Context, name string, err error) *apiError {
	switch {
	case ctx.Err() != nil:
		return newAPIError(track.StatusClientClosed, llm.ErrClientCancelled, "client_closed_request", "the client closed the request")
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

// upstreamAnswerError maps an upstream's error answer (status ≥ 400) to
// the client's: the upstream's status and message, in the client's
// dialect.
func upstreamAnswerError(wire dialect.Wire, status int, body []byte) *apiError {
	msg, code := wire.ParseError(body)
	if msg == "" {
		msg = fmt.Sprintf("the upstream answered with status %d", status)
	}
	kind := llm.ErrUpstream
	switch {
	case status == http.StatusTooManyRequests:
		kind = llm.ErrRateLimit
	case status < 500:
		kind = llm.ErrInvalidRequest
	}
	return newAPIError(status, kind, code, msg)
}
