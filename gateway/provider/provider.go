// Package provider declares how the gateway talks to an LLM provider and
// holds the table of configured deployments. Each adapter lives in its own
// subpackage and implements Provider.
package provider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"time"
)

// Request is one upstream call. Body is already in the provider's dialect
// and names the upstream model.
type Request struct {
	// Op names the operation, e.g. OpChat.
	Op     string
	Body   []byte
	Stream bool
	// Header holds extra request headers to pass upstream (never
	// credentials: the adapter sets those from its own config).
	Header http.Header
}

// Operations a Provider may support, named by their OpenAI-style path.
const (
	OpChat        = "chat/completions"
	OpCompletions = "completions"
	OpEmbeddings  = "embeddings"
	OpResponses   = "responses"
	OpMessages    = "messages"              // Anthropic Messages API
	OpCountTokens = "messages/count_tokens" // Anthropic token counting
	// Gemini embeddings (api/gemini EmbedContentRequest and
	// BatchEmbedContentsRequest bodies).
	OpEmbedContent       = "embedContent"
	OpBatchEmbedContents = "batchEmbedContents"
)

// Response is the provider's answer. The caller must close Body. For a
// streaming request Body yields the stream as it arrives.
type Response struct {
	Status int
	Header http.Header
	Body   io.ReadCloser
}

// Provider performs upstream calls. Do returns a non-nil error only when no
// HTTP answer was had (connection refused, timeout, cancelled); an HTTP
// error status is a Response. Cancelling ctx aborts the call, including a
// stream being read.
type Provider interface {
	Do(ctx context.Context, req *Request) (*Response, error)
}

// ErrUnsupported is returned (wrapped) by Do for an operation the adapter
// does not implement.
var ErrUnsupported = errors.New("operation not supported by this provider")

// ErrTimeout is returned (wrapped) by Do when the upstream did not answer
// within the deployment's timeout.
var ErrTimeout = errors.New("upstream did not answer in time")

// The API dialects deployments serve.
const (
	DialectOpenAI    = "openai"    // chat completions (OpenAI and compatibles, mock)
	DialectAnthropic = "anthropic" // Messages API
	DialectGemini    = "gemini"    // generateContent
)

// Deployment is one entry of the model list: the public name clients use,
// the upstream model it maps to, and the adapter that reaches it.
type Deployment struct {
	ModelName     string
	UpstreamModel string
	ProviderName  string
	// Dialect is the API the deployment speaks (a Dialect* constant).
	Dialect string
	// Responses is true when the deployment also serves OpenAI's
	// Responses API natively (OpenAI itself).
	Responses bool
	// Supermemory is true behind the Supermemory memory router, which
	// needs the memory scope as x-sm-user-id.
	Supermemory bool
	Provider    Provider
	// StreamIdle ends a stream that sends nothing for this long (0: never).
	StreamIdle time.Duration
}

// Table finds deployments by public model name. Several deployments may
// share a name (the router spreads calls over them). A Table is immutable
// once built and safe for concurrent use.
type Table struct {
	byName map[string][]*Deployment
	names  []string
}

// NewTable builds a table; the order of deps is the order Names and All
// report.
func NewTable(deps []*Deployment) *Table {
	t := &Table{byName: make(map[string][]*Deployment, len(deps))}
	for _, d := range deps {
		if _, dup := t.byName[d.ModelName]; !dup {
			t.names = append(t.names, d.ModelName)
		}
		t.byName[d.ModelName] = append(t.byName[d.ModelName], d)
	}
	return t
}

// Lookup returns the first deployment serving model, if any.
func (t *Table) Lookup(model string) (*Deployment, bool) {
	if ds := t.byName[model]; len(ds) > 0 {
		return ds[0], true
	}
	return nil, false
}

// All returns every deployment serving model in config order (a copy);
// nil if none does.
func (t *Table) All(model string) []*Deployment { return slices.Clone(t.byName[model]) }

// Names lists the public model names in config order, each once.
func (t *Table) Names() []string { return t.names }
