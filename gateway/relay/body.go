package relay

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/track"
)

// readBody reads the whole request body, bounded by limit, into one buffer:
// a body that declares its length is read into a slice of exactly that
// size, refused before any byte is read when it is over the limit; a body
// of unknown length (chunked) is read in blocks and refused as soon as it
// passes the limit, then joined once. Reading it before answering also
// avoids Go's HTTP/1 server closing a body still being read once the
// response starts (golang/go#40747).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	tooLarge := func() *apiError { // built only when needed: this is the hot path
		return newAPIError(http.StatusRequestEntityTooLarge, llm.ErrRequestTooLarge, "request_too_large",
			fmt.Sprintf("request body is larger than the gateway's limit of %d bytes", limit))
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
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
		return nil, tooLarge()
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
		return nil, newAPIError(track.StatusClientClosed, llm.ErrClientCancelled, "client_closed_request", "the client closed the request")
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
