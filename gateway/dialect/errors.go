package dialect

import (
	"net/http"

	"github.com/memproxy/memproxy/gateway/api/openai"
	"github.com/memproxy/memproxy/gateway/llm"
)

// Error is everything needed to answer a client with an error, in any
// dialect.
type Error struct {
	Status int
	Kind   llm.ErrorKind
	// Code is OpenAI's error.code; empty sends null.
	Code string
	Msg  string
	// RetryAfter, in seconds, is sent as Retry-After when positive.
	RetryAfter int
}

func (e *Error) Error() string { return e.Msg }

// NewError returns an Error.
func NewError(status int, kind llm.ErrorKind, code, msg string) *Error {
	return &Error{Status: status, Kind: kind, Code: code, Msg: msg}
}

func invalid(code, msg string) *Error {
	return NewError(http.StatusBadRequest, llm.ErrInvalidRequest, code, msg)
}

// OpenAIType maps a status (and, for 5xx, the kind) to the error.type
// values OpenAI sends.
func OpenAIType(status int, kind llm.ErrorKind) string {
	return openai.ErrorType(status, kind == llm.ErrUpstreamTimeout)
}
