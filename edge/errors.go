package edge

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// writeError answers a request the edge could not forward, in the dialect
// the client speaks, judged from the path alone: Anthropic's error JSON for
// the Messages API, OpenAI's for everything else.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string, retryAfter int) {
	var body any
	if p := r.URL.Path; strings.HasPrefix(p, "/v1/messages") || strings.HasPrefix(p, "/messages") {
		body = map[string]any{"type": "error", "error": map[string]any{"type": anthropicType(status), "message": msg}}
	} else {
		body = map[string]any{"error": map[string]any{"message": msg, "type": openAIType(status), "param": nil, "code": code}}
	}
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

func openAIType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status >= 500:
		return "api_error"
	default:
		return "invalid_request_error"
	}
}

func anthropicType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case status == http.StatusServiceUnavailable:
		return "overloaded_error"
	case status >= 500:
		return "api_error"
	default:
		return "invalid_request_error"
	}
}
