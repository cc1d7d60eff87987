// Package openai is the adapter for OpenAI and every server that speaks its
// wire format (vLLM, Ollama, OpenRouter, Groq, DeepSeek, LM Studio, …).
package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/provider"
)

// Options configure an adapter.
type Options struct {
	// BaseURL is the API root, e.g. https://api.openai.com/v1.
	BaseURL string
	// APIKey is sent as a Bearer token; empty sends none (local servers).
	APIKey string
	// Header holds extra headers the operator configured (extra_headers).
	Header http.Header
	// Timeout bounds the wait for the response headers (default 10 min).
	Timeout time.Duration
	// Client overrides the HTTP client (tests); nil uses a shared default.
	Client *http.Client
}

// Adapter implements provider.Provider over HTTP.
type Adapter struct {
	opts Options
	base string
}

var _ provider.Provider = (*Adapter)(nil)

// New returns an adapter for opts.
func New(opts Options) *Adapter {
	if opts.Client == nil {
		opts.Client = defaultClient
	} else {
		// Whatever client a caller supplies, redirects stay refused.
		c := *opts.Client
		c.CheckRedirect = defaultClient.CheckRedirect
		opts.Client = &c
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Minute
	}
	return &Adapter{opts: opts, base: strings.TrimRight(opts.BaseURL, "/")}
}

// defaultClient never follows redirects: an upstream that redirects could
// otherwise receive the provider key at an address nobody configured.
var defaultClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Do implements provider.Provider.
func (a *Adapter) Do(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if req.Op != provider.OpChat {
		return nil, fmt.Errorf("%w: %s", provider.ErrUnsupported, req.Op)
	}
	// The header timeout is a timer, not a ctx deadline, so that it does
	// not also cut the body of a long stream once the headers are in.
	hctx, cancel := context.WithCancelCause(ctx)
	hr, err := http.NewRequestWithContext(hctx, http.MethodPost, a.base+"/"+req.Op, bytes.NewReader(req.Body))
	if err != nil {
		cancel(nil)
		return nil, err
	}
	// Keys are canonicalised so that the Set calls below replace, rather
	// than sit beside, a caller's "authorization" or "content-type".
	for k, vs := range req.Header {
		hr.Header[http.CanonicalHeaderKey(k)] = vs
	}
	for k, vs := range a.opts.Header {
		hr.Header[http.CanonicalHeaderKey(k)] = vs
	}
	hr.Header.Set("Content-Type", "application/json")
	if req.Stream {
		hr.Header.Set("Accept", "text/event-stream")
	} else {
		hr.Header.Set("Accept", "application/json")
	}
	if a.opts.APIKey != "" {
		hr.Header.Set("Authorization", "Bearer "+a.opts.APIKey)
	}
	timer := time.AfterFunc(a.opts.Timeout, func() { cancel(errHeaderTimeout) })
	resp, err := a.opts.Client.Do(hr)
	if !timer.Stop() && err != nil && errors.Is(context.Cause(hctx), errHeaderTimeout) {
		cancel(nil)
		return nil, fmt.Errorf("%w: no response headers after %s", provider.ErrTimeout, a.opts.Timeout)
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	return &provider.Response{Status: resp.StatusCode, Header: resp.Header, Body: &cancelOnClose{resp.Body, cancel}}, nil
}

var errHeaderTimeout = errors.New("upstream header timeout")

type cancelOnClose struct {
	body interface {
		Read([]byte) (int, error)
		Close() error
	}
	cancel context.CancelCauseFunc
}

func (c *cancelOnClose) Read(p []byte) (int, error) { return c.body.Read(p) }
func (c *cancelOnClose) Close() error {
	err := c.body.Close()
	c.cancel(nil)
	return err
}
