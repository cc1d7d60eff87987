package gateway

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
	"github.com/memproxy/memproxy/gateway/track"
	"github.com/memproxy/memproxy/gateway/usage"
)

// The hybrid recall wiring: memories embedded through the router when
// added, the query embedded within the retrieval budget, a paraphrase
// found that shares no word with its memory, and every embedding call a
// usage row (purpose memory_embedding) tied to the request it served.

const (
	hybridAnswer = "Releases go out by blue-green deploy on Fridays"
	hybridQuery  = "how do we ship to prod?"
)

// conceptVector maps texts about shipping to one direction, so that the
// question and its answer are neighbours without sharing a word; other
// texts get the fake's bag-of-words vectors, zeroed on that direction.
func conceptVector(text string) []float32 {
	v := providertest.HashVector(text)
	v[0] = 0
	for _, w := range []string{"ship", "releases"} {
		if strings.Contains(strings.ToLower(text), w) {
			out := make([]float32, len(v))
			out[0] = 1
			return out
		}
	}
	return v
}

func hybridHarness(t *testing.T, dialect string, f *providertest.Embeddings) *harness {
	t.Helper()
	oai := providertest.NewOpenAI(t)
	emb := "openai/text-embedding-3-small, api_base: \"" + f.URL + "/v1\""
	if dialect == "gemini" {
		emb = "gemini/gemini-embedding-001, api_base: \"" + f.URL + "/v1beta\""
	}
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: gpt\n    litellm_params: {model: openai/gpt-up, api_base: \"" + oai.URL + "/v1\", api_key: k}\n" +
		"  - model_name: emb\n    litellm_params: {model: " + emb + ", api_key: k}\n" +
		"context_retrieval:\n  enabled: true\n  embedding_model: emb\n  vector_min_score: 0.5\n  retrieval_budget_ms: 30000\n"
	f.Vector = conceptVector
	return serveYAML(t, y, oai, nil)
}

func (h *harness) addMemory(content string) (id, requestID string) {
	h.t.Helper()
	dh := &dialectHarness{harness: h}
	resp, out := dh.send("/v1/memory", `{"content":`+strconvQuote(content)+`}`, alice...)
	var got struct{ Memory struct{ ID string } }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(out), &got) != nil {
		h.t.Fatalf("add memory: %d %s", resp.StatusCode, out)
	}
	return got.Memory.ID, resp.Header.Get("X-Request-Id")
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestHybridRecallParaphrase(t *testing.T) {
	for _, dialect := range []string{"openai", "gemini"} {
		t.Run(dialect, func(t *testing.T) {
			f := providertest.NewEmbeddings(t)
			h := hybridHarness(t, dialect, f)
			answer, _ := h.addMemory(hybridAnswer)
			h.addMemory("the staging postgres listens on port 5433")
			dh := &dialectHarness{harness: h}
			resp, out := dh.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"`+hybridQuery+`"}]}`, alice...)
			if resp.StatusCode != 200 || resp.Header.Get("X-Memproxy-Memories") != answer {
				t.Fatalf("%d memories %q; want %s (the paraphrase's answer): %s", resp.StatusCode, resp.Header.Get("X-Memproxy-Memories"), answer, out)
			}
			sent, _ := json.Marshal(h.fake.Requests()[0].Body["messages"])
			if !strings.Contains(string(sent), "blue-green") {
				t.Errorf("upstream prompt lacks the memory: %s", sent)
			}
			rows := h.rows()
			chat := rowOf(t, rows, func(r usage.Record) bool { return r.Path == "/v1/chat/completions" })
			if chat.MemoryStatus != track.MemInjected {
				t.Errorf("chat memory_status %q; want injected", chat.MemoryStatus)
			}
			var embeds []usage.Record
			for _, r := range rows {
				if r.Purpose == "memory_embedding" {
					embeds = append(embeds, r)
				}
			}
			// Two memories added, one query; the write-back of the turn
			// adds a third memory.
			if len(embeds) < 3 {
				t.Fatalf("%d embedding rows; want at least 3: %+v", len(embeds), embeds)
			}
			var parents []string
			for _, r := range embeds {
				parents = append(parents, r.ParentRequestID)
				if r.Model != "emb" || r.Status != 200 || r.PromptTokens <= 0 || r.UpstreamModel == "" || r.Ingress != "internal" {
					t.Errorf("embedding row %+v", r)
				}
			}
			if !slices.Contains(parents, chat.RequestID) {
				t.Errorf("no embedding row with the chat request %s as parent: %v", chat.RequestID, parents)
			}
			if r := embeds[0]; dialect == "openai" && r.PromptTokens != int64(providertest.EmbedTokens(hybridAnswer)) {
				t.Errorf("first embedding row: %d tokens; want the upstream's %d", r.PromptTokens, providertest.EmbedTokens(hybridAnswer))
			}
		})
	}
}

func rowOf(t *testing.T, rows []usage.Record, match func(usage.Record) bool) usage.Record {
	t.Helper()
	for _, r := range rows {
		if match(r) {
			return r
		}
	}
	t.Fatalf("no such usage row among %d", len(rows))
	return usage.Record{}
}

// TestHybridRecallLexicalOnly: with the embeddings upstream refusing, a
// memory is still stored, the request still gets the lexical results,
// and its row says lexical_only.
func TestHybridRecallLexicalOnly(t *testing.T) {
	f := providertest.NewEmbeddings(t)
	f.Status = http.StatusBadRequest // not retried
	h := hybridHarness(t, "openai", f)
	id, _ := h.addMemory("the staging postgres listens on port 5433")
	dh := &dialectHarness{harness: h}
	resp, out := dh.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"which port does staging postgres use?"}]}`, alice...)
	if resp.StatusCode != 200 || resp.Header.Get("X-Memproxy-Memories") != id {
		t.Fatalf("%d memories %q; want %s found lexically: %s", resp.StatusCode, resp.Header.Get("X-Memproxy-Memories"), id, out)
	}
	rows := h.rows()
	chat := rowOf(t, rows, func(r usage.Record) bool { return r.Path == "/v1/chat/completions" })
	if chat.MemoryStatus != track.MemLexicalOnly || chat.MemoryCount != 1 {
		t.Errorf("chat memory_status %q (%d memories); want lexical_only with 1", chat.MemoryStatus, chat.MemoryCount)
	}
	failed := rowOf(t, rows, func(r usage.Record) bool {
		return r.Purpose == "memory_embedding" && r.ParentRequestID == chat.RequestID
	})
	if failed.Status != http.StatusBadRequest || failed.ErrorType != "upstream_error" {
		t.Errorf("failed embedding row: status %d, error %q", failed.Status, failed.ErrorType)
	}
}
