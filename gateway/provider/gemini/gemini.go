// Package gemini is the adapter for the Gemini API
// (generativelanguage.googleapis.com) and for routers that speak it at
// another address (the Supermemory memory router: api_base
// https://api.supermemory.ai/v3/generativelanguage.googleapis.com/v1beta).
//
// The Gemini API names the model in the URL, not the body, and
// provider.Request carries no model: an Adapter serves one deployment and
// is told its upstream model in Options.Model.
package gemini

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/provider"
)

// DefaultBaseURL is the Gemini API root used when Options.BaseURL is empty.
const DefaultBaseURL = "https://generativelanguage.googleapis.com/v1beta"

// Options configure an adapter.
type Options struct {
	// BaseURL is the API root including its version, e.g.
	// https://generativelanguage.googleapis.com/v1beta (the default).
	BaseURL string
	// Model is the upstream model of the deployment, e.g.
	// "gemini-2.5-flash"; a leading "models/" is accepted.
	Model string
	// APIKey is sent in the x-goog-api-key header, never in the URL
	// (URLs end up in logs); empty sends none (a router authenticated by
	// Header).
	APIKey string
	// Header holds extra headers the operator configured (extra_headers).
	Header http.Header
	// Timeout bounds the wait for the response headers (default 10 min).
	Timeout time.Duration
	// Client overrides the HTTP client (tests); nil uses a shared default.
	// Redirects are refused whatever it says.
	Client *http.Client
}

// Adapter implements provider.Provider for generateContent.
type Adapter struct {
	opts  Options
	base  string
	model string
	http  *provider.HTTP
}

var _ provider.Provider = (*Adapter)(nil)

// ErrNoModel is returned (wrapped) by Do when the adapter was built
// without Options.Model.
var ErrNoModel = errors.New("gemini: no upstream model configured")

// New returns an adapter for opts.
func New(opts Options) *Adapter {
	base := strings.TrimRight(opts.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	return &Adapter{opts: opts, base: base, model: strings.TrimPrefix(opts.Model, "models/"),
		http: provider.NewHTTP(opts.Client, opts.Timeout)}
}

// Do implements provider.Provider for provider.OpChat, whose Body must
// already be a Gemini GenerateContentRequest (translate.OpenAIChatToGemini
// makes one). It posts to {base}/models/{model}:generateContent, or, for a
// stream, :streamGenerateContent?alt=sse, whose events are
// GenerateContentResponse objects. provider.OpEmbedContent and
// provider.OpBatchEmbedContents post their body (an api/gemini
// EmbedContentRequest or BatchEmbedContentsRequest) to
// {base}/models/{model}:embedContent or :batchEmbedContents. The caller's Authorization and
// x-goog-api-key headers are not passed on; the operator's extra headers
// are, and APIKey goes in x-goog-api-key. Gemini's errors come back
// as responses with their status and Google's error envelope (see
// api/gemini.ParseError).
func (a *Adapter) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	var method string
	switch {
	case req.Op == provider.OpChat && req.Stream:
		method = ":streamGenerateContent?alt=sse"
	case req.Op == provider.OpChat:
		method = ":generateContent"
	case req.Op == provider.OpEmbedContent && !req.Stream:
		method = ":embedContent"
	case req.Op == provider.OpBatchEmbedContents && !req.Stream:
		method = ":batchEmbedContents"
	default:
		return nil, fmt.Errorf("%w: %s", provider.ErrUnsupported, req.Op)
	}
	if a.model == "" {
		return nil, ErrNoModel
	}
	u := a.base + "/models/" + url.PathEscape(a.model) + method
	caller := req.Header.Clone() // the client's credentials for the gateway stay here
	caller.Del("Authorization")
	caller.Del("X-Goog-Api-Key")
	h := provider.MergeHeaders(caller, a.opts.Header)
	if a.opts.APIKey != "" {
		h.Set("X-Goog-Api-Key", a.opts.APIKey)
	}
	return a.http.Post(ctx, u, req.Body, h, req.Stream)
}
