// Package anthropic is the adapter for the Anthropic Messages API, and for
// routers that speak it at another address (the Supermemory memory router:
// api_base https://api.supermemory.ai/v3/api.anthropic.com).
package anthropic

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/provider"
)

// DefaultVersion is the anthropic-version sent when the client sent none.
const DefaultVersion = "2023-06-01"

// Options configure an adapter.
type Options struct {
	// BaseURL is the API root without /v1, e.g. https://api.anthropic.com.
	BaseURL string
	APIKey  string
	// Header holds extra headers the operator configured (extra_headers).
	Header  http.Header
	Timeout time.Duration
	Client  *http.Client
}

// Adapter implements provider.Provider for the Messages API.
type Adapter struct {
	opts Options
	base string
	http *provider.HTTP
}

var _ provider.Provider = (*Adapter)(nil)

// New returns an adapter for opts.
func New(opts Options) *Adapter {
	return &Adapter{opts: opts, base: strings.TrimRight(opts.BaseURL, "/"), http: provider.NewHTTP(opts.Client, opts.Timeout)}
}

// Do implements provider.Provider for OpMessages and OpCountTokens. The
// caller's anthropic-version and anthropic-beta headers pass unchanged;
// anthropic-version defaults to DefaultVersion.
func (a *Adapter) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if req.Op != provider.OpMessages && req.Op != provider.OpCountTokens {
		return nil, fmt.Errorf("%w: %s", provider.ErrUnsupported, req.Op)
	}
	h := provider.MergeHeaders(req.Header, a.opts.Header)
	h.Del("Authorization")
	h.Set("X-Api-Key", a.opts.APIKey)
	if h.Get("Anthropic-Version") == "" {
		h.Set("Anthropic-Version", DefaultVersion)
	}
	return a.http.Post(ctx, a.base+"/v1/"+req.Op, req.Body, h, req.Stream)
}
