package recall_test

// The hybrid path end to end, against the fake embeddings upstream:
// memories embedded in batches through the router (Gemini dialect),
// stored int8, the query embedded (OpenAI dialect), nearest neighbours
// fused with the local store's full-text results, and the fallback to
// lexical results when the embedding call fails. The fake's vectors are
// an oracle (a query and its answer share a direction), so this proves
// the plumbing, not any model's quality.

import (
	"errors"
	"fmt"
	"github.com/memproxy/memproxy/gateway/recall"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/memory/memorytest"
	"github.com/memproxy/memproxy/gateway/provider"
	"github.com/memproxy/memproxy/gateway/provider/embed"
	"github.com/memproxy/memproxy/gateway/provider/gemini"
	"github.com/memproxy/memproxy/gateway/provider/openai"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// oracle gives each paraphrase memory and its question one shared
// direction among 128, plus noise; any other text gets noise only.
func oracle() func(string) []float32 {
	topic := map[string]int{}
	n := 0
	for _, p := range memorytest.ParaphraseSet {
		for _, q := range p.Queries {
			topic[q.Text] = n + q.Relevant[0]
		}
		for i, m := range p.Memories {
			topic[m] = n + i
		}
		n += len(p.Memories)
	}
	return func(text string) []float32 {
		h := fnv.New64a()
		_, _ = h.Write([]byte(text))
		rng := rand.New(rand.NewPCG(h.Sum64(), 1))
		v := make([]float32, 128)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.1)
		}
		if i, ok := topic[text]; ok {
			v[i] += 1
		}
		return v
	}
}

func TestHybridPlumbing(t *testing.T) {
	db := localStore(t)
	f := providertest.NewEmbeddings(t)
	f.Vector = oracle()
	r := provider.NewRouter(provider.NewTable([]*provider.Deployment{
		{ModelName: "docs", UpstreamModel: "gemini-embedding-001", Dialect: provider.DialectGemini,
			Provider: gemini.New(gemini.Options{BaseURL: f.URL + "/v1beta", Model: "gemini-embedding-001", APIKey: "k"})},
		{ModelName: "queries", UpstreamModel: "text-embedding-3-small", Dialect: provider.DialectOpenAI,
			Provider: openai.New(openai.Options{BaseURL: f.URL + "/v1"})},
	}), provider.RouterOptions{})
	found := 0
	for _, p := range memorytest.ParaphraseSet {
		s := memory.Scope("u:hybrid/p:" + p.Name)
		docs, err := embed.Embed(t.Context(), r, embed.Request{Model: "docs", Inputs: p.Memories, Dimensions: 96, Task: embed.TaskDocument})
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(p.Memories))
		stored := make([]recall.Quantized, len(p.Memories))
		for i, c := range p.Memories {
			m, _, err := db.Add(t.Context(), s, c, nil)
			if err != nil {
				t.Fatal(err)
			}
			ids[i], stored[i] = m.ID, recall.Quantize(docs.Vectors[i])
		}
		for _, q := range p.Queries {
			lex := lexical(t, db, s, q.Text)
			qv, err := embed.Embed(t.Context(), r, embed.Request{Model: "queries", Inputs: []string{q.Text}, Dimensions: 96, Task: embed.TaskQuery})
			if err != nil {
				t.Fatal(err)
			}
			query := recall.NewQuery(qv.Vectors[0])
			vec, skipped := recall.Nearest(len(stored), 10, 0.3, func(i int) (string, float64, error) {
				c, err := query.CosineQuantized(stored[i])
				return ids[i], c, err
			})
			fused := recall.Cut(recall.Fuse(lex, vec, recall.DefaultK), 5, 0)
			if skipped != 0 || len(fused) == 0 {
				t.Fatalf("%q: skipped %d, fused %v", q.Text, skipped, fused)
			}
			if slices.ContainsFunc(fused, func(h recall.Hit) bool { return h.ID == ids[q.Relevant[0]] }) {
				found++
			}
			if slices.ContainsFunc(lex, func(h recall.Hit) bool { return h.ID == ids[q.Relevant[0]] }) {
				t.Errorf("%q: full-text search found its answer; the paraphrase set says it cannot", q.Text)
			}
		}
	}
	if found != 72 {
		t.Errorf("fused top 5 holds %d of 72 answers; the oracle vectors put every answer first", found)
	}
	// 6 batch calls for the memories (12 each, one batchEmbedContents),
	// one embeddings call per query.
	if n := len(f.Requests()); n != 6+72 {
		t.Errorf("%d upstream calls; want 78", n)
	}
}

// lexical is the store's full-text result list as hits.
func lexical(t *testing.T, db memory.Backend, s memory.Scope, q string) []recall.Hit {
	t.Helper()
	ms, err := db.Search(t.Context(), s, q, 10)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]recall.Hit, len(ms))
	for i, m := range ms {
		out[i] = recall.Hit{ID: m.ID, Score: m.Score}
	}
	return out
}

// TestHybridFallback: when the query cannot be embedded the request goes
// on with the lexical list alone, in its own order and with fused scores
// a threshold means the same thing for.
func TestHybridFallback(t *testing.T) {
	db := localStore(t)
	f := providertest.NewEmbeddings(t)
	f.Status = 503
	r := provider.NewRouter(provider.NewTable([]*provider.Deployment{{ModelName: "queries", UpstreamModel: "m",
		Dialect: provider.DialectOpenAI, Provider: openai.New(openai.Options{BaseURL: f.URL + "/v1"})}}), provider.RouterOptions{})
	s := memory.Scope("u:hybrid/p:fallback")
	for i := range 8 {
		if _, _, err := db.Add(t.Context(), s, fmt.Sprintf("deploy note %d about the release train", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	lex := lexical(t, db, s, "deploy release")
	_, err := embed.Embed(t.Context(), r, embed.Request{Model: "queries", Inputs: []string{"deploy release"}})
	var ue *embed.UpstreamError
	if !errors.As(err, &ue) || ue.Status != 503 {
		t.Fatalf("err %v; want the upstream's 503", err)
	}
	fused := recall.Cut(recall.Fuse(lex, nil, 0), 5, 0)
	if len(lex) < 5 || !slices.Equal(hitIDs(fused), hitIDs(lex)[:5]) || fused[0].Score != 1 {
		t.Errorf("lexical only: fused %v; want the lexical top 5 in order, the first scoring 1", fused)
	}
}

func hitIDs(hs []recall.Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}
