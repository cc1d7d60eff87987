// Package anthropic holds the Anthropic Messages API wire format pieces the
// gateway needs.
package anthropic

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ErrorBody is Anthropic's error envelope:
// {"type":"error","error":{"type":"invalid_request_error","message":"…"}}.
type ErrorBody struct {
	Type  string      `json:"type"`
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// ErrorType returns Anthropic's error type for an HTTP status, as its API
// reference lists them.
func ErrorType(status int) string {
	switch {
	case status == http.StatusBadRequest:
		return "invalid_request_error"
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == 529 || status == http.StatusServiceUnavailable:
		return "overloaded_error"
	case status >= 500:
		return "api_error"
	default:
		return "invalid_request_error"
	}
}

// WriteError writes an Anthropic error response. A positive retryAfter
// (seconds) sets Retry-After.
func WriteError(w http.ResponseWriter, status int, message string, retryAfter int) {
	b, _ := json.Marshal(ErrorBody{Type: "error", Error: ErrorDetail{Type: ErrorType(status), Message: message}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
