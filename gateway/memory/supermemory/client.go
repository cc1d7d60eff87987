package supermemory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"
)

// APIError is an answer from the Supermemory API with a status other than
// success (and, for the calls that look a document up, other than 404,
// which is memory.ErrNotFound). Message is the API's own error text,
// shortened; it never holds the API key or request content.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("supermemory: HTTP %d: %s", e.Status, e.Message)
}

// maxResponse bounds what is read of an answer: a page of 100 memories of
// at most 32 KiB each, with room for the API's own fields.
const maxResponse = 16 << 20

var sharedTransport = &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:     true,
	MaxIdleConns:          256,
	MaxIdleConnsPerHost:   64,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   10 * time.Second,
	ExpectContinueTimeout: time.Second,
}

// sessions keeps one http.Client, with its own cookie jar, per user: the
// Supermemory API sits behind Cloudflare, whose bot-management cookies a
// client must keep to stay out of challenges, and one user's cookies must
// never travel with another's requests. All clients share one transport
// (connection pool). The least recently used session is dropped when
// there are max of them.
type sessions struct {
	base *http.Client
	max  int

	mu    sync.Mutex
	tick  uint64
	users map[string]*session
}

type session struct {
	client *http.Client
	used   uint64
}

func newSessions(base *http.Client, max int) *sessions {
	if base == nil {
		base = &http.Client{Transport: sharedTransport}
	}
	return &sessions{base: base, max: max, users: make(map[string]*session)}
}

// client returns user's client, creating it if needed.
func (p *sessions) client(user string) *http.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tick++
	if s, ok := p.users[user]; ok {
		s.used = p.tick
		return s.client
	}
	if len(p.users) >= p.max {
		oldest := ""
		for u, s := range p.users {
			if oldest == "" || s.used < p.users[oldest].used {
				oldest = u
			}
		}
		delete(p.users, oldest)
	}
	jar, _ := cookiejar.New(nil) // never fails without options
	c := *p.base
	c.Jar = jar
	// A redirect could carry the API key somewhere nobody configured.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p.users[user] = &session{client: &c, used: p.tick}
	return &c
}

// call sends one request for user's session and decodes a JSON answer into
// out (when non-nil). It returns the status; a status outside 2xx is an
// *APIError.
func (b *Backend) call(ctx context.Context, user, method, path string, body, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("supermemory: encoding request: %w", err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, rd)
	if err != nil {
		return 0, fmt.Errorf("supermemory: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+string(b.key))
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.sessions.client(user).Do(req)
	if err != nil {
		return 0, fmt.Errorf("supermemory: %s %s: %w", method, pathOnly(path), unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("supermemory: reading answer: %w", err)
	}
	if len(data) > maxResponse {
		return resp.StatusCode, fmt.Errorf("supermemory: answer larger than %d bytes", maxResponse)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, &APIError{Status: resp.StatusCode, Message: errorText(data, resp.Status)}
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("supermemory: decoding answer to %s %s: %w", method, pathOnly(path), err)
		}
	}
	return resp.StatusCode, nil
}

// errorText is the API's {"error", "details"} text, or the status line,
// cut to 200 bytes.
func errorText(data []byte, status string) string {
	var e struct {
		Error   string `json:"error"`
		Details string `json:"details"`
	}
	msg := status
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		msg = e.Error
		if e.Details != "" && e.Details != e.Error {
			msg += ": " + e.Details
		}
	}
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "…"
	}
	return msg
}

// pathOnly names an endpoint without its document id, for error text.
func pathOnly(path string) string {
	if p, ok := strings.CutPrefix(path, "/v3/documents/"); ok && p != "list" && p != "bulk" {
		return "/v3/documents/{id}"
	}
	return path
}

// unwrapURLError drops *url.Error's quoting of the full URL (which holds
// the document id) and keeps the cause, timeouts and cancellation included.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
