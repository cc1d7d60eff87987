// Package sse splits a server-sent-event stream into lines as its bytes
// arrive, however they are split, with a bounded line buffer.
package sse

import "bytes"

// MaxLine bounds the bytes one line may hold; a longer line is skipped
// whole (no event of interest to the gateway is that long), so a hostile
// upstream cannot grow the buffer.
const MaxLine = 1 << 20

// Lines calls OnLine with each complete line (without its "\n" or "\r\n").
// Feed it with Write. It never modifies the bytes it is given.
type Lines struct {
	OnLine func(line []byte)
	// Skipped counts lines longer than MaxLine that were dropped.
	Skipped int

	line     []byte
	skipping bool
}

// Write implements io.Writer; it never fails.
func (l *Lines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.buffer(p)
			break
		}
		l.buffer(p[:i])
		if !l.skipping {
			l.OnLine(bytes.TrimSuffix(l.line, []byte{'\r'}))
		} else {
			l.Skipped++
		}
		l.line, l.skipping = l.line[:0], false
		p = p[i+1:]
	}
	return n, nil
}

func (l *Lines) buffer(p []byte) {
	if l.skipping {
		return
	}
	if len(l.line)+len(p) > MaxLine {
		l.skipping, l.line = true, l.line[:0]
		return
	}
	l.line = append(l.line, p...)
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
