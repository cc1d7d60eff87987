// Package embed computes embeddings for the gateway's own use (memory
// recall) through the router, on any deployment that serves them: OpenAI
// and every OpenAI-compatible server (POST /embeddings), and the Gemini
// API (models/{model}:embedContent and :batchEmbedContents). The client
// API's /v1/embeddings passes through elsewhere; this package is for
// callers inside the gateway that want vectors, not bytes.
package embed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/memproxy/memproxy/gateway/llm"
	"github.com/memproxy/memproxy/gateway/provider"
)

// Caller is what Embed needs of the router: provider.Router's Call.
type Caller interface {
	Call(ctx context.Context, model string, attempt func(ctx context.Context, d *provider.Deployment) (*provider.Response, error)) (*provider.Response, *provider.Deployment, int, error)
}

var _ Caller = (*provider.Router)(nil)

// Tasks: what the texts are for. Gemini embeds a search text and a stored
// text differently (taskType RETRIEVAL_QUERY / RETRIEVAL_DOCUMENT); OpenAI
// embeds both the same way.
const (
	TaskQuery    = "query"
	TaskDocument = "document"
)

// Request asks for the embeddings of Inputs from the deployments of Model
// (a model_name of the model list).
type Request struct {
	Model  string
	Inputs []string
	// Dimensions, when > 0, asks for vectors of that size (OpenAI
	// "dimensions", Gemini "outputDimensionality"); every vector returned
	// then has exactly that many values. 0 takes the model's own size.
	Dimensions int
	// Task is TaskQuery or TaskDocument ("" sends no task type).
	Task string
}

// Result holds one vector per input, in input order.
type Result struct {
	Vectors [][]float32
	// Usage counts the input tokens of every call (PromptTokens).
	Usage llm.Usage
	// Estimated is true when an upstream reported no token count (the
	// Gemini API does not) and Usage holds an estimate of one token per
	// four bytes of input for those calls.
	Estimated bool
	// Deployment is the one that answered (the last batch's); every batch
	// was answered by a deployment of the same upstream model. A fallback
	// may answer for another model name: store Deployment.UpstreamModel
	// with the vectors and never compare vectors of two models.
	Deployment *provider.Deployment
	// Attempts counts the upstream calls made, retries included.
	Attempts int
}

// Errors callers branch on; test with errors.Is.
var (
	// ErrBadResponse: the upstream answered 2xx with something that is not
	// one vector per input of the asked size.
	ErrBadResponse = errors.New("embeddings: malformed upstream answer")
	// ErrMixedModels: the batches of one Embed were answered by
	// deployments of different upstream models, whose vectors must not be
	// compared (configure one upstream model per embedding model name).
	ErrMixedModels = errors.New("embeddings: deployments of one model name embed with different upstream models")
	// ErrNoInput: an input is empty or blank (upstreams refuse those).
	ErrNoInput = errors.New("embeddings: empty input")
)

// UpstreamError is an upstream's error answer.
type UpstreamError struct {
	Status  int
	Message string
}

func (e *UpstreamError) Error() string {
	return fmt.Sprintf("embeddings: upstream answered %d: %s", e.Status, e.Message)
}

// Batch sizes: the most inputs one upstream call carries. Gemini's limit
// is documented (100); OpenAI takes 2048, but compatible servers often
// take fewer and a memory write never needs more.
const (
	openAIBatch = 256
	geminiBatch = 100
	// maxAnswer bounds an upstream's answer (256 float vectors of 3072
	// values as JSON text are about 16 MiB).
	maxAnswer = 64 << 20
)

// Embed returns the embeddings of req.Inputs (none for none), in batches
// of at most 256 inputs (100 for Gemini), each through r.Call (so with the
// router's retries, fallbacks and cooldowns). A deployment of the
// Anthropic dialect gives provider.ErrUnsupported. An error status is an
// *UpstreamError; ctx's end stops at once.
//
// On error no vector is returned (the caller retries the whole request),
// but the Result still carries the usage, attempts and deployment of the
// batches that succeeded before, which were billed: record them.
func Embed(ctx context.Context, r Caller, req Request) (Result, error) {
	var res Result
	for _, in := range req.Inputs {
		if strings.TrimSpace(in) == "" {
			return Result{}, ErrNoInput
		}
	}
	fail := func(err error) (Result, error) {
		res.Vectors = nil
		return res, err
	}
	res.Vectors = make([][]float32, 0, len(req.Inputs))
	for start := 0; start < len(req.Inputs); {
		var got batchResult
		resp, dep, n, err := r.Call(ctx, req.Model, func(ctx context.Context, d *provider.Deployment) (*provider.Response, error) {
			var err error
			got, err = attempt(ctx, d, req, start)
			return got.resp, err
		})
		res.Attempts += n
		if err != nil {
			return fail(err)
		}
		if res.Deployment != nil && res.Deployment.UpstreamModel != dep.UpstreamModel {
			resp.Body.Close()
			return fail(fmt.Errorf("%w: %s and %s", ErrMixedModels, res.Deployment.UpstreamModel, dep.UpstreamModel))
		}
		vecs, usage, estimated, err := decode(resp, dep.Dialect, req.Inputs[start:start+got.n], req.Dimensions)
		if err != nil {
			return fail(fmt.Errorf("model %s (%s): %w", req.Model, dep.ProviderName, err))
		}
		res.Deployment = dep
		res.Vectors = append(res.Vectors, vecs...)
		res.Usage.PromptTokens += usage
		res.Estimated = res.Estimated || estimated
		start += got.n
	}
	return res, nil
}

// batchResult is what one attempt sent: how many inputs, and the answer.
type batchResult struct {
	n    int
	resp *provider.Response
}

// attempt sends the batch starting at inputs[start] to d in its dialect.
func attempt(ctx context.Context, d *provider.Deployment, req Request, start int) (batchResult, error) {
	var (
		body []byte
		op   string
		n    int
		err  error
	)
	switch d.Dialect {
	case provider.DialectOpenAI:
		n = min(openAIBatch, len(req.Inputs)-start)
		op = provider.OpEmbeddings
		body, err = openAIBody(d.UpstreamModel, req.Inputs[start:start+n], req.Dimensions)
	case provider.DialectGemini:
		n = min(geminiBatch, len(req.Inputs)-start)
		op, body, err = geminiBody(d.UpstreamModel, req.Inputs[start:start+n], req.Dimensions, req.Task)
	default:
		return batchResult{}, fmt.Errorf("%w: embeddings on a deployment of the %s dialect", provider.ErrUnsupported, d.Dialect)
	}
	if err != nil {
		return batchResult{}, err
	}
	resp, err := d.Provider.Do(ctx, &provider.Request{Op: op, Body: body})
	return batchResult{n: n, resp: resp}, err
}

// decode reads one answer: the vectors, the input tokens, and whether
// those were estimated.
func decode(resp *provider.Response, dialect string, inputs []string, dims int) ([][]float32, int64, bool, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, 0, false, fmt.Errorf("reading the answer: %w", err)
	}
	if len(b) > maxAnswer {
		return nil, 0, false, fmt.Errorf("%w: answer over %d bytes", ErrBadResponse, maxAnswer)
	}
	if resp.Status < 200 || resp.Status >= 300 {
		return nil, 0, false, &UpstreamError{Status: resp.Status, Message: errorMessage(dialect, b, resp.Status)}
	}
	var vecs [][]float32
	var tokens int64
	if dialect == provider.DialectGemini {
		vecs, tokens, err = geminiVectors(b, len(inputs))
	} else {
		vecs, tokens, err = openAIVectors(b, len(inputs))
	}
	if err != nil {
		return nil, 0, false, err
	}
	if err := checkSizes(vecs, dims); err != nil {
		return nil, 0, false, err
	}
	if tokens > 0 {
		return vecs, tokens, false, nil
	}
	for _, in := range inputs {
		tokens += int64(max(1, (len(in)+3)/4))
	}
	return vecs, tokens, true, nil
}

// checkSizes requires vectors of one size, dims when asked, none empty.
func checkSizes(vecs [][]float32, dims int) error {
	for i, v := range vecs {
		switch {
		case len(v) == 0:
			return fmt.Errorf("%w: vector %d is empty", ErrBadResponse, i)
		case dims > 0 && len(v) != dims:
			return fmt.Errorf("%w: vector %d has %d values, asked for %d (does the model take a dimension?)", ErrBadResponse, i, len(v), dims)
		case len(v) != len(vecs[0]):
			return fmt.Errorf("%w: vectors of %d and %d values in one answer", ErrBadResponse, len(vecs[0]), len(v))
		}
	}
	return nil
}

// errorMessage extracts an upstream error's message, or names the status.
func errorMessage(dialect string, b []byte, status int) string {
	if dialect == provider.DialectGemini {
		if msg, _, ok := geminiError(b); ok {
			return msg
		}
	} else if msg, ok := openAIError(b); ok {
		return msg
	}
	return http.StatusText(status)
}
