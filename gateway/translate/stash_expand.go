package translate

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// mark is one placeholder found in a translation's output.
type mark struct {
	at, end int  // its bytes
	kind    byte // the last byte of its opening rune
	n       int  // the span's index
}

// nextMark finds the first placeholder in b[from:].
func nextMark(b []byte, from int) (mark, bool) {
	for i := from; ; {
		j := bytes.Index(b[i:], markLead)
		if j < 0 || i+j+2 >= len(b) {
			return mark{}, false
		}
		at := i + j
		kind := b[at+2]
		i = at + 3
		if kind != kindCanon && kind != kindVerbatim && kind != kindQuoted {
			continue // markEnd, or another rune of the block
		}
		n, k := 0, i
		for ; k < len(b) && '0' <= b[k] && b[k] <= '9'; k++ {
			n = n*10 + int(b[k]-'0')
		}
		if k == i || !bytes.HasPrefix(b[k:], []byte("\xee\x80\x81")) {
			continue
		}
		return mark{at: at, end: k + 3, kind: kind, n: n}, true
	}
}

// expand replaces the placeholders of a translation's output by their
// tails, rendered for their context, in one buffer of the exact size.
func (st *stash) expand(out []byte) []byte {
	size, found := len(out), false
	for m, ok := nextMark(out, 0); ok; m, ok = nextMark(out, m.end) {
		sp := st.spans[m.n]
		size += sp.len(m.kind) - (m.end - m.at)
		found = true
	}
	if !found {
		return out
	}
	dst := make([]byte, 0, size)
	at := 0
	for m, ok := nextMark(out, 0); ok; m, ok = nextMark(out, m.end) {
		dst = append(dst, out[at:m.at]...)
		dst = st.spans[m.n].render(dst, m.kind)
		at = m.end
	}
	return append(dst, out[at:]...)
}

func (sp span) len(kind byte) int {
	switch kind {
	case kindVerbatim:
		return sp.verbatim
	case kindQuoted:
		return sp.quote
	}
	return sp.canon
}

// render appends the tail as its context writes it.
func (sp span) render(dst []byte, kind byte) []byte {
	raw := sp.raw
	for i := 0; i < len(raw); {
		c := raw[i]
		if plain[c] {
			j := i + 1
			for j < len(raw) && plain[raw[j]] {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch {
		case c == '<' || c == '>' || c == '&':
			dst = appendU4(dst, rune(c))
			i++
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(raw[i:])
			if r == '\u2028' || r == '\u2029' {
				dst = appendU4(dst, r)
			} else {
				dst = append(dst, raw[i:i+n]...)
			}
			i += n
		case kind != kindQuoted && raw[i+1] != 'u' && raw[i+1] != '/':
			dst = append(dst, c, raw[i+1]) // \" \\ \b \f \n \r \t: Go writes them so too
			i += 2
		default: // an escape (measure checked them all)
			r, n := unescape(raw, i)
			switch kind {
			case kindVerbatim:
				dst = append(dst, raw[i:i+n]...)
			case kindQuoted:
				for _, e := range raw[i : i+n] {
					if e == '\\' || e == '"' {
						dst = append(dst, '\\')
					}
					dst = append(dst, e)
				}
			default:
				dst = appendRune(dst, r)
			}
			i += n
		}
	}
	return dst
}

// appendRune appends r as json.Marshal writes it inside a string.
func appendRune(dst []byte, r rune) []byte {
	switch r {
	case '"', '\\':
		return append(dst, '\\', byte(r))
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	if r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029' {
		return appendU4(dst, r)
	}
	return utf8.AppendRune(dst, r)
}

// appendU4 appends \u and r in four lowercase hex digits.
func appendU4(dst []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(dst, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// arguments returns tool arguments, JSON text in a string, ready to be
// parsed: placeholders that stand for escaped bytes in that text (put
// there by an earlier step's asArguments) are marked for the raw JSON the
// parse keeps them in; a string stashed whole is replaced by its text.
func (st *stash) arguments(s string) string {
	switch {
	case st == nil || !strings.Contains(s, string(markLead)):
		return s
	case strings.Contains(s, string(rune(markCanon))):
		return st.text(s)
	}
	return string(remark([]byte(s), kindVerbatim))
}

// text returns s with its placeholders replaced by the text they stand
// for, for code that reads a string's whole content (tool arguments
// parsed as JSON). A placeholder of escaped bytes in JSON text gives
// those bytes. A nil stash has nothing to replace.
func (st *stash) text(s string) string {
	if st == nil || !strings.Contains(s, string(markLead)) {
		return s
	}
	var b strings.Builder
	bs := []byte(s)
	at := 0
	for m, ok := nextMark(bs, 0); ok; m, ok = nextMark(bs, m.end) {
		b.WriteString(s[at:m.at])
		raw := st.spans[m.n].raw
		if m.kind != kindCanon {
			b.Write(raw)
			at = m.end
			continue
		}
		var t string
		q := make([]byte, 0, len(raw)+2)
		q = append(append(append(q, '"'), raw...), '"')
		_ = json.Unmarshal(q, &t) // measure checked it
		b.WriteString(t)
		at = m.end
	}
	b.WriteString(s[at:])
	return b.String()
}

// verbatim marks the placeholders of JSON text kept as a
// json.RawMessage, which json.Marshal writes with the client's escapes.
func (st *stash) verbatim(r json.RawMessage) json.RawMessage {
	if st == nil {
		return r // no placeholders: the client's own private-use text
	}
	return remark(r, kindVerbatim)
}

// decoded marks the placeholders of JSON text that is decoded and encoded
// again (a schema converted for Gemini): its strings are written in Go's
// escapes.
func (st *stash) decoded(r json.RawMessage) json.RawMessage {
	if st == nil {
		return r
	}
	return remark(r, kindCanon)
}

// asArguments marks the placeholders of JSON text about to become a
// string (tool_use input → arguments), escaped once more.
func (st *stash) asArguments(s string) string {
	if st == nil || !strings.Contains(s, string(markLead)) {
		return s
	}
	return string(remark([]byte(s), kindQuoted))
}

// remark returns b with every opening mark made kind.
func remark(b []byte, kind byte) []byte {
	if !bytes.Contains(b, markLead) {
		return b
	}
	out := append([]byte(nil), b...)
	for m, ok := nextMark(out, 0); ok; m, ok = nextMark(out, m.end) {
		out[m.at+2] = kind
	}
	return out
}
