// Package llm holds the neutral types every part of the gateway speaks:
// token usage and the closed vocabulary of error kinds. It does no I/O.
package llm

// Usage is the token accounting of one request, as the provider reported it.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	// CachedTokens is the part of PromptTokens read from the provider's
	// prompt cache.
	CachedTokens int64
	// CacheWriteTokens is the part of PromptTokens written to the
	// provider's prompt cache (Anthropic's cache_creation_input_tokens),
	// which some providers bill above the plain input price.
	CacheWriteTokens int64
	// ReasoningTokens is the part of CompletionTokens the model spent
	// thinking (OpenAI's completion_tokens_details.reasoning_tokens,
	// Gemini's thoughtsTokenCount). It is billed as output.
	ReasoningTokens int64
}

// Add folds u2 into u (used when a request spans several provider calls).
func (u *Usage) Add(u2 Usage) {
	u.PromptTokens += u2.PromptTokens
	u.CompletionTokens += u2.CompletionTokens
	u.CachedTokens += u2.CachedTokens
	u.CacheWriteTokens += u2.CacheWriteTokens
	u.ReasoningTokens += u2.ReasoningTokens
}

// ErrorKind classifies a failed request. The set is closed: the usage log,
// metrics and both client dialects map from these values only.
type ErrorKind string

// The error kinds, prefixed by who is at fault.
const (
	ErrNone            ErrorKind = ""
	ErrInvalidRequest  ErrorKind = "invalid_request_error"
	ErrAuthentication  ErrorKind = "authentication_error"
	ErrPermission      ErrorKind = "permission_error"
	ErrNotFound        ErrorKind = "not_found_error"
	ErrRequestTooLarge ErrorKind = "request_too_large"
	ErrRateLimit       ErrorKind = "rate_limit_error"
	ErrUpstream        ErrorKind = "upstream_error"
	ErrUpstreamTimeout ErrorKind = "upstream_timeout"
	ErrUpstreamCut     ErrorKind = "upstream_stream_cut"
	ErrClientCancelled ErrorKind = "client_cancelled"
	ErrInternal        ErrorKind = "internal_error"
	ErrUnavailable     ErrorKind = "service_unavailable"
	// ErrGatewayShutdown: the gateway's drain timeout cut the answer.
	ErrGatewayShutdown ErrorKind = "gateway_shutdown"
)
