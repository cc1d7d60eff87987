package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// rewrite sends every request to target, keeping what the gateway chose
// for the path and headers, and records the URL it was meant for.
type rewrite struct {
	target *url.URL
	seen   []string
}

func (rw *rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	rw.seen = append(rw.seen, r.URL.String())
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = rw.target.Scheme, rw.target.Host
	r.URL.Path = strings.TrimPrefix(r.URL.Path, "/v3/api.anthropic.com")
	return http.DefaultTransport.RoundTrip(r)
}

// TestSupermemoryRouterGetsScope: a deployment behind the Supermemory
// router (the seed's claude-sonnet-4.5) is called at the router's address
// with the operator's Supermemory key and the request's scope.
func TestSupermemoryRouterGetsScope(t *testing.T) {
	anth := providertest.NewAnthropic(t)
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: claude-sm\n    litellm_params:\n      model: anthropic/claude-sonnet-4-5-20250929\n" +
		"      api_base: https://api.supermemory.ai/v3/api.anthropic.com\n      api_key: sk-ant-up\n" +
		"      extra_headers: {x-supermemory-api-key: sm_key}\n"
	cfg, err := config.Parse("t.yaml", []byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(anth.URL)
	rw := &rewrite{target: target}
	srv, err := New(context.Background(), Options{Config: cfg, DataDir: t.TempDir(), MasterKey: testMaster,
		HTTPClient: &http.Client{Transport: rw}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	req := httptest.NewRequest(http.MethodPost, "/v1/messages", strings.NewReader(`{"model":"claude-sm","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("x-api-key", testMaster)
	req.Header.Set("X-Memory-User-Id", "alice")
	req.Header.Set("X-Memory-Project", "shop")
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	up := anth.Requests()[0]
	if up.Header.Get("X-Sm-User-Id") != "u:alice/p:shop" || up.Header.Get("X-Supermemory-Api-Key") != "sm_key" || up.Header.Get("X-Api-Key") != "sk-ant-up" {
		t.Errorf("router headers: %v", up.Header)
	}
	if len(rw.seen) != 1 || rw.seen[0] != "https://api.supermemory.ai/v3/api.anthropic.com/v1/messages" {
		t.Errorf("called %v", rw.seen)
	}
}
