package supermemory

import (
	"context"
	"fmt"
	"strconv"

	"github.com/memproxy/memproxy/gateway/memory"
)

// The Supermemory API keeps documents, not versions of facts: it has no
// supersede links to store and its search is by meaning, so hidden keys
// add nothing. Backend implements memory.Lifecycle so that callers get a
// clear answer: AddWith and ListWith work (the source is kept in the
// document's metadata; nothing is ever superseded), and Supersede, Update,
// History and AddWith with keys give memory.ErrUnsupported.
var _ memory.Lifecycle = (*Backend)(nil)

// Metadata keys holding a memory's source.
const (
	metaSrcClient  = memory.ReservedMetaPrefix + "source_client"
	metaSrcRequest = memory.ReservedMetaPrefix + "source_request"
	metaSrcSession = memory.ReservedMetaPrefix + "source_session"
	metaSrcTurn    = memory.ReservedMetaPrefix + "source_turn"
)

func unsupported(what string) error {
	return fmt.Errorf("%w: the Supermemory backend keeps no memory history, so it cannot %s (use the local or postgres backend)",
		memory.ErrUnsupported, what)
}

// AddWith implements memory.Lifecycle: Add with the source in metadata.
// Keys give ErrUnsupported (Supermemory searches by meaning and has no
// field for them); nothing is stored then.
func (b *Backend) AddWith(ctx context.Context, s memory.Scope, content string, o memory.AddOptions) (memory.Memory, bool, error) {
	if err := memory.ValidateAddWith(s, content, o); err != nil {
		return memory.Memory{}, false, err
	}
	if o.Keys != "" {
		return memory.Memory{}, false, fmt.Errorf("%w: the Supermemory backend has no hidden search keys (its search is semantic); add without keys",
			memory.ErrUnsupported)
	}
	return b.add(ctx, s, content, o.Metadata, o.Source)
}

// Supersede implements memory.Lifecycle: ErrUnsupported.
func (b *Backend) Supersede(_ context.Context, s memory.Scope, _, content string, o memory.AddOptions) (memory.Memory, error) {
	if err := memory.ValidateAddWith(s, content, o); err != nil {
		return memory.Memory{}, err
	}
	return memory.Memory{}, unsupported("supersede a memory")
}

// Update implements memory.Lifecycle: ErrUnsupported.
func (b *Backend) Update(_ context.Context, s memory.Scope, _, _ string) (memory.Memory, error) {
	if err := s.Validate(); err != nil {
		return memory.Memory{}, err
	}
	return memory.Memory{}, unsupported("edit a memory (forget it and add the new text)")
}

// History implements memory.Lifecycle: ErrUnsupported.
func (b *Backend) History(_ context.Context, s memory.Scope, _ string) ([]memory.Memory, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return nil, unsupported("show a memory's history")
}

// ListWith implements memory.Lifecycle: List (no memory is ever
// superseded, so IncludeSuperseded changes nothing).
func (b *Backend) ListWith(ctx context.Context, s memory.Scope, o memory.ListOptions) ([]memory.Memory, string, error) {
	return b.List(ctx, s, o.Cursor, o.Limit)
}

// sourceMeta is src as document metadata.
func sourceMeta(src memory.Source) map[string]string {
	md := make(map[string]string)
	for k, v := range map[string]string{metaSrcClient: src.Client, metaSrcRequest: src.RequestID, metaSrcSession: src.Session} {
		if v != "" {
			md[k] = v
		}
	}
	if src.Turn > 0 {
		md[metaSrcTurn] = strconv.Itoa(src.Turn)
	}
	return md
}

// sourceOf reads sourceMeta back.
func sourceOf(meta map[string]any) memory.Source {
	str := func(k string) string { v, _ := meta[k].(string); return v }
	turn, _ := strconv.Atoi(str(metaSrcTurn))
	return memory.Source{Client: str(metaSrcClient), RequestID: str(metaSrcRequest), Session: str(metaSrcSession), Turn: max(turn, 0)}
}
