// Package jsonscan reads what the gateway needs from a JSON request body
// without decoding it: the keys at any depth, and the raw value of a
// top-level key. Every function expects valid JSON (check with json.Valid
// first) and allocates nothing in the common case.
package jsonscan

import "encoding/json"

// Keys calls fn with each object key in body, at any depth, quoted as it
// appears (including the quotes) and whether it contains escapes; it stops
// when fn returns true and reports whether it stopped.
func Keys(body []byte, fn func(quoted []byte, escaped bool) bool) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		end, escaped := stringEnd(body, i)
		if end < 0 {
			return false
		}
		if isKey(body, end+1) && fn(body[i:end+1], escaped) {
			return true
		}
		i = end
	}
	return false
}

// TopLevel returns the raw bytes of the value of key in the top-level
// object of body (the last one when the key repeats, as encoding/json
// decodes it), and whether it was found.
func TopLevel(body []byte, key string) (start, end int, found bool) {
	depth := 0
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			e, escaped := stringEnd(body, i)
			if e < 0 {
				return 0, 0, found
			}
			if depth == 1 && isKey(body, e+1) && keyIs(body[i:e+1], escaped, key) {
				vs := valueStart(body, e+1)
				ve := valueEnd(body, vs)
				start, end, found = vs, ve, true
				i = ve - 1
				continue
			}
			i = e
		}
	}
	return start, end, found
}

// String decodes a raw JSON string value; ok is false for other values.
func String(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return string(raw[1 : len(raw)-1]), true
}

func keyIs(quoted []byte, escaped bool, key string) bool {
	if !escaped {
		return string(quoted[1:len(quoted)-1]) == key // no allocation: compiler-optimised comparison
	}
	var k string
	return json.Unmarshal(quoted, &k) == nil && k == key
}

// stringEnd returns the index of the closing quote of the string opening at
// i, and whether it holds escapes; -1 if it is unterminated.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j, escaped
		}
	}
	return -1, escaped
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isKey reports whether the string that ended before j is an object key:
// the next non-space byte is a colon.
func isKey(b []byte, j int) bool {
	for ; j < len(b) && isSpace(b[j]); j++ {
	}
	return j < len(b) && b[j] == ':'
}

// valueStart returns the index of the value after the colon at or after j.
func valueStart(b []byte, j int) int {
	for ; j < len(b) && (isSpace(b[j]) || b[j] == ':'); j++ {
	}
	return j
}

// valueEnd returns the index just past the value starting at i.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		e, _ := stringEnd(b, i)
		return e + 1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j, _ = stringEnd(b, j)
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		j := i
		for ; j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]); j++ {
		}
		return j
	}
}
