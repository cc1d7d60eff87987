// Package sse is the gateway's one reader of server-sent events: it splits
// a stream into lines and events as its bytes arrive, however they are
// split. The relay's observers, the dialect translators, the tool loop,
// the answer fold and the response cache's replay all read through it, so
// every path follows the same rules:
//
//   - a line ends at "\n", "\r\n" or "\r" (a "\r" at the end of one write
//     and a "\n" at the start of the next are one line end);
//   - a blank line ends an event; lines starting with ':' are comments;
//     "data" lines are joined with "\n"; "event" names the event;
//   - a line may be up to MaxLine bytes; a longer one fails the stream with
//     ErrLineTooLong (never skipped silently). MaxLine matches the largest
//     answer the gateway holds in memory, so no legitimate stream — a
//     Responses response.completed event repeats the whole answer — fails
//     on it, while a hostile upstream still cannot grow a buffer without
//     end.
package sse

import (
	"bytes"
	"errors"
	"fmt"
)

// MaxLine bounds the bytes of one line, and of one event's data.
const MaxLine = 64 << 20

// maxLine is MaxLine; tests lower it.
var maxLine = MaxLine

// ErrLineTooLong fails a stream with a line (or event) over MaxLine bytes.
var ErrLineTooLong = fmt.Errorf("sse: a line is longer than %d bytes", MaxLine)

// Lines calls OnLine with each complete line, without its line end. Feed it
// with Write; call End at the end of input to deliver a last line that
// lost its line end. It never modifies the bytes it is given. After a line
// over MaxLine, Write and End return ErrLineTooLong and deliver nothing
// more.
type Lines struct {
	OnLine func(line []byte)

	line    []byte
	afterCR bool
	err     error
}

// Write implements io.Writer. It fails only with ErrLineTooLong.
func (l *Lines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && l.err == nil {
		if l.afterCR {
			l.afterCR = false
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			l.buffer(p)
			break
		}
		if !l.buffer(p[:i]) {
			break
		}
		l.afterCR = p[i] == '\r'
		p = p[i+1:]
		l.OnLine(l.line)
		l.line = l.line[:0]
	}
	if l.err != nil {
		return 0, l.err
	}
	return n, nil
}

// End ends the input: a pending line without its line end is delivered.
func (l *Lines) End() error {
	if l.err != nil {
		return l.err
	}
	if len(l.line) > 0 {
		l.OnLine(l.line)
		l.line = l.line[:0]
	}
	return nil
}

// Err is ErrLineTooLong once a line was too long, else nil.
func (l *Lines) Err() error { return l.err }

func (l *Lines) buffer(p []byte) bool {
	if len(l.line)+len(p) > maxLine {
		l.err, l.line = ErrLineTooLong, nil
		return false
	}
	l.line = append(l.line, p...)
	return true
}

// Data returns the value of a "data:" line, without the one optional space
// after the colon; ok is false for other lines.
func Data(line []byte) ([]byte, bool) {
	d, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return nil, false
	}
	return bytes.TrimPrefix(d, []byte{' '}), true
}

// Event is one dispatched event. Its slices are valid until the callback
// returns.
type Event struct {
	// Name is the "event:" field, empty when the event had none.
	Name []byte
	// Data is the event's data lines joined with "\n"; HasData tells an
	// event with an empty data line from one with none.
	Data    []byte
	HasData bool
	// Raw is the event as received, its lines each ended by "\n" and the
	// blank line that ended it included: what a passthrough that decides
	// per event forwards. Set only when Reader.KeepRaw is.
	Raw []byte
}

// Reader splits a stream into events and calls OnEvent for each one that
// has data (or, with KeepRaw, for every event, so that a passthrough loses
// nothing). An error from OnEvent stops the reader: Write and End return
// it from then on.
type Reader struct {
	OnEvent func(ev *Event) error
	// KeepRaw keeps each event's bytes in Event.Raw and dispatches events
	// without data too (comments, event-only blocks).
	KeepRaw bool

	lines Lines
	ev    Event
	lined bool // the event has at least one line
	err   error
}

// Write implements io.Writer.
func (r *Reader) Write(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.lines.OnLine == nil {
		r.lines.OnLine = r.onLine
	}
	n, err := r.lines.Write(p)
	if r.err == nil && err != nil {
		r.err = err
	}
	if r.err != nil {
		return n, r.err
	}
	return n, nil
}

// End treats the end of input as the end of the last line and event, so a
// stream whose final line ends were lost still delivers its last event.
func (r *Reader) End() error {
	if r.err != nil {
		return r.err
	}
	if r.lines.OnLine == nil {
		r.lines.OnLine = r.onLine
	}
	if err := r.lines.End(); err != nil {
		r.err = err
		return err
	}
	if r.lined {
		r.onLine(nil)
	}
	return r.err
}

// Err is the error that stopped the reader, if any.
func (r *Reader) Err() error { return r.err }

func (r *Reader) onLine(line []byte) {
	if r.err != nil {
		return
	}
	if r.KeepRaw {
		r.ev.Raw = append(append(r.ev.Raw, line...), '\n')
	}
	if len(line) == 0 {
		r.dispatch()
		return
	}
	r.lined = true
	if line[0] == ':' {
		return
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "event":
		r.ev.Name = append(r.ev.Name[:0], value...)
	case "data":
		if r.ev.HasData {
			if len(r.ev.Data)+1+len(value) > maxLine {
				r.err = ErrLineTooLong
				return
			}
			r.ev.Data = append(r.ev.Data, '\n')
		}
		r.ev.Data = append(r.ev.Data, value...)
		r.ev.HasData = true
	}
}

func (r *Reader) dispatch() {
	if r.ev.HasData || (r.KeepRaw && r.lined) {
		if err := r.OnEvent(&r.ev); err != nil {
			r.err = err
		}
	} else if r.KeepRaw && len(r.ev.Raw) > 0 && r.OnEvent != nil {
		// A stray blank line: passed on as it came.
		if err := r.OnEvent(&r.ev); err != nil {
			r.err = err
		}
	}
	r.ev.Name, r.ev.Data, r.ev.Raw, r.ev.HasData = r.ev.Name[:0], r.ev.Data[:0], r.ev.Raw[:0], false
	r.lined = false
}

// ErrStop may be returned by OnEvent to stop reading without it being a
// failure of the stream; Write and End then return it.
var ErrStop = errors.New("sse: stopped")
