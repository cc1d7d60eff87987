package openai

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/memproxy/memproxy/gateway/provider"
)

// roundTripFunc is a function-field fake of the network under the adapter's
// HTTP client. It lets the timing tests run in a synctest bubble, where the
// clock only moves when every goroutine waits, so the tests are exact and
// take no wall time. (An httptest server cannot: a goroutine blocked on a
// socket is not durably blocked, and the fake clock would never advance.)
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func fakeAdapter(timeout time.Duration, rt roundTripFunc) *Adapter {
	return New(Options{BaseURL: "http://upstream.invalid/v1", APIKey: "k", Timeout: timeout,
		Client: &http.Client{Transport: rt}})
}

// sseResponse answers with a stream whose body the test writes through pw.
func sseResponse(r *http.Request, body io.ReadCloser) *http.Response {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: body, Request: r, ProtoMajor: 1, ProtoMinor: 1}
}

func TestHeaderTimeoutExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 30 * time.Second
		var upstreamErr error
		a := fakeAdapter(timeout, func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done() // headers never come
			upstreamErr = context.Cause(r.Context())
			return nil, r.Context().Err()
		})
		start := time.Now()
		resp, err := a.Do(t.Context(), &provider.Request{Op: provider.OpChat, Body: []byte(reqBody), Stream: true})
		if resp != nil || !errors.Is(err, provider.ErrTimeout) {
			t.Fatalf("Do = %v, %v; want an error wrapping ErrTimeout", resp, err)
		}
		if d := time.Since(start); d != timeout {
			t.Errorf("Do gave up after %s, want exactly %s", d, timeout)
		}
		if upstreamErr == nil {
			t.Error("the upstream request was not cancelled")
		}
	})
}

func TestHeadersJustInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 30 * time.Second
		a := fakeAdapter(timeout, func(r *http.Request) (*http.Response, error) {
			time.Sleep(timeout - time.Millisecond)
			return sseResponse(r, ctxBody{r, strings.NewReader("data: [DONE]\n\n")}), nil
		})
		resp, err := a.Do(t.Context(), &provider.Request{Op: provider.OpChat, Body: []byte(reqBody), Stream: true})
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		defer resp.Body.Close()
		time.Sleep(2 * timeout) // the header timer must be stopped, not merely late
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != "data: [DONE]\n\n" {
			t.Errorf("body %q, %v", b, err)
		}
	})
}

// ctxBody is a stream body that, like the real transport's, fails with the
// request's ctx error once that ctx ends.
type ctxBody struct {
	req *http.Request
	r   io.Reader
}

func (b ctxBody) Read(p []byte) (int, error) {
	if err := b.req.Context().Err(); err != nil {
		return 0, err
	}
	return b.r.Read(p)
}

func (b ctxBody) Close() error {
	if c, ok := b.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Once the headers are in, the timeout no longer applies: a stream may
// last many times Timeout as long as its body keeps flowing.
func TestStreamOutlivesHeaderTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 10 * time.Second
		events := []string{
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n",
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":null}]}\n\n",
			"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
			"data: [DONE]\n\n",
		}
		a := fakeAdapter(timeout, func(r *http.Request) (*http.Response, error) {
			pr, pw := io.Pipe()
			go func() {
				for _, ev := range events {
					time.Sleep(timeout - time.Second) // each gap is under the timeout, the sum is not
					if _, err := io.WriteString(pw, ev); err != nil {
						return
					}
				}
				pw.Close()
			}()
			return sseResponse(r, ctxBody{r, pr}), nil
		})
		start := time.Now()
		resp, err := a.Do(t.Context(), &provider.Request{Op: provider.OpChat, Body: []byte(reqBody), Stream: true})
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("stream cut after %s: %v (read %q)", time.Since(start), err, b)
		}
		want := events[0] + events[1] + events[2] + events[3]
		if string(b) != want {
			t.Errorf("stream %q, want %q", b, want)
		}
		if d := time.Since(start); d != 4*(timeout-time.Second) {
			t.Errorf("stream took %s, want %s", d, 4*(timeout-time.Second))
		}
	})
}

func TestCloseCancelsUpstreamRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var reqCtx context.Context
		a := fakeAdapter(time.Minute, func(r *http.Request) (*http.Response, error) {
			reqCtx = r.Context()
			pr, _ := io.Pipe()
			return sseResponse(r, ctxBody{r, pr}), nil
		})
		resp, err := a.Do(t.Context(), &provider.Request{Op: provider.OpChat, Body: []byte(reqBody), Stream: true})
		if err != nil {
			t.Fatal(err)
		}
		if reqCtx.Err() != nil {
			t.Fatal("request ctx ended before Close")
		}
		_ = resp.Body.Close()
		if !errors.Is(reqCtx.Err(), context.Canceled) {
			t.Errorf("request ctx after Close: %v, want context.Canceled", reqCtx.Err())
		}
		if context.Cause(reqCtx) != context.Canceled {
			t.Errorf("cause %v: Close must not be reported as a timeout", context.Cause(reqCtx))
		}
	})
}
