package memory

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Scope names whose memories a call is about. To a backend it is opaque:
// an exact key, compared byte for byte (no prefix, case or Unicode folding),
// so "u:a/p:x" and "u:a/p:x2" share nothing. The gateway derives it from
// the request's authenticated user and project (NewScope); it is never
// taken from request content.
type Scope string

// Scope policies: which parts of a request's identity make its scope.
const (
	PolicyUser        = "user"         // u:USER — a user's memories across projects
	PolicyProject     = "project"      // p:PROJECT — shared by a project's users
	PolicyUserProject = "user_project" // u:USER/p:PROJECT, the default
)

// ScopeFor is the one scope function: the scope of an authenticated user
// and project by policy ("u:USER/p:PROJECT" for user_project, the default),
// "" when the identity lacks a part the policy needs. Parts are
// path-escaped ('/', '%', spaces and the like), so the first segment always
// names the user and no user or project name can forge another scope.
func ScopeFor(policy, user, project string) Scope {
	u, p := url.PathEscape(user), url.PathEscape(project)
	switch policy {
	case PolicyUser:
		if u != "" {
			return Scope("u:" + u)
		}
	case PolicyProject:
		if p != "" {
			return Scope("p:" + p)
		}
	default:
		if u != "" && p != "" {
			return Scope("u:" + u + "/p:" + p)
		}
	}
	return ""
}

// NewScope returns the user_project scope of a user's project, or an
// error wrapping ErrInvalidScope when a part is missing or the scope is
// not valid.
func NewScope(user, project string) (Scope, error) {
	s := ScopeFor(PolicyUserProject, user, project)
	if s == "" {
		return "", fmt.Errorf("%w: user and project are required", ErrInvalidScope)
	}
	return s, s.Validate()
}

// Validate reports (wrapping ErrInvalidScope) a scope that is empty, longer
// than MaxScopeBytes, not valid UTF-8, or holds a character that is not
// printable (control characters, NUL, line breaks, spaces other than
// U+0020).
func (s Scope) Validate() error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrInvalidScope)
	case len(s) > MaxScopeBytes:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidScope, MaxScopeBytes)
	case !utf8.ValidString(string(s)):
		return fmt.Errorf("%w: not UTF-8", ErrInvalidScope)
	}
	for _, r := range string(s) {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: holds the unprintable character %U", ErrInvalidScope, r)
		}
	}
	return nil
}

// User returns the scope's first '/'-separated segment ("u:alice" for
// "u:alice/p:shop"): the user, for scopes built by NewScope. Backends that
// keep per-user state (sessions, connection pools) key it on User; it is
// never an access boundary, which is the whole scope.
func (s Scope) User() string {
	u, _, _ := strings.Cut(string(s), "/")
	return u
}

// EncodeCursor returns the List cursor for a page that continues after the
// memory created at t with the given id, for backends that list newest
// first by (CreatedAt, ID) descending. It is opaque to callers.
func EncodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1." + strconv.FormatInt(t.UnixNano(), 10) + "." + id))
}

// DecodeCursor reverses EncodeCursor. Anything else gives ErrInvalidCursor.
func DecodeCursor(cursor string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return time.Time{}, "", ErrInvalidCursor
	}
	v, rest, ok := strings.Cut(string(raw), ".")
	if !ok || v != "v1" {
		return time.Time{}, "", ErrInvalidCursor
	}
	ns, id, ok := strings.Cut(rest, ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return time.Time{}, "", ErrInvalidCursor
	}
	return time.Unix(0, n).UTC(), id, nil
}
