package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// HTTP performs adapters' upstream calls the same way for every provider:
// no redirects followed (a redirect could carry the provider key to an
// address nobody configured), a timeout on the response headers only (a
// long stream is bounded by the gateway's idle timeout instead), and a
// body whose Close releases the call.
type HTTP struct {
	client  *http.Client
	timeout time.Duration
}

// DefaultTimeout bounds the wait for an upstream's response headers when
// the deployment sets none.
const DefaultTimeout = 10 * time.Minute

var sharedClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:     true,
	MaxIdleConns:          1024,
	MaxIdleConnsPerHost:   512,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   10 * time.Second,
	ExpectContinueTimeout: time.Second,
}}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// NewHTTP returns a caller using client (nil: a shared pooled client) with
// redirects refused whatever client says, and the header timeout
// (0: DefaultTimeout).
func NewHTTP(client *http.Client, timeout time.Duration) *HTTP {
	if client == nil {
		client = sharedClient
	}
	c := *client
	c.CheckRedirect = noRedirect
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &HTTP{client: &c, timeout: timeout}
}

var errHeaderTimeout = errors.New("upstream header timeout")

// Post sends body to url with header (names canonicalised; later Set calls
// by the caller win) and returns the answer. Content-Type is JSON; Accept
// is SSE for streams. Errors wrap ErrTimeout when no headers came in time.
func (h *HTTP) Post(ctx context.Context, url string, body []byte, header http.Header, stream bool) (*Response, error) {
	hctx, cancel := context.WithCancelCause(ctx)
	hr, err := http.NewRequestWithContext(hctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		cancel(nil)
		return nil, err
	}
	for k, vs := range header {
		hr.Header[http.CanonicalHeaderKey(k)] = vs
	}
	hr.Header.Set("Content-Type", "application/json")
	if stream {
		hr.Header.Set("Accept", "text/event-stream")
	} else {
		hr.Header.Set("Accept", "application/json")
	}
	timer := time.AfterFunc(h.timeout, func() { cancel(errHeaderTimeout) })
	resp, err := h.client.Do(hr)
	if !timer.Stop() && err != nil && errors.Is(context.Cause(hctx), errHeaderTimeout) {
		cancel(nil)
		return nil, fmt.Errorf("%w: no response headers after %s", ErrTimeout, h.timeout)
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: &cancelOnClose{resp.Body, cancel}}, nil
}

// MergeHeaders returns a new header holding the caller's headers, then the
// operator's extras on top, canonicalised.
func MergeHeaders(caller, extra http.Header) http.Header {
	out := make(http.Header, len(caller)+len(extra)+3)
	for _, h := range []http.Header{caller, extra} {
		for k, vs := range h {
			out[http.CanonicalHeaderKey(k)] = vs
		}
	}
	return out
}

type cancelOnClose struct {
	body   io.ReadCloser
	cancel context.CancelCauseFunc
}

func (c *cancelOnClose) Read(p []byte) (int, error) { return c.body.Read(p) }
func (c *cancelOnClose) Close() error {
	err := c.body.Close()
	c.cancel(nil)
	return err
}
