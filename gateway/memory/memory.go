// Package memory declares what the gateway needs from a memory store: short
// texts kept per Scope (a user's project), searched by relevance, listed
// newest first, and deleted one by one or all at once. The store is chosen
// by deployment (the gateway's own SQLite or PostgreSQL database, or the
// Supermemory API); every implementation passes the conformance suite in
// memory/memorytest.
//
// The scope is the only key a backend sees, and it is a hard boundary: no
// method reads, counts, ranks against or changes a memory of any scope but
// the one it was given. A memory id is meaningful only together with its
// scope; an id from another scope is reported as ErrNotFound, exactly as an
// id that never existed.
//
// Memory text is untrusted data (whoever could write it could have written
// instructions into it); callers fence it when they inject it into a prompt
// and never let it choose tools, models or URLs.
package memory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Backend stores memories per scope. Every method takes the scope and never
// touches another. Methods are safe for concurrent use.
//
// Every method returns an error wrapping ErrInvalidScope for a scope that
// fails Scope.Validate, before doing any I/O.
type Backend interface {
	// Search returns up to limit memories of s relevant to query, best
	// first, with Score set (higher is better; scales differ between
	// backends). A limit outside 1..MaxLimit is clamped (≤ 0 means
	// DefaultLimit). The query is plain text: characters a backend's query
	// language gives meaning to are data, never syntax, and a query with
	// no searchable words finds nothing (nil, nil).
	Search(ctx context.Context, s Scope, query string, limit int) ([]Memory, error)

	// Add stores content in s with its metadata. Content identical to a
	// memory already in s, once Normalize is applied to both, is stored
	// once: Add then returns that memory and created=false, leaving its
	// content and metadata as they were. Content or metadata failing
	// ValidateContent or ValidateMetadata give ErrInvalidContent or
	// ErrInvalidMetadata.
	Add(ctx context.Context, s Scope, content string, meta map[string]string) (m Memory, created bool, err error)

	// Get returns the memory id of s, or ErrNotFound when s holds no such
	// memory (whether or not another scope does).
	Get(ctx context.Context, s Scope, id string) (Memory, error)

	// List returns up to limit memories of s, newest first, starting after
	// cursor ("" for the first page), and the cursor of the next page, ""
	// when there is none. Limit is clamped as for Search. Following the
	// cursors from "" visits every memory that exists throughout the walk
	// exactly once. A cursor a backend cannot read gives ErrInvalidCursor.
	List(ctx context.Context, s Scope, cursor string, limit int) (ms []Memory, next string, err error)

	// Delete removes the memory id of s, or returns ErrNotFound as Get does
	// (a memory of another scope is left untouched).
	Delete(ctx context.Context, s Scope, id string) error

	// DeleteAll removes every memory of s and returns how many there were.
	DeleteAll(ctx context.Context, s Scope) (int, error)
}

// Memory is one stored text.
type Memory struct {
	ID       string
	Content  string
	Metadata map[string]string
	// CreatedAt is when the memory was first added, in UTC.
	CreatedAt time.Time
	// Score is set by Search only: the backend's relevance, higher is
	// better. Scores are comparable within one result list, not across
	// backends.
	Score float64

	// The lifecycle (see Lifecycle); backends without one leave these
	// zero, and a zero Status means StatusActive.

	// Status is StatusActive or StatusSuperseded.
	Status string
	// SupersededBy is the id of the memory that replaced this one (it may
	// since have been deleted); "" while active.
	SupersededBy string
	// ValidTo is when the memory was superseded, in UTC; zero while
	// active.
	ValidTo time.Time
	// Source is where the memory came from.
	Source Source
}

// Errors callers branch on. Backends wrap them; test with errors.Is.
var (
	// ErrNotFound: the scope holds no memory with that id.
	ErrNotFound = errors.New("memory not found")
	// ErrInvalidScope: the scope is empty, too long, or not printable text.
	ErrInvalidScope = errors.New("invalid memory scope")
	// ErrInvalidContent: the content is blank, too long, or not text.
	ErrInvalidContent = errors.New("invalid memory content")
	// ErrInvalidMetadata: too many keys, a key or value too long or not
	// text, or a reserved key.
	ErrInvalidMetadata = errors.New("invalid memory metadata")
	// ErrInvalidCursor: a List cursor the backend did not issue.
	ErrInvalidCursor = errors.New("invalid memory cursor")
)

// Limits every backend enforces, so that a memory accepted by one is
// accepted by all.
const (
	MaxScopeBytes    = 256
	MaxContentBytes  = 32 << 10
	MaxMetadataKeys  = 32
	MaxMetaKeyBytes  = 64
	MaxMetaValueSize = 1024
	// ReservedMetaPrefix starts metadata keys that backends keep for
	// themselves (e.g. the content hash a remote store deduplicates on).
	ReservedMetaPrefix = "memproxy_"
	// DefaultLimit is the page or result size when the caller gives none;
	// MaxLimit the largest honoured.
	DefaultLimit = 10
	MaxLimit     = 100
)

// ClampLimit applies the Search and List limit rule.
func ClampLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultLimit
	case limit > MaxLimit:
		return MaxLimit
	}
	return limit
}

// Normalize is the form in which two contents count as identical: trimmed,
// with every run of white space (any Unicode space, newlines included)
// collapsed to one ASCII space. Case and punctuation are kept.
func Normalize(content string) string {
	return strings.Join(strings.FieldsFunc(content, unicode.IsSpace), " ")
}

// ContentHash is the lowercase hex SHA-256 of Normalize(content): the key
// under which a scope deduplicates.
func ContentHash(content string) string {
	sum := sha256.Sum256([]byte(Normalize(content)))
	return hex.EncodeToString(sum[:])
}

// ValidateContent reports (wrapping ErrInvalidContent) content a backend
// must refuse: blank, longer than MaxContentBytes, or holding invalid UTF-8
// or NUL bytes.
func ValidateContent(content string) error {
	switch {
	case strings.TrimSpace(content) == "":
		return fmt.Errorf("%w: content is blank", ErrInvalidContent)
	case len(content) > MaxContentBytes:
		return fmt.Errorf("%w: content is longer than 32 KiB", ErrInvalidContent)
	case !isText(content):
		return fmt.Errorf("%w: content is not UTF-8 text", ErrInvalidContent)
	}
	return nil
}

// ValidateMetadata reports (wrapping ErrInvalidMetadata) metadata a backend
// must refuse: more than MaxMetadataKeys entries, an empty, reserved or
// overlong key, an overlong value, or text that is not valid UTF-8 or holds
// NUL bytes.
func ValidateMetadata(meta map[string]string) error {
	if len(meta) > MaxMetadataKeys {
		return fmt.Errorf("%w: more than 32 keys", ErrInvalidMetadata)
	}
	for k, v := range meta {
		switch {
		case k == "" || len(k) > MaxMetaKeyBytes || !isText(k):
			return fmt.Errorf("%w: a key is empty, longer than 64 bytes or not text", ErrInvalidMetadata)
		case strings.HasPrefix(k, ReservedMetaPrefix):
			return fmt.Errorf("%w: keys starting with %s are reserved", ErrInvalidMetadata, ReservedMetaPrefix)
		case len(v) > MaxMetaValueSize || !isText(v):
			return fmt.Errorf("%w: a value is longer than 1 KiB or not text", ErrInvalidMetadata)
		}
	}
	return nil
}

// ValidateAdd checks the arguments of Backend.Add in the order every
// backend reports them: scope, content, metadata.
func ValidateAdd(s Scope, content string, meta map[string]string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := ValidateContent(content); err != nil {
		return err
	}
	return ValidateMetadata(meta)
}

func isText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// NewID returns a fresh memory id for backends that assign their own:
// "mem_" and 128 random bits (crypto/rand.Text). Ids are unguessable, so
// that knowing one says nothing about others (access is checked by scope
// regardless).
func NewID() string {
	return "mem_" + rand.Text()
}

// Clip keeps content within MaxContentBytes, the size every backend
// accepts, cutting at a character boundary.
func Clip(content string) string {
	if len(content) <= MaxContentBytes {
		return content
	}
	return Truncate(content, MaxContentBytes)
}

// Truncate returns the longest prefix of s of at most n bytes (n < len(s))
// that ends at a character boundary.
func Truncate(s string, n int) string {
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
