package lexical

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestTerms(t *testing.T) {
	for in, want := range map[string][]string{
		"Running the deploys, quickly!":  {"run", "deploy", "quick"},
		"how do I run it":                {"run"},
		`"OR" NOT (a*) ^b: c-d`:          {"b", "c", "d"},
		"v1.2.3 go-sqlite3":              {"v1", "2", "3", "go", "sqlite3"},
		"Straße CAFÉ Ελληνικά":           {"straße", "café", "ελληνικά"},
		"":                               nil,
		"the and of":                     nil,
		"deploy deploy Deploys deployed": {"deploy", "deploy", "deploy", "deploy"},
	} {
		if got := Terms(in); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("Terms(%q) = %q; want %q", in, got, want)
		}
	}
	if got := QueryTerms("deploy deploys DEPLOYED run"); !slices.Equal(got, []string{"deploy", "run"}) {
		t.Errorf("QueryTerms dedup = %q", got)
	}
	var long []byte
	for i := range 100 {
		long = append(long, fmt.Sprint(i%10)...)
	}
	if got := QueryTerms(string(long)); len(got) != 1 || len(got[0]) != maxWordBytes {
		t.Errorf("a 100-byte word gives %q; want its %d-byte prefix", got, maxWordBytes)
	}
	many := ""
	for i := range 50 {
		many += fmt.Sprintf("w%d ", i)
	}
	if got := QueryTerms(many); len(got) != MaxQueryTerms {
		t.Errorf("50 distinct words give %d terms; want %d", len(got), MaxQueryTerms)
	}
}

func ids(hs []Hit) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.ID)
	}
	return out
}

func TestSearchRanksByBM25(t *testing.T) {
	ix := New()
	ix.Add("a", 1, "deploy the payments service with make deploy")
	ix.Add("b", 2, "the payments team owns billing")
	ix.Add("c", 3, "deploy on fridays")
	ix.Add("d", 4, "unrelated text about lunch")
	ix.Add("e", 5, "more lunch options downtown")
	got := ids(ix.Search(QueryTerms("how do we deploy payments"), 10))
	// a holds both words (deploy twice); then the shorter single-word
	// matches; d and e hold neither.
	if want := []string{"a", "c", "b"}; !slices.Equal(got, want) {
		t.Errorf("Search = %v; want %v", got, want)
	}
	if got := ids(ix.Search(QueryTerms("deploy payments"), 1)); !slices.Equal(got, []string{"a"}) {
		t.Errorf("limit 1 = %v; want [a]", got)
	}
	if got := ix.Search(QueryTerms("nothing matches"), 10); got != nil {
		t.Errorf("no match = %v; want nil", got)
	}
	if got := ix.Search(nil, 10); got != nil {
		t.Errorf("no terms = %v; want nil", got)
	}
}

func TestSearchTiesNewestFirst(t *testing.T) {
	ix := New()
	ix.Add("old", 1, "same words here")
	ix.Add("new", 9, "same words here")
	ix.Add("mid", 5, "same words here")
	ix.Add("filler1", 6, "other text entirely")
	ix.Add("filler2", 7, "other text again")
	if got := ids(ix.Search([]string{"word"}, 10)); !slices.Equal(got, []string{"new", "mid", "old"}) {
		t.Errorf("ties = %v; want newest first", got)
	}
}

func TestRemove(t *testing.T) {
	ix := New()
	ix.Add("a", 1, "alpha beta")
	ix.Add("b", 2, "alpha gamma")
	ix.Add("a", 3, "delta") // already live: ignored
	if ix.Len() != 2 {
		t.Fatalf("Len = %d; want 2", ix.Len())
	}
	ix.Remove("a")
	ix.Remove("nope")
	if got := ids(ix.Search([]string{"alpha"}, 10)); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after Remove(a): %v; want [b]", got)
	}
	if got := ix.Search([]string{"beta"}, 10); got != nil {
		t.Errorf("a removed memory's only word still finds %v", ids(got))
	}
	if ix.Len() != 1 || ix.posts[ix.dict["alpha"]].df != 1 {
		t.Errorf("Len %d, df(alpha) %d after Remove; want 1, 1", ix.Len(), ix.posts[ix.dict["alpha"]].df)
	}
	ix.Add("a", 4, "alpha again") // a removed id may come back
	if got := ids(ix.Search([]string{"alpha"}, 10)); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("re-added: %v; want [a b]", got)
	}
}

func TestSparse(t *testing.T) {
	ix := New()
	for i := range 2000 {
		ix.Add(fmt.Sprint(i), int64(i), "word")
	}
	for i := range 500 {
		ix.Remove(fmt.Sprint(i))
	}
	if ix.Sparse() {
		t.Errorf("a quarter removed: Sparse; want not yet")
	}
	ix.Remove("500")
	if !ix.Sparse() {
		t.Errorf("over a quarter removed: not Sparse")
	}
}

func TestCacheVersions(t *testing.T) {
	var c Cache
	ctx := t.Context()
	loads := 0
	load := func(docs ...string) Loader {
		return func(_ context.Context, bd *Builder) (int64, error) {
			loads++
			for i, d := range docs {
				if err := bd.Add(d, int64(i), d); err != nil {
					return 7, err
				}
			}
			return 7, nil
		}
	}
	ix, tooLarge, err := c.Index(ctx, "s", 7, load("apple", "banana"), nil)
	if err != nil || tooLarge || ix.Len() != 2 || loads != 1 {
		t.Fatalf("first Index: %v, %v, %v, %d loads", ix, tooLarge, err, loads)
	}
	if again, _, _ := c.Index(ctx, "s", 7, load(), nil); again != ix || loads != 1 {
		t.Errorf("same version: rebuilt")
	}
	// This process's write moving 7 → 8: applied, no rebuild.
	c.Update("s", 7, 8, func(ix *Index) { ix.Add("cherry", 9, "cherry") })
	if v, ok := c.Version("s"); !ok || v != 8 {
		t.Errorf("after Update 7→8: version %d, %v; want 8", v, ok)
	}
	if ix, _, _ := c.Index(ctx, "s", 8, load(), nil); loads != 1 || len(ix.Search([]string{"cherri"}, 1)) != 1 {
		t.Errorf("after own write: %d loads, cherry found %v", loads, ix.Search([]string{"cherri"}, 1))
	}
	// A write from a version the index is not at (another process wrote
	// in between): left alone, the next search rebuilds.
	c.Update("s", 9, 10, func(ix *Index) { t.Errorf("applied a write to an index at another version") })
	if _, _, err := c.Index(ctx, "s", 10, load("apple"), nil); err != nil || loads != 2 {
		t.Errorf("version moved elsewhere: %d loads, %v; want a rebuild", loads, err)
	}
	// Other scopes never share an index.
	if ix, _, _ := c.Index(ctx, "t", 7, load("durian"), nil); len(ix.Search([]string{"appl"}, 10)) != 0 {
		t.Errorf("scope t finds scope s's memory")
	}
	c.Drop("s")
	if _, ok := c.Version("s"); ok {
		t.Errorf("Drop kept the index")
	}
}

func TestCacheTooLarge(t *testing.T) {
	c := Cache{MaxBytes: 1}
	loads := 0
	load := func(_ context.Context, bd *Builder) (int64, error) {
		loads++
		return 3, bd.Add("a", 1, "some words")
	}
	ctx := t.Context()
	ix, tooLarge, err := c.Index(ctx, "s", 3, load, nil)
	if ix != nil || !tooLarge || err != nil {
		t.Fatalf("over budget: %v, %v, %v; want too large", ix, tooLarge, err)
	}
	if _, tooLarge, _ := c.Index(ctx, "s", 4, load, nil); !tooLarge || loads != 1 {
		t.Errorf("a version later: tooLarge %v after %d loads; want remembered", tooLarge, loads)
	}
	if _, _, _ = c.Index(ctx, "s", 3+retryTooLarge, load, nil); loads != 2 {
		t.Errorf("%d versions later: %d loads; want tried again", retryTooLarge, loads)
	}
	failing := func(context.Context, *Builder) (int64, error) { return 0, errors.New("db down") }
	if _, _, err := c.Index(ctx, "u", 1, failing, nil); err == nil {
		t.Errorf("a failing load: no error")
	}
}

func TestCacheEvicts(t *testing.T) {
	one := New()
	one.Add("x", 1, "some words to index")
	size := one.Bytes()
	c := Cache{MaxBytes: 2*size + size/2}
	for _, s := range []string{"a", "b", "c"} {
		c.Index(t.Context(), s, 1, func(_ context.Context, bd *Builder) (int64, error) { return 1, bd.Add("x", 1, "some words to index") }, nil)
	}
	if _, ok := c.Version("a"); ok {
		t.Errorf("the least recently used index was kept over the budget")
	}
	for _, s := range []string{"b", "c"} {
		if _, ok := c.Version(s); !ok {
			t.Errorf("index %s evicted; want kept", s)
		}
	}
	if c.used > c.MaxBytes {
		t.Errorf("cache holds %d bytes; budget %d", c.used, c.MaxBytes)
	}
}

// TestCacheRefresh: an index another process's writes left behind is
// caught up with a snapshot (what is gone leaves, what is missing joins)
// instead of rebuilt; a refresher that finds it too stale gets a build.
func TestCacheRefresh(t *testing.T) {
	var c Cache
	ctx := t.Context()
	builds := 0
	build := func(docs ...string) Loader {
		return func(_ context.Context, bd *Builder) (int64, error) {
			builds++
			for i, d := range docs {
				bd.Add(d, int64(i), d)
			}
			return 1, nil
		}
	}
	if _, _, err := c.Index(ctx, "s", 1, build("apple", "banana"), nil); err != nil {
		t.Fatal(err)
	}
	var asked []string
	refresh := func(_ context.Context, has func(string) bool) (Snapshot, error) {
		for _, id := range []string{"banana", "cherry"} {
			if !has(id) {
				asked = append(asked, id)
			}
		}
		return Snapshot{Version: 5, Live: map[string]bool{"banana": true, "cherry": true},
			Missing: []Doc{{ID: "cherry", Order: 9, Text: "cherry"}}}, nil
	}
	ix, _, err := c.Index(ctx, "s", 5, build(), refresh)
	if err != nil || builds != 1 || c.Refreshes() != 1 {
		t.Fatalf("refresh: %v, %d builds, %d refreshes; want 1 build, 1 refresh", err, builds, c.Refreshes())
	}
	if !slices.Equal(asked, []string{"cherry"}) {
		t.Errorf("the refresher was told the index lacks %v; want [cherry]", asked)
	}
	for q, want := range map[string][]string{"appl": nil, "banana": {"banana"}, "cherri": {"cherry"}} {
		if got := ids(ix.Search([]string{q}, 10)); !slices.Equal(got, want) {
			t.Errorf("after the refresh, %q finds %v; want %v", q, got, want)
		}
	}
	if v, _ := c.Version("s"); v != 5 {
		t.Errorf("refreshed index at version %d; want 5", v)
	}
	tooStale := func(context.Context, func(string) bool) (Snapshot, error) { return Snapshot{}, ErrTooStale }
	if _, _, err := c.Index(ctx, "s", 6, build("durian"), tooStale); err != nil || builds != 2 {
		t.Errorf("too stale: %v, %d builds; want a build", err, builds)
	}
}

// TestCacheNotReady: a search that cannot wait for a build gets
// ErrNotReady at once; the build goes on, detached from it, and the next
// search finds the index without building again.
func TestCacheNotReady(t *testing.T) {
	var c Cache
	release := make(chan struct{})
	builds := 0
	load := func(ctx context.Context, bd *Builder) (int64, error) {
		builds++
		<-release
		if err := ctx.Err(); err != nil {
			return 0, err // the search's cancellation must not reach here
		}
		return 1, bd.Add("a", 1, "apple")
	}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := c.Index(gone, "s", 1, load, nil); !errors.Is(err, ErrNotReady) {
		t.Fatalf("a search that cannot wait: %v; want ErrNotReady", err)
	}
	close(release)
	ix, _, err := c.Index(t.Context(), "s", 1, load, nil)
	if err != nil || ix == nil || builds != 1 {
		t.Fatalf("the next search: %v, %v after %d builds; want the index of the first build", ix, err, builds)
	}
}
