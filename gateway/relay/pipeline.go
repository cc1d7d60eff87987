// Package relay is the gateway's request pipeline: it serves the
// completion endpoints of every client dialect (and the OpenAI-only and
// token-counting ones), from the body read through routing, limits,
// memory retrieval and injection, the response cache and the tool loop,
// to the model call, the answer relayed to the client and the turn
// written back to memory. The Tracker (gateway/track) around each handler
// turns what the pipeline learns into the request's usage row.
package relay

import (
	"log/slog"
	"time"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/cache"
	"github.com/memproxy/memproxy/gateway/limits"
	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/extract"
	"github.com/memproxy/memproxy/gateway/memory/writeback"
	"github.com/memproxy/memproxy/gateway/pricing"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/usage"
)

// Deps are what the pipeline works with; the gateway's wiring builds them.
type Deps struct {
	Config *config.Gateway
	Log    *slog.Logger
	// Memory configures retrieval and write-back (nil: off); Tools the
	// server-side tool loop (nil: off).
	Memory  *memory.Options
	Tools   *ToolOptions
	Models  *provider.Table
	Router  *provider.Router
	Prices  *pricing.Table
	Cache   cache.Cache
	Limiter limits.Limiter
	// Usage takes the rows of the gateway's own calls (extraction,
	// embeddings); a request's own row is the Tracker's.
	Usage   *usage.Queue
	MaxBody int64
}

// Pipeline serves the completion endpoints.
type Pipeline struct {
	Deps
	// Writes queues memory write-backs, durably (nil when memory is off);
	// Extractor distils finished turns into facts (nil: rules mode). The
	// wiring sets both after New: each calls back into the pipeline.
	Writes    *writeback.Queue
	Extractor *extract.Extractor
	turns     turnCache // recent agent turns: their retrieval, and whether written back
}

// New returns the pipeline over d.
func New(d Deps) *Pipeline {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{Deps: d}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
