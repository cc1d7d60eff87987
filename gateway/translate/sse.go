package translate

import (
	"bytes"
	"unicode/utf8"
)

// maxLine bounds one SSE line, and the data of one event, so a hostile
// upstream cannot grow the buffers without end.
const maxLine = 1 << 20

// sseReader splits server-sent events incrementally. Lines end in \n, \r\n
// or \r (a \r at the end of one write and a \n at the start of the next
// are one line end). Comment lines (":…") and fields other than event and
// data are ignored; data lines are joined with \n; a blank line dispatches.
type sseReader struct {
	line    []byte
	event   []byte
	data    []byte
	hasData bool
	afterCR bool
}

// feed splits p into events, calling dispatch for each completed one with
// the event name and data (valid until dispatch returns). It stops at the
// first error, from dispatch or ErrLineTooLong.
func (r *sseReader) feed(p []byte, dispatch func(name, data []byte) error) error {
	for len(p) > 0 {
		if r.afterCR {
			r.afterCR = false
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			if len(r.line)+len(p) > maxLine {
				return ErrLineTooLong
			}
			r.line = append(r.line, p...)
			return nil
		}
		if len(r.line)+i > maxLine {
			return ErrLineTooLong
		}
		line := p[:i]
		if len(r.line) > 0 {
			r.line = append(r.line, line...)
			line = r.line
		}
		r.afterCR = p[i] == '\r'
		p = p[i+1:]
		err := r.onLine(line, dispatch)
		r.line = r.line[:0]
		if err != nil {
			return err
		}
	}
	return nil
}

// end treats the end of input as the end of the last line and event, so a
// stream whose final newlines were lost still delivers a complete event.
func (r *sseReader) end(dispatch func(name, data []byte) error) error {
	if len(r.line) > 0 {
		err := r.onLine(r.line, dispatch)
		r.line = r.line[:0]
		if err != nil {
			return err
		}
	}
	return r.onLine(nil, dispatch)
}

func (r *sseReader) onLine(line []byte, dispatch func(name, data []byte) error) error {
	if len(line) == 0 {
		if !r.hasData {
			r.event = r.event[:0]
			return nil
		}
		err := dispatch(r.event, r.data)
		r.event, r.data, r.hasData = r.event[:0], r.data[:0], false
		return err
	}
	if line[0] == ':' {
		return nil
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
		r.event = append(r.event[:0], value...)
	case "data":
		if r.hasData {
			if len(r.data)+1+len(value) > maxLine {
				return ErrLineTooLong
			}
			r.data = append(r.data, '\n')
		}
		r.data = append(r.data, value...)
		r.hasData = true
	}
	return nil
}

// appendString appends s as a JSON string, escaping as encoding/json does
// minus its HTML escaping; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
