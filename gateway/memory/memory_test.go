package memory

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"a b":                       "a b",
		"  a \t\n b  ":              "a b",
		"\u00a0a\u2003b\u3000":      "a b",
		"Case Kept, punctuation.":   "Case Kept, punctuation.",
		"line one\r\nline two\n\n ": "line one line two",
		"":                          "",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q; want %q", in, got, want)
		}
	}
	if ContentHash(" a  b ") != ContentHash("a b") || ContentHash("a b") == ContentHash("A b") {
		t.Errorf("ContentHash does not follow Normalize")
	}
	if h := ContentHash("x"); len(h) != 64 || strings.ToLower(h) != h {
		t.Errorf("ContentHash = %q; want 64 lowercase hex digits", h)
	}
}

func TestScope(t *testing.T) {
	s, err := NewScope("alice", "github.com/acme/shop")
	if err != nil || s != "u:alice/p:github.com%2Facme%2Fshop" || s.User() != "u:alice" {
		t.Errorf("NewScope = %q, %v; User %q", s, err, s.User())
	}
	// A '/' in the user cannot forge another user's scope.
	a, _ := NewScope("a/p:b", "c")
	b, _ := NewScope("a", "b/p:c")
	if a == b || a.User() == b.User() {
		t.Errorf("NewScope(\"a/p:b\", \"c\") = %q and NewScope(\"a\", \"b/p:c\") = %q collide", a, b)
	}
	if p, _ := NewScope("100%", "x"); p != "u:100%25/p:x" {
		t.Errorf("NewScope escapes %% as %q", p)
	}
	// Control characters are escaped, never stored raw.
	if s, err := NewScope("u\n", "p"); err != nil || s != "u:u%0A/p:p" {
		t.Errorf("NewScope with a newline = %q, %v", s, err)
	}
	for policy, want := range map[string]Scope{PolicyUser: "u:a%20b", PolicyProject: "p:x", PolicyUserProject: "u:a%20b/p:x", "": "u:a%20b/p:x"} {
		if got := ScopeFor(policy, "a b", "x"); got != want {
			t.Errorf("ScopeFor(%q) = %q, want %q", policy, got, want)
		}
	}
	if ScopeFor(PolicyUserProject, "a", "") != "" || ScopeFor(PolicyProject, "a", "") != "" {
		t.Error("a scope without the part its policy needs")
	}
	for _, bad := range [][2]string{{"", "p"}, {"u", ""}, {strings.Repeat("u", 300), "p"}} {
		if _, err := NewScope(bad[0], bad[1]); !errors.Is(err, ErrInvalidScope) {
			t.Errorf("NewScope(%q, %q): %v; want ErrInvalidScope", bad[0], bad[1], err)
		}
	}
	if Scope("no-slash").User() != "no-slash" {
		t.Errorf("User of a scope without '/' is not the scope")
	}
}

func TestValidate(t *testing.T) {
	if err := ValidateContent("ok"); err != nil {
		t.Error(err)
	}
	if err := ValidateMetadata(map[string]string{"k": ""}); err != nil {
		t.Error(err)
	}
	for _, c := range []string{"", " \n", "a\x00", "\xc3", strings.Repeat("a", MaxContentBytes+1)} {
		if !errors.Is(ValidateContent(c), ErrInvalidContent) {
			t.Errorf("ValidateContent(%.10q) accepted", c)
		}
	}
	if err := ValidateAdd("", "x", nil); !errors.Is(err, ErrInvalidScope) {
		t.Errorf("ValidateAdd with an empty scope: %v", err)
	}
}

func TestCursor(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)
	c := EncodeCursor(at, "mem_X")
	got, id, err := DecodeCursor(c)
	if err != nil || !got.Equal(at) || id != "mem_X" || got.Location() != time.UTC {
		t.Errorf("DecodeCursor(EncodeCursor) = %v, %q, %v", got, id, err)
	}
	for _, bad := range []string{"", "x", "djEuMTIzLg", EncodeCursor(at, "")} {
		if _, _, err := DecodeCursor(bad); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("DecodeCursor(%q): %v; want ErrInvalidCursor", bad, err)
		}
	}
}

func TestClampLimit(t *testing.T) {
	for in, want := range map[int]int{-1: DefaultLimit, 0: DefaultLimit, 1: 1, MaxLimit: MaxLimit, MaxLimit + 1: MaxLimit} {
		if got := ClampLimit(in); got != want {
			t.Errorf("ClampLimit(%d) = %d; want %d", in, got, want)
		}
	}
}

func TestTruncateAtCharacterBoundary(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"héllo", 2, "h"},  // byte 2 is inside é: back to its start
		{"héllo", 3, "hé"}, // é whole
		{"abc", 1, "a"},
	} {
		if got := Truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q; want %q", tc.s, tc.n, got, tc.want)
		}
	}
	long := strings.Repeat("é", MaxContentBytes) // twice the limit in bytes
	if got := Clip(long); len(got) > MaxContentBytes || !utf8.ValidString(got) {
		t.Errorf("Clip: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
}
