package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// ignoredFields are the top-level request fields that do not change the
// answer. Keep Normalize's doc comment in step, and change keyDomain when
// this list changes.
var ignoredFields = map[string]bool{
	"stream":         true, // the form of the answer, not its content (see the package doc)
	"stream_options": true, // OpenAI: include_usage only adds a usage chunk
	"user":           true, // OpenAI: end-user id for abuse tracking
	"metadata":       true, // Anthropic: user_id; OpenAI: stored-completion tags
}

// maxDepth bounds the nesting Normalize accepts.
const maxDepth = 256

// Normalize returns the canonical form of a JSON request body: object keys
// sorted by their bytes, insignificant whitespace removed, strings
// re-escaped one way (so "\u0041" and "A" are equal), numbers kept as
// written (1 and 1.0 stay different: a missed hit, never a wrong one), and
// these top-level fields removed because they do not change the answer:
// "stream", "stream_options", "user", "metadata". Fields of the same names
// nested deeper (a message's "metadata") are kept.
//
// It fails on anything but a single JSON object in valid UTF-8, on a
// duplicate key in any object (providers disagree on which one wins, so
// such a body is not cacheable) and on nesting deeper than 256.
func Normalize(body []byte) ([]byte, error) {
	if !utf8.Valid(body) {
		return nil, errors.New("cache: normalize: body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out bytes.Buffer
	out.Grow(len(body))
	if tok, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("cache: normalize: %w", err)
	} else if tok != json.Delim('{') {
		return nil, errors.New("cache: normalize: body is not a JSON object")
	}
	if err := object(dec, &out, 1, true); err != nil {
		return nil, fmt.Errorf("cache: normalize: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("cache: normalize: data after the JSON object")
	}
	return out.Bytes(), nil
}

// value writes the canonical form of the value starting at the next token.
func value(dec *json.Decoder, out *bytes.Buffer, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return fmt.Errorf("nested deeper than %d", maxDepth)
		}
		if v == '{' {
			return object(dec, out, depth+1, false)
		}
		out.WriteByte('[')
		for i := 0; dec.More(); i++ {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := value(dec, out, depth+1); err != nil {
				return err
			}
		}
		out.WriteByte(']')
		_, err = dec.Token() // ']'
		return err
	case string:
		writeString(out, v)
	case json.Number:
		out.WriteString(v.String())
	case bool:
		if v {
			out.WriteString("true")
		} else {
			out.WriteString("false")
		}
	case nil:
		out.WriteString("null")
	}
	return nil
}

// object writes the canonical form of an object whose '{' has been read.
func object(dec *json.Decoder, out *bytes.Buffer, depth int, top bool) error {
	type member struct{ key, val string }
	var members []member
	var buf bytes.Buffer
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // the decoder rejects any other key
		buf.Reset()
		if err := value(dec, &buf, depth); err != nil {
			return err
		}
		members = append(members, member{key, buf.String()})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return err
	}
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
	out.WriteByte('{')
	n := 0
	for i, m := range members {
		if i > 0 && members[i-1].key == m.key {
			return fmt.Errorf("duplicate key %q", m.key)
		}
		if top && ignoredFields[m.key] {
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		n++
		writeString(out, m.key)
		out.WriteByte(':')
		out.WriteString(m.val)
	}
	out.WriteByte('}')
	return nil
}

// writeString writes s as a JSON string: '"', '\\' and control characters
// escaped, everything else (valid UTF-8) as is.
func writeString(out *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	out.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			out.WriteByte('\\')
			out.WriteByte(c)
		case c < 0x20:
			out.WriteString(`\u00`)
			out.WriteByte(hex[c>>4])
			out.WriteByte(hex[c&0xf])
		default:
			out.WriteByte(c)
		}
	}
	out.WriteByte('"')
}
