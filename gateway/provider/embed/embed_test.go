package embed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/provider/gemini"
	"github.com/memproxy/memproxy/gateway/provider/mock"
	"github.com/memproxy/memproxy/gateway/provider/openai"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// router builds a one-deployment router over the fake in dialect.
func router(t *testing.T, f *providertest.Embeddings, dialect string, opts provider.RouterOptions) *provider.Router {
	t.Helper()
	d := &provider.Deployment{ModelName: "emb", ProviderName: dialect, Dialect: dialect}
	switch dialect {
	case provider.DialectOpenAI:
		d.UpstreamModel = "text-embedding-3-small"
		d.Provider = openai.New(openai.Options{BaseURL: f.URL + "/v1", APIKey: "sk-upstream"})
	case provider.DialectGemini:
		d.UpstreamModel = "gemini-embedding-001"
		d.Provider = gemini.New(gemini.Options{BaseURL: f.URL + "/v1beta", Model: d.UpstreamModel, APIKey: "AIza-upstream"})
	}
	return provider.NewRouter(provider.NewTable([]*provider.Deployment{d}), opts)
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("memory number %d about deploys", i)
	}
	return out
}

// want is what the fake's vector for in is after the dialect's
// dimension handling.
func want(dialect, in string, dims int) []float32 {
	v := providertest.HashVector(in)
	if dims == 0 {
		return v
	}
	if dialect == provider.DialectGemini {
		return v[:dims]
	}
	var n float64
	for _, x := range v[:dims] {
		n += float64(x) * float64(x)
	}
	out := slices.Clone(v[:dims])
	for i := range out {
		out[i] = float32(float64(out[i]) / math.Sqrt(n))
	}
	return out
}

func TestEmbedDialects(t *testing.T) {
	tests := []struct {
		name      string
		dialect   string
		inputs    int
		dims      int
		task      string
		floats    bool
		wantPaths []string
	}{
		{"openai one", provider.DialectOpenAI, 1, 0, TaskQuery, false, []string{"/v1/embeddings"}},
		{"openai dims", provider.DialectOpenAI, 3, 16, TaskDocument, false, []string{"/v1/embeddings"}},
		{"openai floats", provider.DialectOpenAI, 2, 0, "", true, []string{"/v1/embeddings"}},
		{"openai batches", provider.DialectOpenAI, 300, 8, TaskDocument, false, []string{"/v1/embeddings", "/v1/embeddings"}},
		{"gemini one", provider.DialectGemini, 1, 32, TaskQuery, false, []string{"/v1beta/models/gemini-embedding-001:embedContent"}},
		{"gemini batch", provider.DialectGemini, 150, 0, TaskDocument, false,
			[]string{"/v1beta/models/gemini-embedding-001:batchEmbedContents", "/v1beta/models/gemini-embedding-001:batchEmbedContents"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := providertest.NewEmbeddings(t)
			f.FloatsOnly = tt.floats
			in := texts(tt.inputs)
			res, err := Embed(t.Context(), router(t, f, tt.dialect, provider.RouterOptions{}),
				Request{Model: "emb", Inputs: in, Dimensions: tt.dims, Task: tt.task})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Vectors) != len(in) {
				t.Fatalf("%d vectors for %d inputs", len(res.Vectors), len(in))
			}
			for i, v := range res.Vectors {
				w := want(tt.dialect, in[i], tt.dims)
				if !near(v, w) {
					t.Fatalf("vector %d = %v; want %v", i, v, w)
				}
			}
			var paths []string
			for _, r := range f.Requests() {
				paths = append(paths, r.Path)
			}
			if !slices.Equal(paths, tt.wantPaths) {
				t.Errorf("paths %v; want %v", paths, tt.wantPaths)
			}
			tokens, estimated := int64(0), tt.dialect == provider.DialectGemini
			for _, s := range in {
				if estimated {
					tokens += int64((len(s) + 3) / 4)
				} else {
					tokens += int64(providertest.EmbedTokens(s))
				}
			}
			if res.Usage.PromptTokens != tokens || res.Estimated != estimated {
				t.Errorf("usage %d (estimated %v); want %d (%v)", res.Usage.PromptTokens, res.Estimated, tokens, estimated)
			}
			if res.Attempts != len(tt.wantPaths) || res.Deployment == nil || res.Deployment.ModelName != "emb" {
				t.Errorf("attempts %d, deployment %v", res.Attempts, res.Deployment)
			}
			checkWire(t, f.Requests()[0], tt.dialect, tt.dims, tt.task)
		})
	}
}

// checkWire checks the first request's body and credentials.
func checkWire(t *testing.T, r providertest.Recorded, dialect string, dims int, task string) {
	t.Helper()
	if dialect == provider.DialectOpenAI {
		if r.Header.Get("Authorization") != "Bearer sk-upstream" || r.Body["model"] != "text-embedding-3-small" ||
			r.Body["encoding_format"] != "base64" {
			t.Errorf("request %v %v", r.Header, r.Body)
		}
		if got, _ := r.Body["dimensions"].(float64); int(got) != dims {
			t.Errorf("dimensions %v; want %d", r.Body["dimensions"], dims)
		}
		return
	}
	if r.Header.Get("X-Goog-Api-Key") != "AIza-upstream" {
		t.Errorf("api key header %q", r.Header.Get("X-Goog-Api-Key"))
	}
	one := r.Body
	if reqs, ok := r.Body["requests"].([]any); ok {
		one, _ = reqs[0].(map[string]any)
	}
	wantTask := map[string]string{TaskQuery: "RETRIEVAL_QUERY", TaskDocument: "RETRIEVAL_DOCUMENT"}[task]
	if got, _ := one["taskType"].(string); got != wantTask || one["model"] != "models/gemini-embedding-001" {
		t.Errorf("request %v; want taskType %q", one, wantTask)
	}
	if got, _ := one["outputDimensionality"].(float64); int(got) != dims {
		t.Errorf("outputDimensionality %v; want %d", one["outputDimensionality"], dims)
	}
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := a[i] - b[i]; d > 1e-6 || d < -1e-6 {
			return false
		}
	}
	return true
}

func TestEmbedUpstreamErrors(t *testing.T) {
	for _, dialect := range []string{provider.DialectOpenAI, provider.DialectGemini} {
		t.Run(dialect, func(t *testing.T) {
			f := providertest.NewEmbeddings(t)
			f.Status = http.StatusServiceUnavailable
			r := router(t, f, dialect, provider.RouterOptions{Retries: 1, Sleep: func(context.Context, time.Duration) error { return nil }})
			res, err := Embed(t.Context(), r, Request{Model: "emb", Inputs: []string{"a", "b"}})
			var ue *UpstreamError
			if !errors.As(err, &ue) || ue.Status != 503 || ue.Message != "fake upstream failure" {
				t.Fatalf("err %v; want the upstream's 503 and message", err)
			}
			if len(f.Requests()) != 2 || res.Vectors != nil {
				t.Errorf("%d requests (want 2: one retry), result %v", len(f.Requests()), res)
			}
		})
	}
	t.Run("bad request not retried", func(t *testing.T) {
		f := providertest.NewEmbeddings(t)
		_, err := Embed(t.Context(), router(t, f, provider.DialectOpenAI, provider.RouterOptions{Retries: 3}),
			Request{Model: "emb", Inputs: []string{"a"}, Dimensions: providertest.EmbedDims + 1})
		var ue *UpstreamError
		if !errors.As(err, &ue) || ue.Status != 400 || !strings.Contains(ue.Message, "dimensions") || len(f.Requests()) != 1 {
			t.Fatalf("err %v after %d requests; want one 400 naming dimensions", err, len(f.Requests()))
		}
	})
	t.Run("no deployment", func(t *testing.T) {
		f := providertest.NewEmbeddings(t)
		if _, err := Embed(t.Context(), router(t, f, provider.DialectOpenAI, provider.RouterOptions{}), Request{Model: "other", Inputs: []string{"a"}}); !errors.Is(err, provider.ErrNoDeployment) {
			t.Fatalf("err %v; want ErrNoDeployment", err)
		}
	})
	t.Run("empty input", func(t *testing.T) {
		f := providertest.NewEmbeddings(t)
		if _, err := Embed(t.Context(), router(t, f, provider.DialectOpenAI, provider.RouterOptions{}), Request{Model: "emb", Inputs: []string{"a", " \n"}}); !errors.Is(err, ErrNoInput) || len(f.Requests()) != 0 {
			t.Fatalf("err %v; want ErrNoInput before any request", err)
		}
	})
}

func TestEmbedUnsupportedDialect(t *testing.T) {
	d := &provider.Deployment{ModelName: "claude", UpstreamModel: "claude-x", Dialect: provider.DialectAnthropic, Provider: mock.Adapter{}}
	r := provider.NewRouter(provider.NewTable([]*provider.Deployment{d}), provider.RouterOptions{Retries: 2})
	res, err := Embed(t.Context(), r, Request{Model: "claude", Inputs: []string{"a"}})
	if !errors.Is(err, provider.ErrUnsupported) || res.Attempts != 1 { // tried once, not retried
		t.Fatalf("err %v, attempts %d; want ErrUnsupported after one attempt", err, res.Attempts)
	}
}

func TestEmbedMock(t *testing.T) {
	d := &provider.Deployment{ModelName: "mock-embed", UpstreamModel: "mock", Dialect: provider.DialectOpenAI, Provider: mock.Adapter{}}
	r := provider.NewRouter(provider.NewTable([]*provider.Deployment{d}), provider.RouterOptions{})
	res, err := Embed(t.Context(), r, Request{Model: "mock-embed", Inputs: []string{"a b", "c"}})
	if err != nil || len(res.Vectors) != 2 || len(res.Vectors[0]) != 8 || near(res.Vectors[0], res.Vectors[1]) {
		t.Fatalf("res %v, err %v; want two different 8-value vectors", res.Vectors, err)
	}
	res, err = Embed(t.Context(), r, Request{Model: "mock-embed", Inputs: []string{"a b"}, Dimensions: 16})
	if err != nil || len(res.Vectors[0]) != 16 || res.Estimated {
		t.Fatalf("dimensions 16: %v, %v", res, err)
	}
}

// TestEmbedMalformed feeds answers no vector can be read from.
func TestEmbedMalformed(t *testing.T) {
	for name, answer := range map[string]string{
		"too few":        `{"data":[{"index":0,"embedding":[1,2]}]}`,
		"repeated index": `{"data":[{"index":0,"embedding":[1,2]},{"index":0,"embedding":[1,2]}]}`,
		"sizes differ":   `{"data":[{"index":0,"embedding":[1,2]},{"index":1,"embedding":[1]}]}`,
		"empty vector":   `{"data":[{"index":0,"embedding":[]},{"index":1,"embedding":[]}]}`,
		"bad base64":     `{"data":[{"index":0,"embedding":"AAA"},{"index":1,"embedding":"AAA"}]}`,
		"NaN in base64":  `{"data":[{"index":0,"embedding":"AADAfw=="},{"index":1,"embedding":"AADAfw=="}]}`,
		"not JSON":       `<html>`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, answer) }))
			t.Cleanup(srv.Close)
			d := &provider.Deployment{ModelName: "emb", UpstreamModel: "m", Dialect: provider.DialectOpenAI, Provider: openai.New(openai.Options{BaseURL: srv.URL})}
			r := provider.NewRouter(provider.NewTable([]*provider.Deployment{d}), provider.RouterOptions{})
			if _, err := Embed(t.Context(), r, Request{Model: "emb", Inputs: []string{"a", "b"}}); !errors.Is(err, ErrBadResponse) {
				t.Fatalf("err %v; want ErrBadResponse", err)
			}
		})
	}
}

// alternating answers each call from the next of its deployments.
type alternating struct {
	deps []*provider.Deployment
	n    int
}

func (a *alternating) Call(ctx context.Context, _ string, attempt func(context.Context, *provider.Deployment) (*provider.Response, error)) (*provider.Response, *provider.Deployment, int, error) {
	d := a.deps[a.n%len(a.deps)]
	a.n++
	resp, err := attempt(ctx, d)
	return resp, d, 1, err
}

func TestEmbedRefusesMixedModels(t *testing.T) {
	f := providertest.NewEmbeddings(t)
	p := openai.New(openai.Options{BaseURL: f.URL + "/v1"})
	c := &alternating{deps: []*provider.Deployment{
		{ModelName: "emb", UpstreamModel: "text-embedding-3-small", Dialect: provider.DialectOpenAI, Provider: p},
		{ModelName: "emb", UpstreamModel: "nomic-embed-text", Dialect: provider.DialectOpenAI, Provider: p},
	}}
	if _, err := Embed(t.Context(), c, Request{Model: "emb", Inputs: texts(openAIBatch + 1)}); !errors.Is(err, ErrMixedModels) {
		t.Fatalf("err %v; want ErrMixedModels", err)
	}
}

func TestEmbedCancelled(t *testing.T) {
	f := providertest.NewEmbeddings(t)
	f.Hold = make(chan struct{})
	f.Arrived = make(chan struct{}, 1)
	defer close(f.Hold)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := Embed(ctx, router(t, f, provider.DialectGemini, provider.RouterOptions{Retries: 2}), Request{Model: "emb", Inputs: []string{"a"}})
		done <- err
	}()
	select {
	case <-f.Arrived:
	case err := <-done:
		t.Fatalf("Embed returned %v before the upstream answered", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v; want context.Canceled", err)
	}
	<-f.Cancelled() // the upstream saw the call abandoned
}

// TestEmbedIndexOrder: OpenAI-style answers are placed by their index,
// not by their order in data.
func TestEmbedIndexOrder(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"data":[{"index":1,"embedding":[0,1]},{"index":0,"embedding":[1,0]}],"usage":{"prompt_tokens":7}}`)
	}))
	t.Cleanup(srv.Close)
	d := &provider.Deployment{ModelName: "emb", UpstreamModel: "m", Dialect: provider.DialectOpenAI, Provider: openai.New(openai.Options{BaseURL: srv.URL})}
	res, err := Embed(t.Context(), provider.NewRouter(provider.NewTable([]*provider.Deployment{d}), provider.RouterOptions{}),
		Request{Model: "emb", Inputs: []string{"first", "second"}})
	if err != nil || !near(res.Vectors[0], []float32{1, 0}) || !near(res.Vectors[1], []float32{0, 1}) || res.Usage.PromptTokens != 7 {
		t.Fatalf("res %+v, err %v; want [1 0], [0 1] and 7 tokens", res, err)
	}
}

// TestEmbedPartialUsage: when a later batch fails, the usage of the
// batches already answered (and billed) is still returned.
func TestEmbedPartialUsage(t *testing.T) {
	good, bad := providertest.NewEmbeddings(t), providertest.NewEmbeddings(t)
	bad.Status = http.StatusInternalServerError
	c := &alternating{deps: []*provider.Deployment{
		{ModelName: "emb", UpstreamModel: "m", Dialect: provider.DialectOpenAI, Provider: openai.New(openai.Options{BaseURL: good.URL + "/v1"})},
		{ModelName: "emb", UpstreamModel: "m", Dialect: provider.DialectOpenAI, Provider: openai.New(openai.Options{BaseURL: bad.URL + "/v1"})},
	}}
	in := texts(openAIBatch + 1)
	res, err := Embed(t.Context(), c, Request{Model: "emb", Inputs: in})
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Status != 500 {
		t.Fatalf("err %v; want the second batch's 500", err)
	}
	want := int64(0)
	for _, s := range in[:openAIBatch] {
		want += int64(providertest.EmbedTokens(s))
	}
	if res.Vectors != nil || res.Usage.PromptTokens != want || res.Attempts != 2 || res.Deployment == nil {
		t.Errorf("result %d vectors, %d tokens, %d attempts, deployment %v; want none, %d, 2, the first batch's",
			len(res.Vectors), res.Usage.PromptTokens, res.Attempts, res.Deployment, want)
	}
}
