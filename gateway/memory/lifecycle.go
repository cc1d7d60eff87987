package memory

import (
	"context"
	"errors"
	"fmt"
	"maps"
)

// Lifecycle is what a backend adds to Backend so that memories can change
// over time: a fact replaced by a newer one (Supersede), corrected by a
// person (Update), and traced back (History). It also stores, with each
// memory, where it came from (Source) and hidden search keys (Keys). The
// gateway's SQLite and PostgreSQL stores implement it; a backend that does
// not is found out with LifecycleOf, and the Supermemory backend implements
// it only to answer ErrUnsupported for what its API cannot do.
//
// A memory is active or superseded. A superseded memory is kept (Get,
// History and ListWith with IncludeSuperseded show it) but Search never
// returns it, so it is never injected, and Backend.List leaves it out.
// Dedup (Add, AddWith) compares against active memories only: content
// identical to a superseded memory is a new, active memory (the old fact
// holds again).
//
// Every method keeps the scope a hard boundary, as Backend's do: an id of
// another scope is ErrNotFound, and a supersede link never crosses scopes.
type Lifecycle interface {
	Backend

	// AddWith is Add with source and keys: content identical (Normalize) to
	// an active memory of s returns that memory, created=false, unchanged
	// (its keys and source are not merged).
	AddWith(ctx context.Context, s Scope, content string, o AddOptions) (m Memory, created bool, err error)

	// Supersede replaces the active memory oldID of s by content, in one
	// transaction, and returns the memory that now holds the fact:
	//   - a new memory (with o's metadata, keys and source), the old one
	//     marked superseded by it, its ValidTo set to now;
	//   - or, when content is identical to another active memory of s, that
	//     memory, the old one superseded by it;
	//   - or, when content is identical to the old memory's own, the old
	//     memory unchanged.
	// An oldID that is not in s gives ErrNotFound; one already superseded
	// gives ErrSuperseded (supersede its newest version, from History).
	Supersede(ctx context.Context, s Scope, oldID, content string, o AddOptions) (Memory, error)

	// Update is a person's correction of memory id: a Supersede whose new
	// memory keeps the old one's metadata, has no keys (they were written
	// for the old text) and has Source{Client: SourceEdit}. Editing is a
	// supersede, not an in-place change, so that what a memory said before
	// (and which request wrote it) stays in History; the new memory has a
	// new id. Errors as for Supersede.
	Update(ctx context.Context, s Scope, id, content string) (Memory, error)

	// History returns the memories of s linked to id by supersede links —
	// those it replaced, transitively, and those that replaced it — oldest
	// first, id included, at most MaxHistory. Each carries SupersededBy, so
	// the chain can be drawn. An id not in s gives ErrNotFound.
	History(ctx context.Context, s Scope, id string) ([]Memory, error)

	// ListWith is List with options: superseded memories are listed too
	// when o.IncludeSuperseded is set.
	ListWith(ctx context.Context, s Scope, o ListOptions) (ms []Memory, next string, err error)
}

// Memory statuses.
const (
	StatusActive     = "active"
	StatusSuperseded = "superseded"
)

// SourceEdit is the Source.Client of a memory written by Update.
const SourceEdit = "edit"

// MaxHistory bounds what History returns.
const MaxHistory = 100

// Bounds on what AddOptions may carry, enforced by ValidateOptions.
const (
	MaxKeysBytes   = 4 << 10
	MaxSourceBytes = 256
)

// Source says where a memory came from: the client that sent the turn
// (e.g. "claude-code", "codex", "memedge", SourceEdit), the request id of
// the gateway's usage log, the client's session and the turn's number in
// it. Any field may be empty (0 for Turn): a memory added by hand has only
// a client.
type Source struct {
	Client    string `json:"client,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Session   string `json:"session,omitempty"`
	Turn      int    `json:"turn,omitempty"`
}

// AddOptions is what AddWith and Supersede store with the content.
type AddOptions struct {
	// Metadata as for Add (ValidateMetadata).
	Metadata map[string]string
	// Keys are hidden search words for the memory (alternative phrasings,
	// keywords, synonyms) that the full-text index covers together with
	// the content. They are never returned (no Memory field holds them),
	// so never shown or injected; up to MaxKeysBytes of text.
	Keys string
	// Source is where the memory came from.
	Source Source
}

// ListOptions page ListWith as List does.
type ListOptions struct {
	Cursor string
	Limit  int
	// IncludeSuperseded lists superseded memories too (with their Status).
	IncludeSuperseded bool
}

// More errors callers branch on.
var (
	// ErrSuperseded: the memory has been superseded; only an active memory
	// can be superseded or edited.
	ErrSuperseded = errors.New("memory is superseded")
	// ErrUnsupported: the backend cannot do this (e.g. Supermemory has no
	// supersede links).
	ErrUnsupported = errors.New("not supported by this memory backend")
)

// LifecycleOf returns b's Lifecycle, or an error wrapping ErrUnsupported
// naming what b lacks.
func LifecycleOf(b Backend) (Lifecycle, error) {
	l, ok := b.(Lifecycle)
	if !ok {
		return nil, fmt.Errorf("%w: %T keeps no memory history (supersede, edit, history, source, keys)", ErrUnsupported, b)
	}
	return l, nil
}

// ValidateOptions reports options a backend must refuse: metadata as
// ValidateMetadata; keys longer than MaxKeysBytes or not text
// (ErrInvalidContent); a source field longer than MaxSourceBytes or not
// text, or a negative turn (ErrInvalidMetadata).
func ValidateOptions(o AddOptions) error {
	if err := ValidateMetadata(o.Metadata); err != nil {
		return err
	}
	if len(o.Keys) > MaxKeysBytes || !isText(o.Keys) {
		return fmt.Errorf("%w: keys are longer than 4 KiB or not text", ErrInvalidContent)
	}
	for _, f := range []string{o.Source.Client, o.Source.RequestID, o.Source.Session} {
		if len(f) > MaxSourceBytes || !isText(f) {
			return fmt.Errorf("%w: a source field is longer than %d bytes or not text", ErrInvalidMetadata, MaxSourceBytes)
		}
	}
	if o.Source.Turn < 0 {
		return fmt.Errorf("%w: negative source turn", ErrInvalidMetadata)
	}
	return nil
}

// ValidateAddWith checks the arguments of AddWith and Supersede in the
// order every backend reports them: scope, content, options.
func ValidateAddWith(s Scope, content string, o AddOptions) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := ValidateContent(content); err != nil {
		return err
	}
	return ValidateOptions(o)
}

// EditOptions are the options of the memory Update writes in place of old.
func EditOptions(old Memory) AddOptions {
	var meta map[string]string
	if len(old.Metadata) > 0 {
		meta = maps.Clone(old.Metadata)
	}
	return AddOptions{Metadata: meta, Source: Source{Client: SourceEdit}}
}

// StatusOf is the status of a memory superseded by supersededBy ("" for
// none).
func StatusOf(supersededBy string) string {
	if supersededBy == "" {
		return StatusActive
	}
	return StatusSuperseded
}

// ListWith is b's List, or its lifecycle's ListWith when superseded
// memories are asked for (a backend without a lifecycle has none to show).
func ListWith(ctx context.Context, b Backend, sc Scope, o ListOptions) ([]Memory, string, error) {
	if l, err := LifecycleOf(b); err == nil {
		return l.ListWith(ctx, sc, o)
	}
	return b.List(ctx, sc, o.Cursor, o.Limit)
}
