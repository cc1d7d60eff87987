// Package supermemory is a memory.Backend over the Supermemory API
// (https://supermemory.ai/docs/api-reference): each memory is a document,
// each scope a container tag, searched with POST /v3/search.
//
// Isolation does not rest on the API alone. A scope maps to a container tag
// of its own (ContainerTag), and every document this package writes also
// carries that tag in its metadata. Get, Delete and List accept a document
// only if its containerTags are exactly [tag]; Search, whose results carry
// no tags, only if its metadata names the tag. Anything else is treated as
// absent (ErrNotFound, or left out of the results).
//
// The API is asynchronous: a document just added is queued for processing
// and found by Search only when that is done. Dedup is by the content hash
// stored in metadata, looked up before adding; a customId derived from the
// hash makes two concurrent Adds of one content update one document rather
// than create two.
package supermemory

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
)

var _ memory.Backend = (*Backend)(nil)

// DefaultBaseURL is the hosted API.
const DefaultBaseURL = "https://api.supermemory.ai"

// Metadata keys the backend keeps on every document it writes; callers
// cannot set them (memory.ReservedMetaPrefix) and never see them.
const (
	metaHash = memory.ReservedMetaPrefix + "hash"
	metaTag  = memory.ReservedMetaPrefix + "tag"
)

// maxQueryBytes bounds the search text sent.
const maxQueryBytes = 4096

// Options configure New.
type Options struct {
	// BaseURL is the API's address (DefaultBaseURL when empty): https, or
	// http to a loopback address (tests, a local proxy).
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>". Required.
	APIKey string
	// Timeout bounds each API call (default 30s).
	Timeout time.Duration
	// Client is the template of the per-user clients: its Transport (and
	// Timeout) are used; its Jar and CheckRedirect are replaced (a cookie jar
	// per user, no redirects). Default: a shared pooled transport.
	Client *http.Client
	// MaxSessions bounds the per-user clients kept (default 1024).
	MaxSessions int
	// Logger receives warnings about documents refused for belonging to
	// another container (default: discarded). Content is never logged.
	Logger *slog.Logger
}

// Backend is the Supermemory memory backend. It is safe for concurrent use.
type Backend struct {
	base     string
	key      apiKey
	timeout  time.Duration
	sessions *sessions
	log      *slog.Logger
}

// apiKey keeps the key out of fmt and slog output.
type apiKey string

func (apiKey) String() string       { return "[redacted]" }
func (apiKey) GoString() string     { return `"[redacted]"` }
func (apiKey) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String, GoString and LogValue name the backend by its base URL; fmt and
// slog never see the key (fmt prints unexported fields without their
// methods, so apiKey alone would not be enough).
func (b *Backend) String() string       { return "supermemory " + b.base }
func (b *Backend) GoString() string     { return b.String() }
func (b *Backend) LogValue() slog.Value { return slog.StringValue(b.String()) }

// New returns a backend for o. It fails on a missing key or a base URL that
// is neither https nor http to a loopback address.
func New(o Options) (*Backend, error) {
	if o.APIKey == "" {
		return nil, errors.New("supermemory: an API key is required")
	}
	base := strings.TrimRight(cmp.Or(o.BaseURL, DefaultBaseURL), "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return nil, errors.New("supermemory: base URL must be https://host[/path] (http only to a loopback address)")
	}
	b := &Backend{base: base, key: apiKey(o.APIKey), timeout: cmp.Or(o.Timeout, 30*time.Second),
		sessions: newSessions(o.Client, cmp.Or(o.MaxSessions, 1024)), log: o.Logger}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	return b, nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// ContainerTag is the container tag that holds scope s: "mp_", up to 40
// characters of s with anything but ASCII letters and digits made '-' (to
// be readable in the Supermemory console), '_', and 128 bits of SHA-256(s)
// in hex, which alone tells scopes apart. It fits the API's tag rules (at
// most 100 characters of [A-Za-z0-9_-]).
func ContainerTag(s memory.Scope) string {
	readable := []byte(string(s)[:min(len(s), 40)])
	for i, c := range readable {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			readable[i] = '-'
		}
	}
	sum := sha256.Sum256([]byte(s))
	return "mp_" + string(readable) + "_" + hex.EncodeToString(sum[:16])
}

// customID names the one document a content may have in a container.
func customID(tag, hash string) string {
	sum := sha256.Sum256([]byte(tag + "\n" + hash))
	return "mp-" + hex.EncodeToString(sum[:])
}

// validID matches the document ids the API issues (22 alphanumerics; a
// little wider to be safe). Anything else cannot name a document, and is
// never put into a URL path.
var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// document is a document as GET /v3/documents/{id} and the list show it.
type document struct {
	ID            string          `json:"id"`
	Content       *string         `json:"content"`
	ContainerTags []string        `json:"containerTags"`
	Metadata      json.RawMessage `json:"metadata"`
	CreatedAt     string          `json:"createdAt"`
}

func (d *document) owned(tag string) bool { return slices.Equal(d.ContainerTags, []string{tag}) }

func (d *document) memory() memory.Memory {
	var content string
	if d.Content != nil {
		content = *d.Content
	}
	return toMemory(d.ID, content, d.Metadata, d.CreatedAt)
}

// toMemory converts the API's fields; metadata values that are not
// strings are given in their JSON form, and the backend's own keys are
// dropped.
func toMemory(id, content string, rawMeta json.RawMessage, created string) memory.Memory {
	m := memory.Memory{ID: id, Content: content, Status: memory.StatusActive}
	if t, err := time.Parse(time.RFC3339Nano, created); err == nil {
		m.CreatedAt = t.UTC()
	}
	var meta map[string]any
	if json.Unmarshal(rawMeta, &meta) == nil {
		m.Source = sourceOf(meta)
		for k, v := range meta {
			if strings.HasPrefix(k, memory.ReservedMetaPrefix) {
				continue
			}
			if m.Metadata == nil {
				m.Metadata = make(map[string]string)
			}
			switch v := v.(type) {
			case string:
				m.Metadata[k] = v
			case float64:
				m.Metadata[k] = strconv.FormatFloat(v, 'f', -1, 64)
			default:
				b, _ := json.Marshal(v)
				m.Metadata[k] = string(b)
			}
		}
	}
	return m
}

func metaString(raw json.RawMessage, key string) string {
	var meta map[string]any
	_ = json.Unmarshal(raw, &meta)
	s, _ := meta[key].(string)
	return s
}

// Search implements memory.Backend with POST /v3/search, restricted to the
// scope's container tag. The query is JSON data; the API has no query
// syntax to escape.
func (b *Backend) Search(ctx context.Context, s memory.Scope, query string, limit int) ([]memory.Memory, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	q := strings.TrimSpace(strings.ReplaceAll(strings.ToValidUTF8(query, ""), "\x00", " "))
	if q == "" {
		return nil, nil
	}
	if len(q) > maxQueryBytes {
		q = strings.ToValidUTF8(q[:maxQueryBytes], "")
	}
	tag, limit := ContainerTag(s), memory.ClampLimit(limit)
	var res struct {
		Results []struct {
			DocumentID string          `json:"documentId"`
			Score      float64         `json:"score"`
			Content    *string         `json:"content"`
			Metadata   json.RawMessage `json:"metadata"`
			CreatedAt  string          `json:"createdAt"`
			Chunks     []struct {
				Content string `json:"content"`
			} `json:"chunks"`
		} `json:"results"`
	}
	if _, err := b.call(ctx, s.User(), http.MethodPost, "/v3/search", map[string]any{"q": q, "containerTags": []string{tag},
		"limit": limit, "includeFullDocs": true, "onlyMatchingChunks": true}, &res); err != nil {
		return nil, fmt.Errorf("searching memories: %w", err)
	}
	var out []memory.Memory
	for _, r := range res.Results {
		if metaString(r.Metadata, metaTag) != tag {
			b.log.Warn("supermemory search returned a document of another container; dropped", "document", r.DocumentID)
			continue
		}
		content := ""
		if r.Content != nil {
			content = *r.Content
		} else {
			for _, c := range r.Chunks {
				content += c.Content
			}
		}
		m := toMemory(r.DocumentID, content, r.Metadata, r.CreatedAt)
		m.Score = r.Score
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(x, y memory.Memory) int { return cmp.Compare(y.Score, x.Score) })
	return out[:min(len(out), limit)], nil
}

// Add implements memory.Backend: a document with containerTag, the
// content hash and tag in metadata, and a customId derived from both; then
// the document as the API gives it back.
func (b *Backend) Add(ctx context.Context, s memory.Scope, content string, meta map[string]string) (memory.Memory, bool, error) {
	if err := memory.ValidateAdd(s, content, meta); err != nil {
		return memory.Memory{}, false, err
	}
	return b.add(ctx, s, content, meta, memory.Source{})
}

// add is Add with a source, kept in the document's metadata.
func (b *Backend) add(ctx context.Context, s memory.Scope, content string, meta map[string]string, src memory.Source) (memory.Memory, bool, error) {
	tag, hash := ContainerTag(s), memory.ContentHash(content)
	if m, ok, err := b.findHash(ctx, s, tag, hash); err != nil || ok {
		return m, false, err
	}
	md := map[string]any{metaHash: hash, metaTag: tag}
	for k, v := range meta {
		md[k] = v
	}
	for k, v := range sourceMeta(src) {
		md[k] = v
	}
	var added struct {
		ID string `json:"id"`
	}
	if _, err := b.call(ctx, s.User(), http.MethodPost, "/v3/documents", map[string]any{"content": content,
		"containerTag": tag, "customId": customID(tag, hash), "metadata": md}, &added); err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: %w", err)
	}
	if !validID.MatchString(added.ID) {
		return memory.Memory{}, false, fmt.Errorf("adding memory: the API answered with no usable document id")
	}
	m, err := b.Get(ctx, s, added.ID)
	if err != nil { // stored, but not readable back yet: answer with what was sent
		m = memory.Memory{ID: added.ID, Content: content, Metadata: maps.Clone(meta), CreatedAt: time.Now().UTC(), Source: src}
		if len(meta) == 0 {
			m.Metadata = nil
		}
	}
	return m, true, nil
}

// findHash looks for the scope's document holding content of this hash.
func (b *Backend) findHash(ctx context.Context, s memory.Scope, tag, hash string) (memory.Memory, bool, error) {
	var page listPage
	filter := map[string]any{"AND": []any{map[string]any{"key": metaHash, "value": hash, "negate": false}}}
	if _, err := b.call(ctx, s.User(), http.MethodPost, "/v3/documents/list", map[string]any{"containerTags": []string{tag},
		"filters": filter, "limit": 10, "page": 1, "includeContent": true}, &page); err != nil {
		return memory.Memory{}, false, fmt.Errorf("adding memory: looking for a duplicate: %w", err)
	}
	for _, d := range page.Memories {
		if d.owned(tag) && metaString(d.Metadata, metaHash) == hash {
			return d.memory(), true, nil
		}
	}
	return memory.Memory{}, false, nil
}

// Get implements memory.Backend with GET /v3/documents/{id}.
func (b *Backend) Get(ctx context.Context, s memory.Scope, id string) (memory.Memory, error) {
	if err := s.Validate(); err != nil {
		return memory.Memory{}, err
	}
	if !validID.MatchString(id) {
		return memory.Memory{}, memory.ErrNotFound
	}
	var d document
	status, err := b.call(ctx, s.User(), http.MethodGet, "/v3/documents/"+id, nil, &d)
	if status == http.StatusNotFound {
		return memory.Memory{}, memory.ErrNotFound
	}
	if err != nil {
		return memory.Memory{}, fmt.Errorf("getting memory: %w", err)
	}
	if !d.owned(ContainerTag(s)) || d.ID != id {
		return memory.Memory{}, memory.ErrNotFound
	}
	return d.memory(), nil
}

// Delete implements memory.Backend: Get (which checks the container), then
// DELETE /v3/documents/{id}.
func (b *Backend) Delete(ctx context.Context, s memory.Scope, id string) error {
	if _, err := b.Get(ctx, s, id); err != nil {
		return err
	}
	status, err := b.call(ctx, s.User(), http.MethodDelete, "/v3/documents/"+id, nil, nil)
	if status == http.StatusNotFound {
		return memory.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("deleting memory: %w", err)
	}
	return nil
}

// DeleteAll implements memory.Backend with DELETE /v3/documents/bulk by
// container tag.
func (b *Backend) DeleteAll(ctx context.Context, s memory.Scope) (int, error) {
	if err := s.Validate(); err != nil {
		return 0, err
	}
	var res struct {
		DeletedCount int `json:"deletedCount"`
	}
	if _, err := b.call(ctx, s.User(), http.MethodDelete, "/v3/documents/bulk",
		map[string]any{"containerTags": []string{ContainerTag(s)}}, &res); err != nil {
		return 0, fmt.Errorf("deleting memories: %w", err)
	}
	return res.DeletedCount, nil
}
