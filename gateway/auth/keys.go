package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// Sentinel errors of Check. Both map to 401; the message never says which
// part of a key was wrong.
var (
	ErrNoKey  = errors.New("no API key: send it as 'Authorization: Bearer <key>' or 'x-api-key'")
	ErrBadKey = errors.New("invalid API key")
)

// Principal is what a valid key grants.
type Principal struct {
	// Admin is true for the master key, which may act as any user.
	Admin bool
	// User is the key's owner ("" for the master key).
	User string
}

// Keys checks presented keys against digests. Only digests are held: a
// heap dump or a log line cannot leak a key it never stored.
type Keys struct {
	master    [sha256.Size]byte
	hasMaster bool
}

// NewKeys returns a checker that accepts masterKey as the administrator's
// key. An empty masterKey accepts nothing.
func NewKeys(masterKey string) *Keys {
	k := &Keys{}
	if masterKey != "" {
		k.master, k.hasMaster = sha256.Sum256([]byte(masterKey)), true
	}
	return k
}

// Check returns the principal of key, ErrNoKey for an empty key, or
// ErrBadKey. Digests are compared in constant time.
func (k *Keys) Check(key string) (Principal, error) {
	if key == "" {
		return Principal{}, ErrNoKey
	}
	d := sha256.Sum256([]byte(key))
	if k.hasMaster && subtle.ConstantTimeCompare(d[:], k.master[:]) == 1 {
		return Principal{Admin: true}, nil
	}
	return Principal{}, ErrBadKey
}

// KeyFromHeader returns the key of an HTTP request: the Bearer token of
// Authorization, else x-api-key (Anthropic's header).
func KeyFromHeader(h http.Header) string {
	if a := h.Get("Authorization"); a != "" {
		if tok, ok := cutPrefixFold(a, "Bearer "); ok {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	return strings.TrimSpace(h.Get("X-Api-Key"))
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// NewKey returns a fresh random key: the prefix, then 256 random bits in
// URL-safe base64.
func NewKey(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}
