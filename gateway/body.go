package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/memproxy/memproxy/gateway/llm"
)

// readBody reads the whole request body, bounded by limit. Reading it before
// answering also avoids Go's HTTP/1 server closing a body still being read
// once the response starts (golang/go#40747).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	tooLarge := func() *apiError {
		return newAPIError(http.StatusRequestEntityTooLarge, llm.ErrRequestTooLarge, "request_too_large",
			fmt.Sprintf("request body is larger than the gateway's limit of %d bytes", limit))
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
	case errors.As(err, &mbe):
		return nil, tooLarge()
	case errors.Is(err, io.ErrUnexpectedEOF):
		// The body ended before Content-Length said it would. (The client
		// may also have closed its side, which cancels the request's
		// context; it can still read this answer.)
		return nil, mismatch(r.ContentLength, int64(buf.Len()))
	case r.Context().Err() != nil:
		return nil, newAPIError(statusClientClosed, llm.ErrClientCancelled, "client_closed_request", "the client closed the request")
	default:
		return nil, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "body_read_error", "could not read the request body")
	}
	if r.ContentLength >= 0 && int64(buf.Len()) != r.ContentLength {
		return nil, mismatch(r.ContentLength, int64(buf.Len()))
	}
	return buf.Bytes(), nil
}

func mismatch(declared, got int64) *apiError {
	return newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "content_length_mismatch",
		fmt.Sprintf("Content-Length says %d bytes but the body has %d", declared, got))
}
