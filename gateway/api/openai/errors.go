// Package openai holds the OpenAI wire format pieces the gateway needs: the
// error JSON, the model list, and an incremental reader of chat-completion
// streams that picks out usage without holding the stream.
package openai

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ErrorBody is OpenAI's error envelope: {"error":{"message","type","param","code"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// NewError builds an error body; an empty code is sent as null.
func NewError(typ, code, message string) ErrorBody {
	e := ErrorBody{Error: ErrorDetail{Message: message, Type: typ}}
	if code != "" {
		e.Error.Code = &code
	}
	return e
}

// WriteError writes an OpenAI error response with the given status. A
// positive retryAfter (seconds) sets Retry-After.
func WriteError(w http.ResponseWriter, status int, body ErrorBody, retryAfter int) {
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// ParseError reads an upstream error body. It accepts OpenAI's envelope and
// the common variants of compatible servers ({"error":"text"},
// {"message":…}, {"detail":…}); ok is false when none match.
func ParseError(b []byte) (ErrorDetail, bool) {
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(b, &env) != nil {
		return ErrorDetail{}, false
	}
	var d ErrorDetail
	if len(env.Error) > 0 {
		if json.Unmarshal(env.Error, &d) == nil && d.Message != "" {
			return d, true
		}
		var s string
		if json.Unmarshal(env.Error, &s) == nil && s != "" {
			return ErrorDetail{Message: s}, true
		}
	}
	if env.Message != "" {
		return ErrorDetail{Message: env.Message}, true
	}
	var s string
	if len(env.Detail) > 0 && json.Unmarshal(env.Detail, &s) == nil && s != "" {
		return ErrorDetail{Message: s}, true
	}
	return ErrorDetail{}, false
}

// MarshalStreamError renders an error as one SSE event,
// `data: {"error":{…}}`, for errors raised after a stream has begun.
func MarshalStreamError(typ, code, message string) []byte {
	b, _ := json.Marshal(NewError(typ, code, message))
	out := make([]byte, 0, len(b)+8)
	out = append(out, "data: "...)
	out = append(out, b...)
	return append(out, '\n', '\n')
}

// ErrorType maps an answer's status to the error.type values OpenAI sends;
// timeout marks a 5xx that is a timeout.
func ErrorType(status int, timeout bool) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "invalid_request_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500 && timeout:
		return "timeout"
	case status >= 500:
		return "api_error"
	default:
		return "invalid_request_error"
	}
}
