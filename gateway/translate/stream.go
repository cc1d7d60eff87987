package translate

import (
	"errors"
	"fmt"
	"io"

	"github.com/memproxy/memproxy/gateway/api/sse"
)

// upstreamError is an error event the upstream sent; it has already been
// relayed to the client in its dialect.
type upstreamError struct{ typ, msg string }

func (e *upstreamError) Error() string { return "upstream error event: " + e.typ + ": " + e.msg }

// clientWriteError is a failed write to the client, to which nothing more
// can be said.
type clientWriteError struct{ err error }

func (e *clientWriteError) Error() string { return "writing to client: " + e.err.Error() }
func (e *clientWriteError) Unwrap() error { return e.err }

// streamBase is what both stream directions share: SSE splitting, the
// failure and end-of-input rules of Stream, and the client writer.
type streamBase struct {
	out io.Writer
	sse sse.Reader
	// onEvent handles one upstream event; errEvent renders a failure as an
	// error event in the client's dialect.
	onEvent  func(name, data []byte) error
	errEvent func(cause error) []byte
	done     bool
	closed   bool
	err      error
}

func (b *streamBase) init(out io.Writer, onEvent func(name, data []byte) error, errEvent func(error) []byte) {
	b.out, b.onEvent, b.errEvent = out, onEvent, errEvent
	b.sse.OnEvent = func(ev *sse.Event) error {
		if b.done {
			return nil // anything after the proper end is ignored
		}
		return b.onEvent(ev.Name, ev.Data)
	}
}

// Write implements Stream.
func (b *streamBase) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.closed {
		return 0, errors.New("translate: write after Close")
	}
	if b.done {
		return len(p), nil
	}
	if _, err := b.sse.Write(p); err != nil {
		return 0, b.fail(err)
	}
	return len(p), nil
}

// Close implements Stream.
func (b *streamBase) Close() error {
	if !b.closed {
		b.closed = true
		if b.err == nil && !b.done {
			// The input ends inside an event: dispatch it if it is whole
			// (only its blank line was lost). If it is not, the stream was
			// cut, which is what the client is told, not a parse error.
			err := b.sse.End()
			_, relayed := errors.AsType[*upstreamError](err)
			_, gone := errors.AsType[*clientWriteError](err)
			if relayed || gone {
				b.fail(err)
			}
		}
		if b.err == nil && !b.done {
			b.fail(ErrIncomplete)
		}
	}
	switch {
	case b.done:
		return nil
	case b.err == ErrIncomplete:
		return ErrIncomplete
	}
	return fmt.Errorf("%w: %w", ErrIncomplete, b.err)
}

// Done implements Stream.
func (b *streamBase) Done() bool { return b.done }

// fail ends the translation with cause, telling the client unless the
// upstream's own error event was relayed or the client is gone.
func (b *streamBase) fail(cause error) error {
	if b.err != nil {
		return b.err
	}
	b.err = cause
	_, relayed := errors.AsType[*upstreamError](cause)
	_, gone := errors.AsType[*clientWriteError](cause)
	if !relayed && !gone {
		_, _ = b.out.Write(b.errEvent(cause))
	}
	return cause
}

// write sends one client event.
func (b *streamBase) write(p []byte) error {
	if _, err := b.out.Write(p); err != nil {
		return &clientWriteError{err}
	}
	return nil
}

// failMessage is the text of the error event for a stream failure.
func failMessage(cause error) string {
	if cause == ErrIncomplete {
		return "upstream stream ended before completion"
	}
	return "upstream stream could not be translated: " + cause.Error()
}
