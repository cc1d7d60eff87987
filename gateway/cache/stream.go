package cache

import (
	"errors"
	"net/http"

	"github.com/memproxy/memproxy/gateway/api/sse"
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
	events := sse.Reader{KeepRaw: true, OnEvent: func(ev *sse.Event) error {
		if _, err := w.Write(ev.Raw); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}}
	if _, err := events.Write(stream); err != nil {
		return err
	}
	return events.End()
}
