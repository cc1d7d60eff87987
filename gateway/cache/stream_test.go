package cache

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// flushRecorder records what each flush sent.
type flushRecorder struct {
	*httptest.ResponseRecorder
	pending []byte
	chunks  []string
	failAt  int // fail the write of this chunk (1-based); 0: never
}

func (f *flushRecorder) Write(b []byte) (int, error) {
	if f.failAt > 0 && len(f.chunks)+1 == f.failAt {
		return 0, errors.New("client gone")
	}
	f.pending = append(f.pending, b...)
	return f.ResponseRecorder.Write(b)
}

func (f *flushRecorder) Flush() {
	f.chunks = append(f.chunks, string(f.pending))
	f.pending = nil
}

func TestWriteStream(t *testing.T) {
	events := []string{
		"event: message_start\ndata: {\"type\":\"message_start\"}\n\n",
		"data: {\"x\":1}\r\n\r\n",
		": comment\ndata: [DONE]\n\n",
		"data: trailing, no blank line",
	}
	var stream []byte
	for _, e := range events {
		stream = append(stream, e...)
	}
	w := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	if err := WriteStream(w, stream); err != nil {
		t.Fatal(err)
	}
	// Replay goes through the one SSE reader: each event once, its line
	// ends as "\n", a last event without its blank line completed.
	want := []string{events[0], "data: {\"x\":1}\n\n", events[2], events[3] + "\n\n"}
	if !slices.Equal(w.chunks, want) {
		t.Errorf("flushed chunks %q\nwant %q", w.chunks, want)
	}

	w = &flushRecorder{ResponseRecorder: httptest.NewRecorder(), failAt: 2}
	if err := WriteStream(w, stream); err == nil || len(w.chunks) != 1 {
		t.Errorf("WriteStream to a failing client = %v after %d chunks; want an error after 1", err, len(w.chunks))
	}

	// A writer that cannot flush still gets every byte.
	var plain struct{ http.ResponseWriter }
	rec := httptest.NewRecorder()
	plain.ResponseWriter = rec
	if err := WriteStream(plain, stream); err != nil || rec.Body.String() != strings.Join(want, "") {
		t.Errorf("WriteStream without a flusher = %v, %q", err, rec.Body.String())
	}
}
