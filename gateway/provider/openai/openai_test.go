package openai

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/provider"
)

// seen is one request an upstream received.
type seen struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// upstream is an httptest OpenAI-compatible server whose answer is a
// function field; it records every request.
type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []seen
	serve func(w http.ResponseWriter, r *http.Request)
}

func newUpstream(t *testing.T, serve func(w http.ResponseWriter, r *http.Request)) *upstream {
	t.Helper()
	u := &upstream{serve: serve}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.URL.Path, r.Header.Clone(), string(b)})
		u.mu.Unlock()
		if u.serve != nil {
			u.serve(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, completion)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

const completion = `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"logprobs":null,"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`

const reqBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`

func mustDo(t *testing.T, ctx context.Context, a *Adapter, req *provider.Request) *provider.Response {
	t.Helper()
	resp, err := a.Do(ctx, req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestRequestToUpstream(t *testing.T) {
	tests := []struct {
		name       string
		base       string // appended to the server URL
		apiKey     string
		extra      http.Header
		stream     bool
		wantHeader http.Header // expected values; nil value = must be absent
	}{
		{
			name: "key and extra headers", base: "/v1", apiKey: "sk-test",
			extra: http.Header{"Openai-Organization": {"org-1"}, "X-Multi": {"a", "b"}},
			wantHeader: http.Header{
				"Authorization": {"Bearer sk-test"}, "Openai-Organization": {"org-1"}, "X-Multi": {"a", "b"},
				"Content-Type": {"application/json"}, "Accept": {"application/json"},
			},
		},
		{
			name: "no key sends no Authorization", base: "/v1/",
			wantHeader: http.Header{"Authorization": nil, "Content-Type": {"application/json"}},
		},
		{
			name: "stream asks for SSE", base: "/openai/v1//", apiKey: "k", stream: true,
			wantHeader: http.Header{"Accept": {"text/event-stream"}, "Authorization": {"Bearer k"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			a := New(Options{BaseURL: up.URL + tt.base, APIKey: tt.apiKey, Header: tt.extra})
			resp := mustDo(t, t.Context(), a, &provider.Request{Op: provider.OpChat, Body: []byte(reqBody), Stream: tt.stream})
			body, _ := io.ReadAll(resp.Body)
			if resp.Status != 200 || string(body) != completion || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("response %d %v %s", resp.Status, resp.Header, body)
			}
			reqs := up.requests()
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			wantPath := strings.TrimRight(tt.base, "/") + "/chat/completions"
			if r.Method != http.MethodPost || r.Path != wantPath || r.Body != reqBody {
				t.Errorf("upstream got %s %s %s, want POST %s %s", r.Method, r.Path, r.Body, wantPath, reqBody)
			}
			for k, want := range tt.wantHeader {
				if got := r.Header[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("upstream header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// The adapter sets its own headers after copying the caller's: the
// operator's extra headers win over the caller's, and Content-Type, Accept
// and the credentials win over both.
func TestHeaderPrecedence(t *testing.T) {
	up := newUpstream(t, nil)
	a := New(Options{BaseURL: up.URL + "/v1", APIKey: "sk-operator", Header: http.Header{
		"X-Both": {"operator"}, "Authorization": {"Bearer from-extra-headers"},
	}})
	caller := http.Header{
		"Authorization": {"Bearer sk-caller"},
		"X-Both":        {"caller"},
		"X-Caller-Only": {"c"},
		"Content-Type":  {"text/plain"},
		"Accept":        {"text/html"},
	}
	resp := mustDo(t, t.Context(), a, &provider.Request{Op: provider.OpChat, Body: []byte(reqBody), Header: caller})
	_, _ = io.Copy(io.Discard, resp.Body)
	got := up.requests()[0].Header
	want := map[string][]string{
		"Authorization": {"Bearer sk-operator"},
		"X-Both":        {"operator"},
		"X-Caller-Only": {"c"},
		"Content-Type":  {"application/json"},
		"Accept":        {"application/json"},
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("upstream header %s = %q, want %q", k, got[k], w)
		}
	}
	if caller.Get("Authorization") != "Bearer sk-caller" || caller.Get("Content-Type") != "text/plain" {
		t.Errorf("Do modified the caller's Header: %v", caller)
	}
}

// A caller's header map need not be canonical. Its keys must still not add
// a second Authorization (or Content-Type) next to the adapter's.
func TestHeaderPrecedenceNonCanonicalKeys(t *testing.T) {
	up := newUpstream(t, nil)
	a := New(Options{BaseURL: up.URL + "/v1", APIKey: "sk-operator"})
	caller := http.Header{"authorization": {"Bearer sk-caller"}, "content-type": {"text/plain"}}
	resp := mustDo(t, t.Context(), a, &provider.Request{Op: provider.OpChat, Body: []byte(reqBody), Header: caller})
	_, _ = io.Copy(io.Discard, resp.Body)
	got := up.requests()[0].Header
	if w := []string{"Bearer sk-operator"}; !reflect.DeepEqual(got["Authorization"], w) {
		t.Errorf("upstream Authorization = %q, want %q", got["Authorization"], w)
	}
	if w := []string{"application/json"}; !reflect.DeepEqual(got["Content-Type"], w) {
		t.Errorf("upstream Content-Type = %q, want %q", got["Content-Type"], w)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			target := newUpstream(t, nil)
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/steal/chat/completions", code)
			})
			a := New(Options{BaseURL: up.URL + "/v1", APIKey: "sk-secret"})
			resp := mustDo(t, t.Context(), a, &provider.Request{Op: provider.OpChat, Body: []byte(reqBody)})
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.Status != code || resp.Header.Get("Location") != target.URL+"/steal/chat/completions" {
				t.Errorf("response %d Location %q, want %d to the target", resp.Status, resp.Header.Get("Location"), code)
			}
			if n := len(target.requests()); n != 0 {
				t.Errorf("redirect target received %d requests", n)
			}
			if n := len(up.requests()); n != 1 {
				t.Errorf("upstream received %d requests, want 1", n)
			}
		})
	}
}

func TestErrorStatusIsAResponse(t *testing.T) {
	const errBody = `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, errBody)
	})
	resp := mustDo(t, t.Context(), New(Options{BaseURL: up.URL}), &provider.Request{Op: provider.OpChat, Body: []byte(reqBody)})
	b, _ := io.ReadAll(resp.Body)
	if resp.Status != 429 || resp.Header.Get("Retry-After") != "7" || string(b) != errBody {
		t.Errorf("response %d %v %s", resp.Status, resp.Header, b)
	}
}

func TestUnsupportedOp(t *testing.T) {
	up := newUpstream(t, nil)
	resp, err := New(Options{BaseURL: up.URL}).Do(t.Context(), &provider.Request{Op: provider.OpMessages, Body: []byte(`{}`)})
	if resp != nil || !errors.Is(err, provider.ErrUnsupported) {
		t.Errorf("Do = %v, %v; want nil, ErrUnsupported", resp, err)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream received %d requests", n)
	}
}

func TestConnectionRefused(t *testing.T) {
	up := newUpstream(t, nil)
	url := up.URL
	up.Close()
	resp, err := New(Options{BaseURL: url, Timeout: time.Minute}).Do(t.Context(), &provider.Request{Op: provider.OpChat, Body: []byte(reqBody)})
	if resp != nil || err == nil || errors.Is(err, provider.ErrTimeout) {
		t.Errorf("Do = %v, %v; want a non-timeout error", resp, err)
	}
}

// hang is an upstream that reports the request on arrived, sends nothing
// until the request ends, then reports that on gone.
func hang(arrived, gone chan<- struct{}) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
		close(gone)
	}
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestHeaderTimeout(t *testing.T) {
	gone := make(chan struct{})
	up := newUpstream(t, hang(make(chan struct{}), gone))
	a := New(Options{BaseURL: up.URL, Timeout: 50 * time.Millisecond})
	start := time.Now()
	resp, err := a.Do(t.Context(), &provider.Request{Op: provider.OpChat, Body: []byte(reqBody), Stream: true})
	if resp != nil || !errors.Is(err, provider.ErrTimeout) {
		t.Fatalf("Do = %v, %v; want an error wrapping ErrTimeout", resp, err)
	}
	if !strings.Contains(err.Error(), "50ms") {
		t.Errorf("error %q does not name the timeout", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("Do gave up after %s, before the 50ms timeout", d)
	}
	waitFor(t, gone, "the upstream to see the request cancelled")
}

func TestCancelWhileWaitingForHeaders(t *testing.T) {
	arrived, gone := make(chan struct{}), make(chan struct{})
	up := newUpstream(t, hang(arrived, gone))
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := New(Options{BaseURL: up.URL, Timeout: time.Minute}).Do(ctx, &provider.Request{Op: provider.OpChat, Body: []byte(reqBody)})
		errc <- err
	}()
	waitFor(t, arrived, "the request to reach the upstream")
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || errors.Is(err, provider.ErrTimeout) {
		t.Errorf("Do = %v; want context.Canceled, not ErrTimeout", err)
	}
	waitFor(t, gone, "the upstream to see the request cancelled")
}

// streamThenHang sends one SSE event, flushes, and then holds the stream
// open until the request ends, reporting that on gone.
func streamThenHang(gone chan<- struct{}) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	}
}

func readFirstEvent(t *testing.T, r io.Reader) {
	t.Helper()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: {") {
		t.Fatalf("first line %q, %v", line, err)
	}
}

func TestCancelAbortsStream(t *testing.T) {
	gone := make(chan struct{})
	up := newUpstream(t, streamThenHang(gone))
	ctx, cancel := context.WithCancel(t.Context())
	resp := mustDo(t, ctx, New(Options{BaseURL: up.URL}), &provider.Request{Op: provider.OpChat, Body: []byte(reqBody), Stream: true})
	readFirstEvent(t, resp.Body)
	cancel()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
		t.Errorf("reading after cancel: %v, want context.Canceled", err)
	}
	waitFor(t, gone, "the upstream to see the stream cancelled")
}

func TestCloseReleasesStream(t *testing.T) {
	gone := make(chan struct{})
	up := newUpstream(t, streamThenHang(gone))
	ctx := t.Context()
	resp, err := New(Options{BaseURL: up.URL}).Do(ctx, &provider.Request{Op: provider.OpChat, Body: []byte(reqBody), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	readFirstEvent(t, resp.Body)
	if err := resp.Body.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	waitFor(t, gone, "the upstream to see the stream closed")
	if n, err := resp.Body.Read(make([]byte, 10)); n != 0 || err == nil {
		t.Errorf("Read after Close = %d, %v; want an error", n, err)
	}
	if ctx.Err() != nil {
		t.Errorf("Close cancelled the caller's ctx")
	}
}
