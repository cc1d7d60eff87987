package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/provider"
)

// instant is a provider that answers at once with a fixed completion, so
// that a benchmark measures the gateway's own work.
type instant struct{ body []byte }

func (p instant) Do(context.Context, *provider.Request) (*provider.Response, error) {
	return &provider.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(p.body))}, nil
}

// BenchmarkHotPath measures one non-streaming request through the shared
// handler: key check, identity, body checks, routing, model rewrite, relay,
// and the usage row's enqueue (written to SQLite by the background writer).
// Target: ≤ 50 µs and ≤ 100 allocations per request.
//
// BenchmarkHotPath is the proxy's own cost per request: authentication,
// routing, the relay and the usage row, with memory off (the embedded
// defaults turn it on; BenchmarkHotPathMemory measures it on).
func BenchmarkHotPath(b *testing.B) { benchHotPath(b, false) }

// BenchmarkHotPathMemory adds memory at its defaults: the turn's
// retrieval from the local store (empty), injection and write-back.
func BenchmarkHotPathMemory(b *testing.B) { benchHotPath(b, true) }

func benchHotPath(b *testing.B, memoryOn bool) {
	cfg := config.Default()
	cfg.Memory.Enabled = memoryOn
	srv, err := New(context.Background(), Options{Config: cfg, DataDir: b.TempDir(), MasterKey: "sk-bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	answer := []byte(`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`)
	srv.models = provider.NewTable([]*provider.Deployment{{ModelName: "fast", UpstreamModel: "fast-up", ProviderName: "bench", Dialect: provider.DialectOpenAI, Provider: instant{answer}}})
	srv.router = provider.NewRouter(srv.models, provider.RouterOptions{})
	srv.pipe.Models, srv.pipe.Router = srv.models, srv.router
	body := []byte(`{"model":"fast","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello to the benchmark."}],"temperature":0.2}`)
	h := srv.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk-bench")
		req.Header.Set("User-Agent", "OpenAI/Python 1.55.0")
		req.Header.Set("X-Memory-Project", "shop")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.StopTimer()
	_ = srv.usage.Close(context.Background())
}
