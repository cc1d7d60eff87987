package translate

// Large strings bypass the decode and the encode of a translation: before
// a request is decoded, the tail of every large string value is cut out of
// the body and a placeholder left in its place (stashBody); the
// translation runs on that small body as it always did; the output's
// placeholders are then replaced by the tails, re-escaped straight from
// the client's escaped bytes into one buffer of the exact size (expand).
// A 30 MB prompt so costs one copy, the output, instead of a decoded
// string, a raw copy per block and the encoder's growing buffers.
//
// The output is byte for byte what the translation of the whole body
// writes. A placeholder stands inside a JSON string in one of three
// contexts, and is rendered as encoding/json would render its text there:
//
//   - markCanon, a string field (decoded, then encoded by json.Marshal):
//     escapes decoded and written again in Go's form (\u00e9 → é, \/ → /,
//     < → \u003c);
//   - markVerbatim, a json.RawMessage (a tool schema): the client's escapes
//     kept, < > & U+2028 U+2029 escaped as json.Marshal compacts them;
//   - markQuoted, JSON text held in a string (tool_use input rendered as
//     OpenAI arguments): the escaped bytes escaped once more.
//
// The translation code moves placeholders between contexts where it moves
// JSON between them (stash.verbatim, stash.decoded, stash.asArguments,
// stash.arguments), and asks for the decoded text where it reads a
// string's content (stash.text). Chain runs several translations on one
// stashed body (client → hub → wire), so the large strings are written
// once, into the last output.
//
// Only values of the keys in stashKeys are stashed, never ids, names,
// types or URLs, and a string's first stashKeep bytes stay in place, so a
// data: URL's media type can be read. A body that already holds a
// placeholder character is not stashed; a translation that fails is run
// again on the whole body, so errors are as they were.

import (
	"bytes"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

var (
	// stashMin is the escaped length from which a string value is
	// stashed; stashKeep is how many of its bytes (at least) stay in the
	// body. Tests lower them to stash every string.
	stashMin  = 4096
	stashKeep = 128
)

// stashKeys are the keys whose string values are stashed: content the
// translations carry through without reading past its start.
var stashKeys = map[string]bool{
	"text": true, "content": true, "data": true, "url": true, "image_url": true, "output": true,
	"arguments": true, "instructions": true, "system": true, "refusal": true, "input": true,
	"description": true, "thinking": true, "signature": true,
}

// Placeholder runes, from Unicode's private use area: an opening mark
// naming the context, the span's index in decimal, markEnd.
const (
	markCanon    = '\uE000'
	markEnd      = '\uE001'
	markVerbatim = '\uE002'
	markQuoted   = '\uE003'
)

// markLead is the UTF-8 of every mark but its last byte, which names the
// context (kind).
var markLead = []byte("\xee\x80")

// The kinds: the last UTF-8 byte of markCanon, markVerbatim, markQuoted.
const (
	kindCanon    byte = 0x80
	kindVerbatim byte = 0x82
	kindQuoted   byte = 0x83
)

// span is one stashed tail: the escaped bytes of a string's end, and the
// length each context renders them to.
type span struct {
	raw                    []byte
	canon, verbatim, quote int
}

// stash holds the tails cut out of one body.
type stash struct{ spans []span }

// Step is one request translation, for Chain.
type Step struct {
	run func(body []byte, st *stash) ([]byte, error)
}

// Chain translates a request through steps, each taking the output of
// the one before (client → hub → wire), writing the large strings once,
// into the last output: the intermediate bodies hold placeholders only.
// A request that cannot be translated returns the error of the step that
// refused it.
func Chain(body []byte, steps ...Step) ([]byte, error) {
	small, st := stashBody(body)
	if st != nil {
		if out, err := runSteps(small, st, steps); err == nil {
			return st.expand(out), nil
		}
	}
	return runSteps(body, nil, steps)
}

func runSteps(b []byte, st *stash, steps []Step) ([]byte, error) {
	for _, s := range steps {
		var err error
		if b, err = s.run(b, st); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// stashBody returns body with the tails of its large string values
// replaced by placeholders, or nil when there was nothing to stash.
func stashBody(body []byte) ([]byte, *stash) {
	if len(body) < stashMin || bytes.Contains(body, markLead) || hasMarkEscape(body) {
		return nil, nil
	}
	var (
		spans []span
		cuts  [][2]int // the body's [start, end) of each tail
		key   []byte   // the last key seen
	)
	for i := 0; ; {
		q := bytes.IndexByte(body[i:], '"')
		if q < 0 {
			break
		}
		start := i + q + 1
		end := stringEnd(body, start)
		if end < 0 {
			return nil, nil // unterminated: the decode will say so
		}
		i = end + 1
		switch {
		case nextByte(body, i) == ':':
			key = body[start:end]
		case end-start >= stashMin && prevByte(body, start-2) == ':' && stashKeys[string(key)] &&
			!bytes.HasPrefix(body[start:end], []byte("http")):
			cut := tailStart(body[start:end])
			if cut < 0 {
				continue
			}
			sp, ok := measure(body[start+cut : end])
			if !ok {
				continue
			}
			spans = append(spans, sp)
			cuts = append(cuts, [2]int{start + cut, end})
		}
	}
	if len(cuts) == 0 {
		return nil, nil
	}
	size := len(body)
	for _, c := range cuts {
		size -= c[1] - c[0] - 8 - 10 // at most 10 digits and two 3-byte marks
	}
	small := make([]byte, 0, size)
	at := 0
	for n, c := range cuts {
		small = append(small, body[at:c[0]]...)
		small = appendMark(small, markCanon, n)
		at = c[1]
	}
	return append(small, body[at:]...), &stash{spans}
}

func appendMark(dst []byte, mark rune, n int) []byte {
	dst = utf8.AppendRune(dst, mark)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return utf8.AppendRune(dst, markEnd)
}

// hasMarkEscape reports whether body spells a placeholder rune as an
// escape (\ue000–\ue0ff, any case).
func hasMarkEscape(body []byte) bool {
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte(`\u`))
		if j < 0 {
			return false
		}
		i += j + 2
		if len(body)-i >= 2 && body[i]|0x20 == 'e' && body[i+1] == '0' {
			return true
		}
	}
}

// stringEnd returns the index of the quote that ends the string whose
// content starts at b[i], or -1.
func stringEnd(b []byte, i int) int {
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		e := i + q
		n := 0
		for k := e - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return e
		}
		i = e + 1
	}
}

func nextByte(b []byte, i int) byte {
	for ; i < len(b); i++ {
		if !isSpace(b[i]) {
			return b[i]
		}
	}
	return 0
}

func prevByte(b []byte, i int) byte {
	for ; i >= 0; i-- {
		if !isSpace(b[i]) {
			return b[i]
		}
	}
	return 0
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// tailStart returns where, at or after stashKeep, the escaped string s can
// be cut so that both parts decode to the halves of its text: between
// characters, and not after the first half of a surrogate pair. -1: no
// such place before the end.
func tailStart(s []byte) int {
	i := 0
	for i < len(s) {
		n, high := 1, false
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && s[i+1] == 'u':
			n = 6
			if i+n <= len(s) {
				r := hex4(s[i+2 : i+6])
				high = 0xd800 <= r && r < 0xdc00
			}
		case c == '\\':
			n = 2
		case c >= utf8.RuneSelf:
			_, n = utf8.DecodeRune(s[i:])
		}
		i += n
		if i >= stashKeep && !high && i < len(s) {
			return i
		}
	}
	return -1
}

// hex4 parses four hex digits, -1 if they are not.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// plain marks the bytes every context writes as they are: printable
// ASCII but the quote, the backslash and the HTML characters.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// measure checks that raw is valid string content (the decode must fail
// on a bad one, so it is not stashed) and measures its renderings.
func measure(raw []byte) (span, bool) {
	sp := span{raw: raw}
	for i := 0; i < len(raw); {
		c := raw[i]
		if plain[c] {
			i++
			continue
		}
		switch {
		case c == '<' || c == '>' || c == '&':
			sp.canon, sp.verbatim, sp.quote = sp.canon+5, sp.verbatim+5, sp.quote+5
			i++
			continue
		case c < 0x20:
			return span{}, false
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				return span{}, false
			}
			if r == '\u2028' || r == '\u2029' {
				sp.canon, sp.verbatim, sp.quote = sp.canon+3, sp.verbatim+3, sp.quote+3
			}
			i += n
			continue
		}
		// c is a backslash (a quote ends the string)
		r, n := unescape(raw, i)
		if n == 0 {
			return span{}, false
		}
		sp.canon += runeLen(r) - n
		sp.quote += quotedExtra(raw[i : i+n])
		i += n
	}
	sp.canon += len(raw)
	sp.verbatim += len(raw)
	sp.quote += len(raw)
	return sp, true
}

// unescape decodes the escape at raw[i] as encoding/json does (a lone or
// broken surrogate is U+FFFD) and returns its length, 0 if it is invalid.
func unescape(raw []byte, i int) (rune, int) {
	if i+1 >= len(raw) {
		return 0, 0
	}
	switch raw[i+1] {
	case '"', '\\', '/':
		return rune(raw[i+1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		if i+6 > len(raw) {
			return 0, 0
		}
		r := hex4(raw[i+2 : i+6])
		if r < 0 {
			return 0, 0
		}
		if !utf16.IsSurrogate(r) {
			return r, 6
		}
		if i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
			if d := utf16.DecodeRune(r, hex4(raw[i+8:i+12])); d != unicode.ReplacementChar {
				return d, 12
			}
		}
		return unicode.ReplacementChar, 6
	}
	return 0, 0
}

// runeLen is the length of r as json.Marshal writes it.
func runeLen(r rune) int {
	switch {
	case r == '"' || r == '\\' || r == '\b' || r == '\f' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
		return 6
	}
	return utf8.RuneLen(r)
}

// quotedExtra is how many bytes escaping the escape e once more adds: one
// per backslash or quote.
func quotedExtra(e []byte) int {
	n := 0
	for _, c := range e {
		if c == '\\' || c == '"' {
			n++
		}
	}
	return n
}
