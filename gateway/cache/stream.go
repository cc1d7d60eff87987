package cache

import (
	"bytes"
	"errors"
	"net/http"
)

// WriteStream replays a cached Entry.Stream to a client as a stream: it
// writes one SSE event at a time (through its blank line, "\n\n" or
// "\r\n\r\n") and flushes after each, so the client's SDK sees the events
// arrive as they did the first time, not one buffered body. The caller has
// written the status and headers. It stops at the first write or flush
// error (the client left) and returns it; a w that cannot flush is written
// to without flushing.
func WriteStream(w http.ResponseWriter, stream []byte) error {
	rc := http.NewResponseController(w)
	for len(stream) > 0 {
		n := eventEnd(stream)
		if _, err := w.Write(stream[:n]); err != nil {
			return err
		}
		stream = stream[n:]
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	return nil
}

// eventEnd returns the length of the first SSE event in b, blank line
// included, or len(b) when b holds no complete event.
func eventEnd(b []byte) int {
	i := bytes.Index(b, []byte("\n\n"))
	j := bytes.Index(b, []byte("\r\n\r\n"))
	switch {
	case i < 0 && j < 0:
		return len(b)
	case j < 0 || (i >= 0 && i+2 <= j+4):
		return i + 2
	default:
		return j + 4
	}
}
