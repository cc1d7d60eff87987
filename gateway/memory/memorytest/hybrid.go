package memorytest

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/hybrid"
)

// RunHybrid is the suite of hybrid recall (gateway/memory/hybrid) over a
// store's vectors, with a fake embedder that knows a few synonyms: fusion
// finds a paraphrase the lexical search misses, a failed or late query
// embedding gives the lexical results (reported lexical-only), a failed
// write embedding loses no memory and reindex repairs it, and vectors of
// another model are never used. newBackend must return a backend of its
// own on each call: reindex embeds every scope's memories.
func RunHybrid(t *testing.T, newBackend func(t *testing.T) VectorBackend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b VectorBackend)
	}{
		{"Paraphrase", testHybridParaphrase},
		{"FusedScores", testHybridFusedScores},
		{"QueryEmbeddingFails", testHybridQueryFails},
		{"QueryEmbeddingLate", testHybridQueryLate},
		{"WriteEmbeddingFails", testHybridWriteFails},
		{"ModelChange", testHybridModelChange},
		{"Supersede", testHybridSupersede},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend(t))
		})
	}
}

// concepts maps words of one meaning to one dimension of the fake's
// vectors; other words hash into the remaining dimensions.
var concepts = map[string]int{
	"ship": 0, "release": 0, "releases": 0, "deploy": 0, "deploys": 0, "prod": 0, "production": 0,
	"database": 1, "postgres": 1, "db": 1,
	"friday": 2, "fridays": 2, "weekend": 2,
}

const fakeDims = 32

// FakeEmbedder is a deterministic embedder for tests: a word of concepts
// counts for its concept's dimension (strongly), every other word for a
// hashed one. Model names the model it claims; Fail, when set, makes
// every call of that task fail; Calls counts calls.
type FakeEmbedder struct {
	Model string
	// Permute makes another model's vectors: the dimensions are rotated,
	// so its vectors are unlike this one's.
	Permute bool
	mu      sync.Mutex
	Fail    map[string]bool
	Calls   int
}

// Embed is the hybrid.Embedder.
func (f *FakeEmbedder) Embed(ctx context.Context, texts []string, task string) ([][]float32, string, error) {
	f.mu.Lock()
	f.Calls++
	fail := f.Fail[task]
	f.mu.Unlock()
	if fail {
		return nil, "", errors.New("fake embedder: upstream answered 503")
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = f.vector(t)
	}
	return out, f.Model, ctx.Err()
}

func (f *FakeEmbedder) vector(text string) []float32 {
	v := make([]float32, fakeDims)
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
		if d, ok := concepts[w]; ok {
			v[d] += 3
			continue
		}
		h := fnv.New32a()
		_, _ = h.Write([]byte(w))
		v[3+int(h.Sum32()%(fakeDims-3))]++
	}
	if f.Permute {
		v = append(v[fakeDims/2:], v[:fakeDims/2]...)
	}
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

func hybridOver(t *testing.T, b VectorBackend, f *FakeEmbedder) memory.Lifecycle {
	t.Helper()
	h, err := hybrid.New(b, hybrid.Options{Embed: f.Embed, MinScore: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	l, ok := h.(memory.Lifecycle)
	if !ok {
		t.Fatalf("hybrid over a Lifecycle is %T; want a Lifecycle", h)
	}
	return l
}

const (
	paraphraseAnswer = "Releases go out by blue-green deploy on Fridays"
	paraphraseQuery  = "how do we ship to prod"
)

// seedHybrid adds the answer and distractors to s through h.
func seedHybrid(t *testing.T, h memory.Backend, s memory.Scope) memory.Memory {
	t.Helper()
	answer := add(t, h, s, paraphraseAnswer, nil)
	for _, c := range []string{
		"the staging postgres listens on port 5433",
		"we prefer table-driven tests in Go",
		"how the logging is configured: slog with JSON output",
		"lint runs golangci-lint with the repo's config",
	} {
		add(t, h, s, c, nil)
	}
	return answer
}

func hsearch(t *testing.T, h memory.Backend, ctx context.Context, s memory.Scope, q string) ([]memory.Memory, hybrid.SearchInfo) {
	t.Helper()
	var info hybrid.SearchInfo
	ms, err := h.Search(hybrid.WithInfo(ctx, &info), s, q, 5)
	if err != nil {
		t.Fatalf("hybrid Search(%q): %v", q, err)
	}
	return ms, info
}

func testHybridParaphrase(t *testing.T, b VectorBackend) {
	f := &FakeEmbedder{Model: model("fake")}
	h, s := hybridOver(t, b, f), scope(t, "paraphrase")
	answer := seedHybrid(t, h, s)
	for _, m := range search(t, b, s, paraphraseQuery, 5) {
		if m.ID == answer.ID {
			t.Fatalf("lexical search found the paraphrase's answer; the test needs a query that shares no word with it")
		}
	}
	ms, info := hsearch(t, h, t.Context(), s, paraphraseQuery)
	if len(ms) == 0 || ms[0].ID != answer.ID {
		t.Fatalf("hybrid search = %v (%+v); want %s first", ids(ms), info, answer.ID)
	}
	if info.LexicalOnly || info.Model != f.Model || info.VectorHits == 0 {
		t.Errorf("info %+v; want vector results of model %s", info, f.Model)
	}
	if ms[0].Content != paraphraseAnswer {
		t.Errorf("content %q", ms[0].Content)
	}
}

func testHybridFusedScores(t *testing.T, b VectorBackend) {
	f := &FakeEmbedder{Model: model("fake")}
	h, s := hybridOver(t, b, f), scope(t, "fused")
	seedHybrid(t, h, s)
	both := add(t, h, s, "the production postgres database is backed up nightly", nil)
	ms, _ := hsearch(t, h, t.Context(), s, "production postgres database")
	if len(ms) == 0 || ms[0].ID != both.ID {
		t.Fatalf("hybrid search = %v; want %s (first in both lists) first", ids(ms), both.ID)
	}
	if math.Abs(ms[0].Score-1) > 1e-9 {
		t.Errorf("fused score of the first in both lists = %v; want 1", ms[0].Score)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].Score > ms[i-1].Score || ms[i].Score <= 0 || ms[i].Score > 1 {
			t.Errorf("fused scores %v: want in (0, 1], best first", scores(ms))
		}
	}
}

func scores(ms []memory.Memory) []float64 {
	out := make([]float64, len(ms))
	for i, m := range ms {
		out[i] = m.Score
	}
	return out
}

func testHybridQueryFails(t *testing.T, b VectorBackend) {
	f := &FakeEmbedder{Model: model("fake")}
	h, s := hybridOver(t, b, f), scope(t, "qfail")
	seedHybrid(t, h, s)
	f.mu.Lock()
	f.Fail = map[string]bool{hybrid.TaskQuery: true}
	f.mu.Unlock()
	lex := search(t, b, s, "postgres port", 5)
	ms, info := hsearch(t, h, t.Context(), s, "postgres port")
	if !info.LexicalOnly || info.Reason != "embedding_failed" {
		t.Errorf("info %+v; want lexical only, embedding_failed", info)
	}
	wantIDs(t, "lexical-only results", ms, ids(lex)...)
	if len(ms) > 0 && math.Abs(ms[0].Score-1) > 1e-9 {
		t.Errorf("lexical-only first score %v; want 1 ((k+1)/(k+1))", ms[0].Score)
	}
}

// testHybridQueryLate: an embedder that never answers (until its context
// ends) gives the lexical results, not an error, when the caller's
// deadline nears.
func testHybridQueryLate(t *testing.T, b VectorBackend) {
	f := &FakeEmbedder{Model: model("fake")}
	h0, s := hybridOver(t, b, f), scope(t, "qlate")
	seedHybrid(t, h0, s)
	stuck := func(ctx context.Context, texts []string, task string) ([][]float32, string, error) {
		<-ctx.Done()
		return nil, "", ctx.Err()
	}
	h, err := hybrid.New(b, hybrid.Options{Embed: stuck})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	lex := search(t, b, s, "postgres port", 5)
	ms, info := hsearch(t, h, ctx, s, "postgres port")
	if !info.LexicalOnly || info.Reason != "embedding_late" {
		t.Errorf("info %+v; want lexical only, embedding_late", info)
	}
	wantIDs(t, "lexical-only results", ms, ids(lex)...)
}

func testHybridWriteFails(t *testing.T, b VectorBackend) {
	f := &FakeEmbedder{Model: model("fake"), Fail: map[string]bool{hybrid.TaskDocument: true}}
	h, s := hybridOver(t, b, f), scope(t, "wfail")
	answer := seedHybrid(t, h, s)
	if got := get(t, b, s, answer.ID); got.Content != paraphraseAnswer {
		t.Fatalf("memory not stored when its embedding failed: %+v", got)
	}
	if ms, _ := hsearch(t, h, t.Context(), s, paraphraseQuery); len(ms) != 0 {
		t.Errorf("hybrid search before reindex = %v; want nothing (no vectors, no shared word)", ids(ms))
	}
	if n := len(missing(t, b, s, f.Model, fakeDims)); n != 5 {
		t.Errorf("%d memories without a vector; want 5", n)
	}
	f.mu.Lock()
	f.Fail = nil
	f.mu.Unlock()
	var batches int
	if _, err := hybrid.Reindex(t.Context(), b, f.Embed, 2, func(hybrid.Progress) { batches++ }); err != nil {
		t.Fatal(err)
	}
	if n := len(missing(t, b, s, f.Model, fakeDims)); n != 0 || batches < 3 {
		t.Errorf("after reindex: %d without a vector, %d batches of 2; want 0 and at least 3", n, batches)
	}
	if ms, _ := hsearch(t, h, t.Context(), s, paraphraseQuery); len(ms) == 0 || ms[0].ID != answer.ID {
		t.Errorf("hybrid search after reindex = %v; want %s first", ids(ms), answer.ID)
	}
}

func testHybridModelChange(t *testing.T, b VectorBackend) {
	old := &FakeEmbedder{Model: model("old")}
	s := scope(t, "model")
	answer := seedHybrid(t, hybridOver(t, b, old), s)
	// The new model's vectors are unlike the old one's: comparing them
	// would rank at random. Until reindex, its search has no vectors.
	nw := &FakeEmbedder{Model: model("new"), Permute: true}
	h := hybridOver(t, b, nw)
	ms, info := hsearch(t, h, t.Context(), s, paraphraseQuery)
	if len(ms) != 0 || info.VectorHits != 0 || info.LexicalOnly {
		t.Errorf("new model before reindex: %v, %+v; want no vector candidates (old vectors not compared)", ids(ms), info)
	}
	if _, err := hybrid.Reindex(t.Context(), b, nw.Embed, 0, nil); err != nil {
		t.Fatal(err)
	}
	if ms, _ := hsearch(t, h, t.Context(), s, paraphraseQuery); len(ms) == 0 || ms[0].ID != answer.ID {
		t.Errorf("after reindex with the new model = %v; want %s first", ids(ms), answer.ID)
	}
	if ms, info := hsearch(t, hybridOver(t, b, old), t.Context(), s, paraphraseQuery); len(ms) != 0 || info.VectorHits != 0 {
		t.Errorf("old model after reindex: %v, %+v; want nothing (vectors replaced by the new model's)", ids(ms), info)
	}
}

func testHybridSupersede(t *testing.T, b VectorBackend) {
	f := &FakeEmbedder{Model: model("fake")}
	h, s := hybridOver(t, b, f), scope(t, "hsupersede")
	answer := seedHybrid(t, h, s)
	n, err := h.Supersede(t.Context(), s, answer.ID, "Releases go out by blue-green deploy on Tuesdays", memory.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := hsearch(t, h, t.Context(), s, paraphraseQuery)
	if len(ms) == 0 || ms[0].ID != n.ID {
		t.Fatalf("hybrid search after supersede = %v; want the new memory %s first", ids(ms), n.ID)
	}
	for _, m := range ms {
		if m.ID == answer.ID {
			t.Errorf("superseded memory %s returned", answer.ID)
		}
	}
	e, err := h.Update(t.Context(), s, n.ID, "Releases go out by blue-green deploy on Wednesdays")
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := hsearch(t, h, t.Context(), s, paraphraseQuery); len(ms) == 0 || ms[0].ID != e.ID {
		t.Errorf("hybrid search after edit = %v; want the edited memory %s first", ids(ms), e.ID)
	}
}
