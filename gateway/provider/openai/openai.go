// Package openai is the adapter for OpenAI and every server that speaks its
// wire format (vLLM, Ollama, OpenRouter, Groq, DeepSeek, LM Studio, …).
package openai

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/provider"
)

// Options configure an adapter.
type Options struct {
	// BaseURL is the API root, e.g. https://api.openai.com/v1.
	BaseURL string
	// APIKey is sent as a Bearer token; empty sends none (local servers).
	APIKey string
	// Header holds extra headers the operator configured (extra_headers).
	Header http.Header
	// Timeout bounds the wait for the response headers (default 10 min).
	Timeout time.Duration
	// Client overrides the HTTP client (tests); nil uses a shared default.
	// Redirects are refused whatever it says.
	Client *http.Client
	// Ops lists the operations the server offers (default: chat
	// completions, completions, embeddings; OpenAI itself adds responses).
	Ops []string
}

// Adapter implements provider.Provider over HTTP.
type Adapter struct {
	opts Options
	base string
	http *provider.HTTP
	ops  map[string]bool
}

var _ provider.Provider = (*Adapter)(nil)

// New returns an adapter for opts.
func New(opts Options) *Adapter {
	if len(opts.Ops) == 0 {
		opts.Ops = []string{provider.OpChat, provider.OpCompletions, provider.OpEmbeddings}
	}
	a := &Adapter{opts: opts, base: strings.TrimRight(opts.BaseURL, "/"), http: provider.NewHTTP(opts.Client, opts.Timeout), ops: map[string]bool{}}
	for _, op := range opts.Ops {
		a.ops[op] = true
	}
	return a
}

// Do implements provider.Provider: it posts the body to <base>/<op>.
func (a *Adapter) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if !a.ops[req.Op] {
		return nil, fmt.Errorf("%w: %s", provider.ErrUnsupported, req.Op)
	}
	h := provider.MergeHeaders(req.Header, a.opts.Header)
	if a.opts.APIKey != "" {
		h.Set("Authorization", "Bearer "+a.opts.APIKey)
	}
	return a.http.Post(ctx, a.base+"/"+req.Op, req.Body, h, req.Stream)
}
