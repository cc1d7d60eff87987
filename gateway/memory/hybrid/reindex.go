package hybrid

import (
	"context"
	"errors"
	"fmt"

	"github.com/memproxy/memproxy/gateway/memory"
)

// probeText is embedded once by Reindex to learn the model and size the
// embedder answers with now.
const probeText = "memproxy embedding probe"

// Progress is reported after each batch Reindex stores.
type Progress struct {
	Model string
	Dims  int
	// Done counts the memories embedded by this run so far; Total is
	// Done plus those left when the run started (0 when the backend
	// cannot count them).
	Done, Total int
}

// MissingCounter is what a backend with memory.Vectors may add so that
// Reindex can report a total: how many MissingVectors would list.
type MissingCounter interface {
	CountMissingVectors(ctx context.Context, model string, dims int) (int, error)
}

// Reindex embeds, batch by batch, every active memory (of every scope)
// that has no vector of the embedder's current model and size: those
// stored while embeddings failed, and all of them after a model change.
// It learns the model and size from one probe embedding. It is resumable:
// a memory embedded stays done, so a run that stops (ctx, an error) is
// continued by the next. progress, when not nil, is called after each
// batch. A batch the embedder refuses ends the run with its error.
func Reindex(ctx context.Context, b memory.Backend, embed Embedder, batch int, progress func(Progress)) (int, error) {
	h, err := New(b, Options{Embed: embed})
	if err != nil {
		return 0, err
	}
	return unwrapHybrid(h).reindex(ctx, batch, progress)
}

func unwrapHybrid(b memory.Backend) *Backend {
	if l, ok := b.(*Lifecycle); ok {
		return l.Backend
	}
	return b.(*Backend)
}

func (b *Backend) reindex(ctx context.Context, batch int, progress func(Progress)) (int, error) {
	if batch <= 0 {
		batch = 64
	}
	vs, model, err := b.o.Embed(ctx, []string{probeText}, TaskDocument)
	if err != nil {
		return 0, fmt.Errorf("probing the embedding model: %w", err)
	}
	if len(vs) != 1 || len(vs[0]) == 0 {
		return 0, errors.New("probing the embedding model: no vector")
	}
	p := Progress{Model: model, Dims: len(vs[0])}
	if c, ok := b.vec.(MissingCounter); ok {
		if p.Total, err = c.CountMissingVectors(ctx, p.Model, p.Dims); err != nil {
			return 0, err
		}
	}
	for {
		us, err := b.vec.MissingVectors(ctx, p.Model, p.Dims, batch)
		if err != nil {
			return p.Done, err
		}
		if len(us) == 0 {
			return p.Done, nil
		}
		got, err := b.embedStore(ctx, us, p.Dims)
		if err != nil {
			return p.Done, err
		}
		p.Done += len(us)
		if progress != nil {
			progress(p)
		}
		if got != p.Model {
			return p.Done, fmt.Errorf("the embedder answered with model %s, then %s: run reindex again once it is stable", p.Model, got)
		}
	}
}
