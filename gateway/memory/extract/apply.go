package extract

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/memproxy/memproxy/gateway/memory"
)

// MetaSource is the "source" metadata of the memories Apply writes (rules
// mode writes "exchange").
const MetaSource = "extraction"

// Apply writes r's decisions to r.Scope of l and returns the memories that
// now hold the facts (none for None). Add stores the fact (AddWith: an
// identical active memory is returned, unchanged); Update and Delete
// supersede the old memory with the fact, or add it when the old memory
// was deleted or superseded since Distil (ErrNotFound, ErrSuperseded), so
// a fact is never lost to a race. Each memory gets r.Source, the fact's
// keys and metadata {"source": MetaSource, "model": r.Model}. A backend
// without supersede links or hidden keys (memory.ErrUnsupported, as
// Supermemory) gets the fact added, without keys if need be. A failed
// write does not stop the others: their errors are joined.
func Apply(ctx context.Context, l memory.Lifecycle, r Result) ([]memory.Memory, error) {
	if err := r.Scope.Validate(); err != nil {
		return nil, err
	}
	var out []memory.Memory
	var errs []error
	for _, op := range r.Ops {
		if op.Action == None {
			continue
		}
		o := memory.AddOptions{Keys: keysText(op.Keys), Source: r.Source,
			Metadata: map[string]string{"source": MetaSource, "model": r.Model}}
		m, err := write(ctx, l, r.Scope, op, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("memory extraction: %s: %w", op.Action, err))
			continue
		}
		out = append(out, m)
	}
	return out, errors.Join(errs...)
}

func write(ctx context.Context, l memory.Lifecycle, s memory.Scope, op Op, o memory.AddOptions) (memory.Memory, error) {
	if (op.Action == Update || op.Action == Delete) && op.OldID != "" {
		m, err := l.Supersede(ctx, s, op.OldID, op.Fact, o)
		if !errors.Is(err, memory.ErrNotFound) && !errors.Is(err, memory.ErrSuperseded) && !errors.Is(err, memory.ErrUnsupported) {
			return m, err
		}
	}
	m, _, err := l.AddWith(ctx, s, op.Fact, o)
	if errors.Is(err, memory.ErrUnsupported) && o.Keys != "" {
		o.Keys = "" // a backend without hidden keys (Supermemory) still gets the fact
		m, _, err = l.AddWith(ctx, s, op.Fact, o)
	}
	return m, err
}

// keysText is how a fact's keys are indexed: one per line, within
// memory.MaxKeysBytes (whole keys only).
func keysText(keys []string) string {
	var b strings.Builder
	for _, k := range keys {
		if b.Len()+len(k)+1 > memory.MaxKeysBytes {
			break
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k)
	}
	return b.String()
}
