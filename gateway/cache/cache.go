// Package cache is the gateway's exact-match response cache: a request whose
// normalized body, model, client dialect and memory scope equal an earlier
// one's is answered with that earlier answer, without a provider call.
//
// The caller builds the key with KeyOf(scope, model, dialect, body) where
// body is Normalize(the client's body) taken before memory injection, and
// scope identifies the memory scope (user and project): the scope is part
// of the key, so one scope never sees an answer made for another
// [OWASP LLM08:2025], and since injected memories depend on the scope only,
// equal keys mean equal provider requests up to memory changes within the
// TTL.
//
// # Streams
//
// Normalize drops "stream", so a streamed and a non-streamed request share
// a key, and Entry can hold either form or both: Body is the non-streaming
// answer, Stream the SSE bytes exactly as the client received them. The
// gateway stores the client's SSE bytes after a streamed answer completes
// (a cut stream or an error is never stored), with Body set too when it
// folded the stream. A streamed request is answered from Stream, replayed as
// a stream event by event with a flush after each (WriteStream), so a cached
// stream is still a stream to the client; a non-streamed one from Body. An
// entry without the form a request needs is a miss for it.
//
// Entries hold conversation content: a shared Redis must require a password
// (and TLS across hosts).
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/http"
	"time"
)

// MaxEntryBytes bounds what is cached: Set stores nothing, and returns nil,
// for an entry whose Body and Stream together are longer. Such answers are
// rare, and caching them would let a few evict everything else.
const MaxEntryBytes = 1 << 20

// Key identifies a cached answer. Build it with KeyOf.
type Key [32]byte

// String returns the key in hex.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// keyDomain separates these hashes from any other SHA-256 of the same
// fields, and versions the key layout: change it when Normalize changes.
const keyDomain = "memproxy/cache/v1"

// KeyOf returns the key of a request: SHA-256 over keyDomain and then each
// of scope, model, dialect and normalizedBody preceded by its length (8
// bytes, big-endian), so that no two different tuples share an encoding.
// scope must name the memory scope the answer was made in (e.g.
// "user:alice\x00project:shop"); normalizedBody must come from Normalize.
func KeyOf(scope, model, dialect string, normalizedBody []byte) Key {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(keyDomain))
	field([]byte(scope))
	field([]byte(model))
	field([]byte(dialect))
	field(normalizedBody)
	var k Key
	h.Sum(k[:0])
	return k
}

// Entry is a cached answer.
type Entry struct {
	Status int
	// Header holds only Content-Type; Set drops every other header, so no
	// per-request header (Set-Cookie, request ids, rate-limit state) is
	// replayed to another request.
	Header http.Header
	// Body is the non-streaming answer in the client's dialect.
	Body []byte
	// Stream is, for a streamed request, the full SSE bytes as the client
	// received them.
	Stream []byte
	// CreatedAt is when the answer was made (for an Age header). It comes
	// back equal by time.Equal, not necessarily by ==.
	CreatedAt time.Time
}

// size is what MaxEntryBytes bounds.
func (e Entry) size() int64 { return int64(len(e.Body)) + int64(len(e.Stream)) }

// clone returns a deep copy of e holding only what the cache keeps.
func (e Entry) clone() Entry {
	out := Entry{Status: e.Status, CreatedAt: e.CreatedAt, Body: clone(e.Body), Stream: clone(e.Stream)}
	if ct := e.Header.Get("Content-Type"); ct != "" {
		out.Header = http.Header{"Content-Type": {ct}}
	}
	return out
}

// clone copies b; an empty b becomes nil, as it comes back from Redis.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte{}, b...)
}

// Cache stores answers by Key.
type Cache interface {
	// Get returns the entry stored under k: (entry, true, nil) on a hit,
	// (Entry{}, false, nil) on a miss or an expired entry. An error means
	// the store failed (Redis down, an unreadable entry); callers treat it
	// as a miss. The entry is the caller's own copy.
	Get(ctx context.Context, k Key) (Entry, bool, error)
	// Set stores a copy of e under k for ttl, replacing any earlier entry.
	// ttl must be positive (ErrTTL otherwise). An entry larger than
	// MaxEntryBytes is not stored, and Set returns nil.
	Set(ctx context.Context, k Key, e Entry, ttl time.Duration) error
}

// ErrTTL is returned by Set for a ttl that is not positive.
var ErrTTL = errors.New("cache: ttl must be positive")
