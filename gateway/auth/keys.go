package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
)

// Sentinel errors of Check. ErrNoKey and ErrBadKey map to 401; the message
// never says which part of a key was wrong. ErrUnavailable (the key store
// could not be asked) maps to 503: a key is never accepted, nor reported
// bad, because the database is down.
var (
	ErrNoKey       = errors.New("no API key: send it as 'Authorization: Bearer <key>' or 'x-api-key'")
	ErrBadKey      = errors.New("invalid API key")
	ErrUnavailable = errors.New("the API key cannot be checked now; try again")
)

// Principal is what a valid key grants.
type Principal struct {
	// Admin is true for the master key, which may act as any user.
	Admin bool
	// User is the key's owner ("" for the master key).
	User string
	// KeyID names the stored key ("" for the master key).
	KeyID string
	// Project, when set, is the only project the key may act for.
	Project string
	// Models, when non-empty, are the only model names the key may ask
	// for. Read only.
	Models []string
	// The key's own limits (0 or nil: none): requests and tokens a
	// minute, and spend per BudgetPeriod (a duration such as 30d).
	RPM, TPM     int64
	MaxBudget    *float64
	BudgetPeriod string
}

// AllowsModel reports whether the key may ask for the model named name
// (the client-facing model name).
func (p Principal) AllowsModel(name string) bool {
	return p.Admin || len(p.Models) == 0 || slices.Contains(p.Models, name)
}

// AllowsProject reports whether the key may act for project.
func (p Principal) AllowsProject(project string) bool {
	return p.Admin || p.Project == "" || project == p.Project
}

// Keys checks presented keys: the master key against its digest, every
// other key by its hash in a KeyStore (see Attach), through a cache. Only
// digests are held: a heap dump or a log line cannot leak a key it never
// stored.
type Keys struct {
	master    [sha256.Size]byte
	hasMaster bool
	stored    atomic.Pointer[storeKeys]
}

// NewKeys returns a checker that accepts masterKey as the administrator's
// key, and stored keys once a store is attached. An empty masterKey
// accepts no master key.
func NewKeys(masterKey string) *Keys {
	k := &Keys{}
	if masterKey != "" {
		k.master, k.hasMaster = sha256.Sum256([]byte(masterKey)), true
	}
	return k
}

// Attach makes k accept the active keys of ks, looked up through a cache
// tuned by opts. Only the first call has an effect (it reports whether it
// did), so a caller may attach lazily; Attach is safe to call while Check
// runs.
func (k *Keys) Attach(ks KeyStore, opts CacheOptions) bool {
	if k.stored.Load() != nil || ks == nil {
		return false
	}
	return k.stored.CompareAndSwap(nil, newStoreKeys(ks, opts))
}

// Check returns the principal of key: the admin for the master key
// (digests compared in constant time), else the grants of the stored key
// with that hash. It returns ErrNoKey for an empty key, ErrBadKey for an
// unknown or revoked one, and ErrUnavailable when the store fails.
//
// Stored keys are cached (CacheOptions): a key revoked in the store keeps
// working for up to the positive TTL in a process that saw it, unless it
// was revoked through this Keys' Revoke or dropped by DropRevoked.
func (k *Keys) Check(ctx context.Context, key string) (Principal, error) {
	if key == "" {
		return Principal{}, ErrNoKey
	}
	d := sha256.Sum256([]byte(key))
	if k.hasMaster && subtle.ConstantTimeCompare(d[:], k.master[:]) == 1 {
		return Principal{Admin: true}, nil
	}
	sk := k.stored.Load()
	if sk == nil || !userKeyShape(key) {
		return Principal{}, ErrBadKey
	}
	return sk.check(ctx, d)
}

// Revoke revokes stored key id and drops it from the cache at once, so this
// process refuses it from the next request on.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	sk := k.stored.Load()
	if sk == nil {
		return ErrKeyNotFound
	}
	return sk.revoke(ctx, id)
}

// userKeyShape reports whether key could be one NewKey(KeyPrefix) made, so
// that garbage never reaches the store or the cache.
func userKeyShape(key string) bool {
	rest, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok || len(rest) != 43 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
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
