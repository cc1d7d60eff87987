package gemini

import (
	"encoding/json"
	"net/http"
)

// ErrorBody is Google's error envelope:
// {"error":{"code":400,"message":"…","status":"INVALID_ARGUMENT"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody: the HTTP status as Code, the
// canonical google.rpc code name as Status, and optional Details.
type ErrorDetail struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Status  string          `json:"status"`
	Details json.RawMessage `json:"details,omitempty"`
}

// ParseError reads an upstream error body in Google's envelope and
// returns its message and status (such as "RESOURCE_EXHAUSTED"); ok is
// false when b is not such an envelope with a message.
func ParseError(b []byte) (message, status string, ok bool) {
	var e ErrorBody
	if json.Unmarshal(b, &e) != nil || e.Error.Message == "" {
		return "", "", false
	}
	return e.Error.Message, e.Error.Status, true
}

// StatusName returns the canonical status name Google APIs send with an
// HTTP status (google.rpc.Code as mapped to HTTP).
func StatusName(httpStatus int) string {
	switch httpStatus {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	if httpStatus >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}

// MarshalError renders an error body for status and message.
func MarshalError(status int, message string) []byte {
	b, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: status, Message: message, Status: StatusName(status)}})
	return b
}
