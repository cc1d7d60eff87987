package translate

import "github.com/memproxy/memproxy/internal/jsonstr"

// appendString appends s as a JSON string as encoding/json writes it
// without HTML escaping; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte { return jsonstr.Append(dst, s, false) }
