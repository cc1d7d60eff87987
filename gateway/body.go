package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/memproxy/memproxy/gateway/guard"
	"github.com/memproxy/memproxy/gateway/jsonscan"
	"github.com/memproxy/memproxy/gateway/llm"
)

// readBody reads the whole request body, bounded by limit, into one buffer:
// a body that declares its length is read into a slice of exactly that
// size, refused before any byte is read when it is over the limit; a body
// of unknown length (chunked) is read in blocks and refused as soon as it
// passes the limit, then joined once. Reading it before answering also
// avoids Go's HTTP/1 server closing a body still being read once the
// response starts (golang/go#40747).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	tooLarge := newAPIError(http.StatusRequestEntityTooLarge, llm.ErrRequestTooLarge, "request_too_large",
		fmt.Sprintf("request body is larger than the gateway's limit of %d bytes", limit))
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	var b []byte
	var err error
	if r.ContentLength >= 0 {
		b, err = readDeclared(body, r.ContentLength)
	} else {
		b, err = readChunked(body)
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return b, nil
	case errors.As(err, &mbe):
		return nil, tooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Checked before the context: a timed-out read also cancels it.
		return nil, newAPIError(http.StatusRequestTimeout, llm.ErrInvalidRequest, "request_timeout",
			"the request body was not received in time")
	case errors.Is(err, errBodyTooLong):
		return nil, mismatch(r.ContentLength, r.ContentLength+1)
	case r.ContentLength >= 0 && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		// The body ended before Content-Length said it would. (The client
		// may also have closed its side, which cancels the request's
		// context; it can still read this answer.)
		return nil, mismatch(r.ContentLength, int64(len(b)))
	case r.Context().Err() != nil:
		return nil, newAPIError(statusClientClosed, llm.ErrClientCancelled, "client_closed_request", "the client closed the request")
	default:
		return nil, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "body_read_error", "could not read the request body")
	}
}

// errBodyTooLong reports a body longer than its declared length (possible
// through the tunnel; net/http stops at Content-Length itself).
var errBodyTooLong = errors.New("body longer than its Content-Length")

// readDeclared reads exactly n bytes into one slice, then checks that the
// body ends there. On a short body it returns the bytes read and the error.
func readDeclared(body io.Reader, n int64) ([]byte, error) {
	b := make([]byte, n)
	got, err := io.ReadFull(body, b)
	if err != nil {
		return b[:got], err
	}
	var one [1]byte
	for {
		k, err := body.Read(one[:])
		switch {
		case k > 0:
			return nil, errBodyTooLong
		case err == io.EOF:
			return b, nil
		case err != nil:
			return nil, err
		}
	}
}

// chunkedBlock is the block size of a body of unknown length.
const chunkedBlock = 256 << 10

// readChunked reads a body of unknown length in fixed blocks and joins
// them once at the end, so the peak is about twice the body for a moment,
// not the repeated doubling (and copying) of a growing buffer.
func readChunked(body io.Reader) ([]byte, error) {
	var blocks [][]byte
	total := 0
	for done := false; !done; {
		blk := make([]byte, 0, chunkedBlock)
		for len(blk) < cap(blk) {
			n, err := body.Read(blk[len(blk):cap(blk)])
			blk = blk[:len(blk)+n]
			if err == io.EOF {
				done = true
				break
			}
			if err != nil {
				return nil, err
			}
		}
		blocks = append(blocks, blk)
		total += len(blk)
	}
	out := make([]byte, 0, total)
	for _, blk := range blocks {
		out = append(out, blk...)
	}
	return out, nil
}

func mismatch(declared, got int64) *apiError {
	return newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "content_length_mismatch",
		fmt.Sprintf("Content-Length says %d bytes but the body has %d", declared, got))
}

// chatHead is what the gateway reads of a chat request before routing it.
type chatHead struct {
	Model  string
	Stream bool
}

// parseChat validates a chat-completions body: well-formed JSON, an object,
// no client-chosen upstream address or key at any depth, and a model. It
// reads model and stream without decoding the body.
func parseChat(body []byte) (chatHead, *apiError) {
	var h chatHead
	if !json.Valid(body) {
		return h, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_json",
			"the request body is not valid JSON")
	}
	if i := firstNonSpace(body); i < 0 || body[i] != '{' {
		return h, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_request",
			"the request body must be a JSON object")
	}
	if key, found := guard.ForbiddenKey(body); found {
		return h, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "forbidden_parameter",
			fmt.Sprintf("the request may not set %q: upstream addresses and keys come from the gateway's configuration", key))
	}
	if s, e, ok := jsonscan.TopLevel(body, "model"); ok {
		m, isString := jsonscan.String(body[s:e])
		if !isString {
			return h, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_model", "model must be a string")
		}
		h.Model = m
	}
	if h.Model == "" {
		return h, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "missing_model",
			"you must provide a model parameter")
	}
	if s, e, ok := jsonscan.TopLevel(body, "stream"); ok {
		switch v := string(body[s:e]); v {
		case "true", "false", "null":
			h.Stream = v == "true"
		default:
			return h, newAPIError(http.StatusBadRequest, llm.ErrInvalidRequest, "invalid_stream", "stream must be a boolean")
		}
	}
	return h, nil
}

func firstNonSpace(b []byte) int {
	for i, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return i
		}
	}
	return -1
}

// setModel returns a copy of body with the value of its top-level "model"
// replaced by model; the rest of the body is kept byte for byte.
func setModel(body []byte, model string) []byte {
	s, e, ok := jsonscan.TopLevel(body, "model")
	if !ok {
		return body
	}
	q, _ := json.Marshal(model) // marshalling a string cannot fail
	return splice(body, s, e, q)
}

// clientGone reports whether ctx ended because the client left.
func clientGone(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// includesUsage reports whether an OpenAI body asks for the usage chunk
// (stream_options.include_usage: true).
func includesUsage(body []byte) bool {
	s, e, ok := jsonscan.TopLevel(body, "stream_options")
	if !ok {
		return false
	}
	var so struct {
		IncludeUsage bool `json:"include_usage"`
	}
	return json.Unmarshal(body[s:e], &so) == nil && so.IncludeUsage
}

// ensureIncludeUsage returns body asking for the usage chunk of a stream,
// so that every stream's tokens are accounted for, and whether it had to
// add the request (then the extra chunk is hidden from the client).
func ensureIncludeUsage(body []byte) ([]byte, bool) {
	if includesUsage(body) {
		return body, false
	}
	so := map[string]any{}
	s, e, ok := jsonscan.TopLevel(body, "stream_options")
	if ok {
		_ = json.Unmarshal(body[s:e], &so) // null or not an object: replaced
	}
	so["include_usage"] = true
	v, _ := json.Marshal(so)
	if ok {
		return splice(body, s, e, v), true
	}
	i := firstNonSpace(body) + 1 // after the object's '{' (parseChat checked it)
	ins := append(append([]byte(`"stream_options":`), v...), ',')
	if j := firstNonSpace(body[i:]); j >= 0 && body[i+j] == '}' {
		ins = ins[:len(ins)-1] // empty object: no comma
	}
	return splice(body, i, i, ins), true
}

func splice(b []byte, s, e int, v []byte) []byte {
	out := make([]byte, 0, len(b)-(e-s)+len(v))
	out = append(out, b[:s]...)
	out = append(out, v...)
	return append(out, b[e:]...)
}
