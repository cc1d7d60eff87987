package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// KeyPrefix starts every per-user key; NewKey(KeyPrefix) mints one.
const KeyPrefix = "sk-mp-"

// KeyStore holds per-user API keys. It is declared here, where keys are
// checked, and implemented by the gateway's databases (gateway/store). The
// secret itself is never given to a store, only its KeyHash, and no method
// returns a hash.
//
// Every value reaches the database as a placeholder argument.
type KeyStore interface {
	// CreateKey stores rec under hash. rec must pass Validate and have
	// CreatedAt set; its RevokedAt and LastUsedAt are ignored. An ID or a
	// hash already stored gives ErrKeyExists; an invalid rec ErrInvalidKey.
	CreateKey(ctx context.Context, rec KeyRecord, hash KeyHash) error

	// KeyByHash returns the active key stored under hash. An unknown or a
	// revoked key gives ErrKeyNotFound: a revoked key no longer exists for
	// authentication.
	KeyByHash(ctx context.Context, hash KeyHash) (KeyRecord, error)

	// ListKeys returns the keys matching f, revoked ones included, oldest
	// first (ties by ID).
	ListKeys(ctx context.Context, f KeyFilter) ([]KeyRecord, error)

	// RevokeKey marks key id revoked at at. Revoking a revoked key keeps
	// the first time and is not an error; an unknown id gives
	// ErrKeyNotFound.
	RevokeKey(ctx context.Context, id string, at time.Time) error

	// TouchKey records that key id was used at at. It never moves
	// LastUsedAt back, and touching an unknown id is not an error.
	TouchKey(ctx context.Context, id string, at time.Time) error
}

// Errors of KeyStore; implementations wrap them, test with errors.Is.
var (
	ErrKeyNotFound = errors.New("API key not found")
	ErrKeyExists   = errors.New("API key already exists")
	ErrInvalidKey  = errors.New("invalid API key record")
)

// KeyFilter selects keys for ListKeys. The zero value selects every key.
type KeyFilter struct {
	User string // only this user's keys
}

// KeyRecord is a stored key: everything about it but the secret and its
// hash, so a listing can never show either.
type KeyRecord struct {
	// ID is public ("key_" and 12 base32 characters): it names the key in
	// listings, logs and revocation.
	ID string
	// User owns the key; a request made with it is always this user's.
	User string
	// Project, when set, is the only project the key may act for.
	Project string
	// Models, when non-empty, are the only model names the key may ask for.
	Models []string
	// RPM and TPM limit requests and tokens a minute (0: no limit);
	// MaxBudget (USD, nil: none) caps spend per BudgetPeriod ("" with a
	// budget: over the key's life). Stored for the limits work; not
	// enforced yet.
	RPM, TPM     int64
	MaxBudget    *float64
	BudgetPeriod string
	// Times are UTC; RevokedAt and LastUsedAt are zero when never.
	CreatedAt  time.Time
	RevokedAt  time.Time
	LastUsedAt time.Time
}

// Revoked reports whether the key has been revoked.
func (r *KeyRecord) Revoked() bool { return !r.RevokedAt.IsZero() }

// Principal is what the key grants.
func (r *KeyRecord) Principal() Principal {
	return Principal{User: r.User, KeyID: r.ID, Project: r.Project, Models: append([]string(nil), r.Models...),
		RPM: r.RPM, TPM: r.TPM, MaxBudget: r.MaxBudget, BudgetPeriod: r.BudgetPeriod}
}

// Limits of a key record, so that every store accepts the same records.
const (
	maxIDBytes   = 64
	maxNameBytes = 256
	maxModels    = 256
)

var budgetPeriodRE = regexp.MustCompile(`^[1-9][0-9]{0,5}(s|m|h|d|mo)$`)

// Validate returns an error wrapping ErrInvalidKey unless rec can be
// stored: an ID, a user, and names that are printable text of bounded
// length; no negative limits; a budget period (such as 30d, 12h or 1mo)
// only with a budget.
func (r *KeyRecord) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidKey, fmt.Sprintf(format, a...))
	}
	if err := checkName("id", r.ID, maxIDBytes, true); err != nil {
		return bad("%v", err)
	}
	if err := checkName("user", r.User, maxNameBytes, true); err != nil {
		return bad("%v", err)
	}
	if err := checkName("project", r.Project, maxNameBytes, false); err != nil {
		return bad("%v", err)
	}
	if len(r.Models) > maxModels {
		return bad("more than %d models", maxModels)
	}
	for _, m := range r.Models {
		if err := checkName("model", m, maxNameBytes, true); err != nil {
			return bad("%v", err)
		}
	}
	switch {
	case r.RPM < 0 || r.TPM < 0:
		return bad("rpm and tpm may not be negative")
	case r.MaxBudget != nil && !(*r.MaxBudget >= 0): // also NaN
		return bad("max budget must be a non-negative number")
	case r.BudgetPeriod != "" && r.MaxBudget == nil:
		return bad("a budget period needs a max budget")
	case r.BudgetPeriod != "" && !budgetPeriodRE.MatchString(r.BudgetPeriod):
		return bad("budget period %q: want a count and s, m, h, d or mo (e.g. 30d)", r.BudgetPeriod)
	}
	return nil
}

func checkName(what, s string, max int, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("%s is required", what)
	case len(s) > max:
		return fmt.Errorf("%s longer than %d bytes", what, max)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(c rune) bool { return !unicode.IsPrint(c) && c != ' ' }):
		return fmt.Errorf("%s is not printable text", what)
	}
	return nil
}

// KeyHash is the SHA-256 digest of a key: what stores keep and look up by.
// It prints and logs as a placeholder, never as its bytes; stores use
// h[:].
type KeyHash [sha256.Size]byte

// HashKey returns the hash of key.
func HashKey(key string) KeyHash { return sha256.Sum256([]byte(key)) }

const hashPlaceholder = "[key hash]"

func (KeyHash) String() string               { return hashPlaceholder }
func (KeyHash) GoString() string             { return hashPlaceholder }
func (KeyHash) LogValue() slog.Value         { return slog.StringValue(hashPlaceholder) }
func (KeyHash) MarshalText() ([]byte, error) { return []byte(hashPlaceholder), nil }

var idAlphabet = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewKeyID returns a fresh public key id: "key_" and 12 random base32
// characters (60 bits).
func NewKeyID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "key_" + idAlphabet.EncodeToString(b[:])[:12]
}

// ErrForbidden is returned by Mint when the minter may not grant the key.
var ErrForbidden = errors.New("not allowed to mint this key")

// Mint creates a key with the grants of spec (its User, Project, Models
// and limits; ID and times are set here) on behalf of by, and returns the
// secret, which exists nowhere else afterwards: show it once. A key can
// never grant more than its minter holds; today that means only the master
// key (by.Admin) mints, and anything else gives ErrForbidden.
func Mint(ctx context.Context, ks KeyStore, by Principal, spec KeyRecord, now time.Time) (string, KeyRecord, error) {
	if !by.Admin {
		return "", KeyRecord{}, ErrForbidden
	}
	rec := spec
	rec.ID, rec.CreatedAt = NewKeyID(), now.UTC()
	rec.RevokedAt, rec.LastUsedAt = time.Time{}, time.Time{}
	if len(rec.Models) == 0 {
		rec.Models = nil
	}
	if err := rec.Validate(); err != nil {
		return "", KeyRecord{}, err
	}
	key := NewKey(KeyPrefix)
	if err := ks.CreateKey(ctx, rec, HashKey(key)); err != nil {
		return "", KeyRecord{}, fmt.Errorf("storing the key: %w", err)
	}
	return key, rec, nil
}
