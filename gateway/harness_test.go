package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
	"github.com/memproxy/memproxy/gateway/usage"
)

const testMaster = "sk-test-master"

// harness runs a gateway against a fake OpenAI upstream on loopback.
type harness struct {
	t        *testing.T
	srv      *Server
	fake     *providertest.OpenAI
	httpURL  string
	grpcAddr string
	stop     func()
	stopped  bool
}

func testConfig(t *testing.T, fakeURL, extra string) *config.Gateway {
	t.Helper()
	y := `general_settings:
  master_key: ` + testMaster + `
` + extra + `
model_list:
  - model_name: gpt-test
    litellm_params:
      model: openai/gpt-upstream
      api_base: ` + fakeURL + `/v1
      api_key: sk-upstream-secret
  - model_name: mock
    litellm_params:
      model: mock/echo
user_id_mappings:
  header_patterns:
    - header: user-agent
      pattern: "^OpenAIClientImpl/Java"
      user_id: secretary-dev
`
	cfg, err := config.Parse("test.yaml", []byte(y), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func newHarness(t *testing.T, extraConfig string) *harness {
	t.Helper()
	fake := providertest.NewOpenAI(t)
	srv, err := New(context.Background(), Options{
		Config: testConfig(t, fake.URL, extraConfig), DataDir: t.TempDir(), MasterKey: testMaster,
		ShutdownGrace: 5 * time.Second, UsageQueue: usage.QueueOptions{FlushInterval: 5 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, hl, gl) }()
	h := &harness{t: t, srv: srv, fake: fake, httpURL: "http://" + hl.Addr().String(), grpcAddr: gl.Addr().String()}
	h.stop = func() {
		if h.stopped {
			return
		}
		h.stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() { h.stop(); srv.Close() })
	return h
}

// post sends a chat request over plain HTTP with the master key.
func (h *harness) post(body string, header ...string) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.httpURL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testMaster)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// rows stops the gateway (which writes out the usage queue) and returns
// every usage row, oldest first.
func (h *harness) rows() []usage.Record {
	h.t.Helper()
	h.stop()
	recs, err := h.srv.db.QueryUsage(context.Background(), usage.Filter{Limit: 10000})
	if err != nil {
		h.t.Fatal(err)
	}
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs
}

type bodyResp struct {
	*http.Response
	body string
}

func newReq(method, url string, hdr []string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testMaster)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req, nil
}

func httpDo(req *http.Request) (bodyResp, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return bodyResp{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return bodyResp{resp, string(b)}, nil
}

// serveYAML runs a gateway for the config text y (Options tweaked by opts,
// which may be nil) on a loopback HTTP listener, answering with fake as
// the harness's OpenAI upstream.
func serveYAML(t *testing.T, y string, fake *providertest.OpenAI, opts func(*Options)) *harness {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Config: cfg, DataDir: t.TempDir(), MasterKey: testMaster,
		UsageQueue: usage.QueueOptions{FlushInterval: 5 * time.Millisecond}}
	if opts != nil {
		opts(&o)
	}
	srv, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	hl, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, hl, nil) }()
	h := &harness{t: t, srv: srv, fake: fake, httpURL: "http://" + hl.Addr().String()}
	h.stop = func() {
		if !h.stopped {
			h.stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(func() { h.stop(); srv.Close() })
	return h
}
