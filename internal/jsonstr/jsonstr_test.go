package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encoded is s as encoding/json writes it, with or without HTML escaping.
func encoded(t *testing.T, s string, escapeHTML bool) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

var samples = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "héllo wörld ✓ 日本", "line\u2028sep\u2029para", "bad \xff\xfe utf8 \xc3", "emoji 🧠",
}

func TestAppendSamples(t *testing.T) {
	for _, s := range samples {
		for _, html := range []bool{true, false} {
			if got, want := Append(nil, s, html), encoded(t, s, html); !bytes.Equal(got, want) {
				t.Errorf("%q (escapeHTML %v):\n got %s\nwant %s", s, html, got, want)
			}
		}
	}
}

func FuzzAppend(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{true, false} {
			if got, want := Append(nil, s, html), encoded(t, s, html); !bytes.Equal(got, want) {
				t.Fatalf("%q (escapeHTML %v):\n got %s\nwant %s", s, html, got, want)
			}
		}
	})
}
