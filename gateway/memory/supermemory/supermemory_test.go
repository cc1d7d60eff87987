package supermemory_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/memorytest"
	"github.com/memproxy/memproxy/gateway/memory/supermemory"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

func backend(t testing.TB, f *providertest.Supermemory, mod ...func(*supermemory.Options)) *supermemory.Backend {
	t.Helper()
	o := supermemory.Options{BaseURL: f.URL, APIKey: f.Key, Timeout: 10 * time.Second}
	for _, m := range mod {
		m(&o)
	}
	b, err := supermemory.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	memorytest.Run(t, func(t *testing.T) memory.Backend {
		return backend(t, providertest.NewSupermemory(t))
	}, memorytest.Semantic())
}

// TestConformanceSharedAccount runs the suite with every subtest on one
// account, as all gateway users are.
func TestConformanceSharedAccount(t *testing.T) {
	f := providertest.NewSupermemory(t)
	memorytest.Run(t, func(t *testing.T) memory.Backend { return backend(t, f) }, memorytest.Semantic())
}

func TestQuality(t *testing.T) {
	r5, mrr, err := memorytest.Evaluate(t.Context(), backend(t, providertest.NewSupermemory(t)))
	if err != nil {
		t.Fatal(err)
	}
	if r5 < 0 || r5 > 1 || mrr < 0 || mrr > 1 {
		t.Fatalf("recall@5 %v, MRR %v; want both in [0,1]", r5, mrr)
	}
	t.Logf("against the fake (word overlap, not Supermemory's ranking): recall@5 %.3f, MRR %.3f", r5, mrr)
}

func TestNewRefuses(t *testing.T) {
	for _, o := range []supermemory.Options{
		{BaseURL: "https://api.supermemory.ai"},
		{APIKey: "k", BaseURL: "http://api.supermemory.ai"},
		{APIKey: "k", BaseURL: "http://10.0.0.1:8080"},
		{APIKey: "k", BaseURL: "https://user:pw@api.supermemory.ai"},
		{APIKey: "k", BaseURL: "https://api.supermemory.ai/?x=1"},
		{APIKey: "k", BaseURL: "ftp://api.supermemory.ai"},
		{APIKey: "k", BaseURL: "api.supermemory.ai"},
	} {
		if _, err := supermemory.New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
	for _, base := range []string{"", "https://api.supermemory.ai/", "http://127.0.0.1:1", "http://[::1]:1", "http://localhost:6767"} {
		if _, err := supermemory.New(supermemory.Options{APIKey: "k", BaseURL: base}); err != nil {
			t.Errorf("New(%q): %v", base, err)
		}
	}
}

// TestWire checks the requests against the documented API: the bearer
// key, the endpoints, container tags and metadata.
func TestWire(t *testing.T) {
	f := providertest.NewSupermemory(t)
	b := backend(t, f)
	s := memory.Scope("u:alice/p:shop")
	m, _, err := b.Add(t.Context(), s, "Deploy with make deploy.", map[string]string{"source": "chat"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Search(t.Context(), s, "deploy", 5); err != nil {
		t.Fatal(err)
	}
	tag := supermemory.ContainerTag(s)
	var paths []string
	for _, r := range f.Requests() {
		paths = append(paths, r.Path)
		if got := r.Header.Get("Authorization"); got != "Bearer "+f.Key {
			t.Errorf("%s: Authorization %q", r.Path, got)
		}
		switch r.Path {
		case "POST /v3/documents":
			md, _ := r.Body["metadata"].(map[string]any)
			if r.Body["containerTag"] != tag || md["source"] != "chat" || md["memproxy_tag"] != tag || md["memproxy_hash"] != memory.ContentHash(m.Content) {
				t.Errorf("add body %v", r.Body)
			}
		case "POST /v3/search":
			if fmt.Sprint(r.Body["containerTags"]) != "["+tag+"]" || r.Body["q"] != "deploy" || r.Body["limit"] != 5.0 {
				t.Errorf("search body %v", r.Body)
			}
		}
	}
	want := []string{"POST /v3/documents/list", "POST /v3/documents", "GET /v3/documents/" + m.ID, "POST /v3/search"}
	if !slices.Equal(paths, want) {
		t.Errorf("requests %q; want %q", paths, want)
	}
	if !strings.HasPrefix(tag, "mp_u-alice-p-shop_") || len(tag) > 100 {
		t.Errorf("ContainerTag = %q", tag)
	}
}

// TestForeignDocuments puts documents the backend did not write into the
// account: in another container, in the scope's container together with
// another tag, and in the scope's container without the backend's
// metadata. None is visible through the scope.
func TestForeignDocuments(t *testing.T) {
	f := providertest.NewSupermemory(t)
	b := backend(t, f)
	s := memory.Scope("u:alice/p:shop")
	tag := supermemory.ContainerTag(s)
	mine, _, err := b.Add(t.Context(), s, "the deploy runbook lives in docs/", nil)
	if err != nil {
		t.Fatal(err)
	}
	foreign := []string{
		f.Put([]string{supermemory.ContainerTag("u:bob/p:shop")}, "the deploy secret is hunter2", map[string]any{"memproxy_tag": tag}),
		f.Put([]string{tag, "other"}, "the deploy key is in the vault", map[string]any{"memproxy_tag": tag}),
		f.Put([]string{tag}, "deploy notes written by another tool", nil),
	}
	r, err := b.Search(t.Context(), s, "deploy", 10)
	if err != nil || len(r) != 1 || r[0].ID != mine.ID {
		t.Errorf("Search = %+v, %v; want only %s", r, err, mine.ID)
	}
	for i, id := range foreign[:2] {
		if _, err := b.Get(t.Context(), s, id); !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("Get(foreign %d): %v; want ErrNotFound", i, err)
		}
		if err := b.Delete(t.Context(), s, id); !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("Delete(foreign %d): %v; want ErrNotFound", i, err)
		}
	}
	l, _, err := b.List(t.Context(), s, "", 10)
	if err != nil || len(l) != 2 { // its own, and the untagged one in its container
		t.Errorf("List = %d memories, %v", len(l), err)
	}
}

// TestSessionPerUser checks each user keeps its own cookies (Cloudflare's)
// and never sends another's.
func TestSessionPerUser(t *testing.T) {
	f := providertest.NewSupermemory(t)
	f.SessionCookie = true
	b := backend(t, f)
	for range 2 {
		for _, s := range []memory.Scope{"u:alice/p:a", "u:bob/p:a", "u:alice/p:b"} {
			if _, err := b.Search(t.Context(), s, "anything", 5); err != nil {
				t.Fatal(err)
			}
		}
	}
	reqs := f.Requests()
	cookie := func(i int) string { return reqs[i].Header.Get("Cookie") }
	if cookie(0) != "" || cookie(1) != "" {
		t.Errorf("first requests sent cookies %q, %q", cookie(0), cookie(1))
	}
	alice, bob := cookie(2), cookie(4)
	if alice == "" || bob == "" || alice == bob {
		t.Fatalf("alice's cookie %q, bob's %q; want two different ones", alice, bob)
	}
	if cookie(5) != alice {
		t.Errorf("alice's later request sent %q; want %q", cookie(5), alice)
	}
}

func TestErrors(t *testing.T) {
	f := providertest.NewSupermemory(t)
	s := memory.Scope("u:alice/p:shop")
	f.Status, f.ErrorBody = http.StatusTooManyRequests, `{"error":"Rate limit exceeded"}`
	b := backend(t, f)
	_, err := b.Search(t.Context(), s, "deploy", 5)
	if apiErr, ok := errors.AsType[*supermemory.APIError](err); !ok || apiErr.Status != 429 || !strings.Contains(err.Error(), "Rate limit") {
		t.Errorf("Search on 429: %v; want an *APIError 429", err)
	}
	f.Status = 0
	wrong := backend(t, f, func(o *supermemory.Options) { o.APIKey = "sm_wrong" })
	_, _, err = wrong.Add(t.Context(), s, "x", nil)
	if apiErr, ok := errors.AsType[*supermemory.APIError](err); !ok || apiErr.Status != 401 {
		t.Errorf("Add with a wrong key: %v; want an *APIError 401", err)
	}
	if strings.Contains(err.Error(), "sm_wrong") || strings.Contains(fmt.Sprintf("%v %+v %#v", wrong, wrong, wrong), "sm_wrong") {
		t.Errorf("the key shows in %v or in the backend's printed form", err)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "backend", wrong)
	if strings.Contains(logged.String(), "sm_wrong") {
		t.Errorf("the key shows in a log line: %s", logged.String())
	}
}

// TestTimeout holds the API: the call gives up after Options.Timeout, and
// a cancelled context stops it at once.
func TestTimeout(t *testing.T) {
	f := providertest.NewSupermemory(t)
	f.Hold = make(chan struct{})
	defer close(f.Hold)
	b := backend(t, f, func(o *supermemory.Options) { o.Timeout = 50 * time.Millisecond })
	start := time.Now()
	if _, err := b.Search(t.Context(), "u:a/p:b", "q", 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Search against a held API: %v; want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v", d)
	}
}

// TestNoRedirects: a redirect is not followed (it could take the key
// elsewhere); it is an error.
func TestNoRedirects(t *testing.T) {
	var hits int
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	b, err := supermemory.New(supermemory.Options{BaseURL: redirector.URL, APIKey: "sm_key"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Search(t.Context(), "u:a/p:b", "q", 5); err == nil || hits != 0 {
		t.Errorf("Search through a redirect: %v, %d requests elsewhere; want an error and none", err, hits)
	}
}

// BenchmarkSearch runs against the in-process fake, so it measures the
// client's own cost (encoding, session lookup, decoding, checks) plus a
// linear scan in the fake, not Supermemory's latency, which only a run
// against the real API can show. 2k memories per scope rather than the
// SQL stores' 10k: the fake scans every document on each call, which would
// make loading 10k per scope take minutes and measure nothing more.
func BenchmarkSearch(b *testing.B) {
	memorytest.BenchmarkSearch(b, backend(b, providertest.NewSupermemory(b)), 2_000)
}
