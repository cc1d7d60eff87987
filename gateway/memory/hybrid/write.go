package hybrid

import (
	"context"
	"errors"
	"fmt"

	"github.com/memproxy/memproxy/gateway/memory"
)

// Add implements memory.Backend: the memory is stored, then embedded
// (when new). An embedding failure is logged and leaves the memory
// without a vector (Reindex embeds it); it is never Add's error.
func (b *Backend) Add(ctx context.Context, s memory.Scope, content string, meta map[string]string) (memory.Memory, bool, error) {
	m, created, err := b.inner.Add(ctx, s, content, meta)
	if err == nil && created {
		b.embed(ctx, s, m)
	}
	return m, created, err
}

// embed stores m's vector, or logs why not.
func (b *Backend) embed(ctx context.Context, s memory.Scope, m memory.Memory) {
	if _, err := b.embedStore(ctx, []memory.Unembedded{{Scope: s, Memory: m}}, 0); err != nil {
		b.o.Logger.Warn("memory stored without a vector; memgateway memory reindex embeds it", "memory_id", m.ID, "err", err)
	}
}

// embedStore embeds the memories' contents in one call and stores each
// vector under the model that made it, which it returns. dims > 0
// requires vectors of that size.
func (b *Backend) embedStore(ctx context.Context, us []memory.Unembedded, dims int) (string, error) {
	texts := make([]string, len(us))
	for i, u := range us {
		texts[i] = u.Memory.Content
	}
	vs, model, err := b.o.Embed(ctx, texts, TaskDocument)
	if err != nil {
		return "", fmt.Errorf("embedding: %w", err)
	}
	if len(vs) != len(us) {
		return "", fmt.Errorf("embedding: %d vectors for %d texts", len(vs), len(us))
	}
	for i, u := range us {
		if dims > 0 && len(vs[i]) != dims {
			return "", fmt.Errorf("embedding: a vector of %d values, want %d", len(vs[i]), dims)
		}
		// A memory deleted since it was listed has nothing to attach to.
		if err := b.vec.PutVector(ctx, u.Scope, u.Memory.ID, model, vs[i]); err != nil && !errors.Is(err, memory.ErrNotFound) {
			return "", err
		}
	}
	return model, nil
}

// Lifecycle is a hybrid Backend over a memory.Lifecycle: the memories
// AddWith, Supersede and Update write are embedded as Add's are.
type Lifecycle struct {
	*Backend
	l memory.Lifecycle
}

var (
	_ memory.Lifecycle = (*Lifecycle)(nil)
	_ memory.Backend   = (*Backend)(nil)
)

// AddWith implements memory.Lifecycle.
func (h *Lifecycle) AddWith(ctx context.Context, s memory.Scope, content string, o memory.AddOptions) (memory.Memory, bool, error) {
	m, created, err := h.l.AddWith(ctx, s, content, o)
	if err == nil && created {
		h.embed(ctx, s, m)
	}
	return m, created, err
}

// Supersede implements memory.Lifecycle: the memory that now holds the
// fact is embedded unless it is the old one.
func (h *Lifecycle) Supersede(ctx context.Context, s memory.Scope, oldID, content string, o memory.AddOptions) (memory.Memory, error) {
	m, err := h.l.Supersede(ctx, s, oldID, content, o)
	if err == nil && m.ID != oldID {
		h.embed(ctx, s, m)
	}
	return m, err
}

// Update implements memory.Lifecycle, embedding as Supersede.
func (h *Lifecycle) Update(ctx context.Context, s memory.Scope, id, content string) (memory.Memory, error) {
	m, err := h.l.Update(ctx, s, id, content)
	if err == nil && m.ID != id {
		h.embed(ctx, s, m)
	}
	return m, err
}

// History implements memory.Lifecycle.
func (h *Lifecycle) History(ctx context.Context, s memory.Scope, id string) ([]memory.Memory, error) {
	return h.l.History(ctx, s, id)
}

// ListWith implements memory.Lifecycle.
func (h *Lifecycle) ListWith(ctx context.Context, s memory.Scope, o memory.ListOptions) ([]memory.Memory, string, error) {
	return h.l.ListWith(ctx, s, o)
}
