package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
	"github.com/memproxy/memproxy/gateway/usage"
)

// scriptedExtractor is an OpenAI-compatible extraction model: asked for
// facts it states the port the person's message names; asked to decide,
// it supersedes the first candidate.
func scriptedExtractor(t *testing.T) (*httptest.Server, *int) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		var req struct {
			Messages []struct{ Role, Content string } `json:"messages"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &req)
		in := req.Messages[len(req.Messages)-1].Content
		var out string
		var decide struct {
			Facts []struct {
				Memories []struct{ ID string } `json:"memories"`
			} `json:"facts"`
		}
		switch {
		case json.Unmarshal([]byte(in), &decide) == nil && len(decide.Facts) > 0:
			out = `{"decisions": [{"fact": 0, "action": "update", "id": "` + decide.Facts[0].Memories[0].ID + `"}]}`
		case strings.Contains(in, "7000"):
			out = `{"facts": [{"fact": "The staging database listens on port 7000.", "keys": ["staging db port", "where staging runs"]}]}`
		case strings.Contains(in, "6543"):
			out = `{"facts": [{"fact": "The staging database listens on port 6543.", "keys": ["staging db port"]}]}`
		default:
			out = `{"facts": []}`
		}
		c, _ := json.Marshal(out)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","created":1,"model":"ex","choices":[{"index":0,"message":{"role":"assistant","content":`+
			string(c)+`},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":12,"total_tokens":52}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestExtractionSupersedesStaleFacts: with an extraction model, a finished
// turn is stored as its facts; a later turn that changes a fact supersedes
// the old memory (kept in history, never injected again); every
// extraction call is a usage row of its own linked to the turn.
func TestExtractionSupersedesStaleFacts(t *testing.T) {
	oai := providertest.NewOpenAI(t)
	ex, _ := scriptedExtractor(t)
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: gpt\n    litellm_params: {model: openai/gpt-up, api_base: \"" + oai.URL + "/v1\", api_key: k}\n" +
		"  - model_name: extractor\n    litellm_params: {model: openai/ex, api_base: \"" + ex.URL + "/v1\", api_key: k}\n" +
		"context_retrieval:\n  enabled: true\n  write_back: user_only\n  extraction: {model: extractor}\n"
	h := &dialectHarness{harness: serveYAML(t, y, oai, nil)}
	b := h.srv.opts.Memory.Backend
	lc, err := memory.LifecycleOf(b)
	if err != nil {
		t.Fatal(err)
	}
	sc := memory.Scope("u:alice/p:shop")
	active := func() []memory.Memory {
		ms, _, err := b.List(context.Background(), sc, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	waitUntil := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 10 s; memories %+v", what, active())
			}
		}
	}
	h.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"For the record: the staging database listens on port 6543."}]}`, alice...)
	waitUntil("the first fact", func() bool { return len(active()) == 1 })
	first := active()[0]
	if first.Content != "The staging database listens on port 6543." || first.Source.Client == "" {
		t.Fatalf("stored %+v", first)
	}
	h.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"We moved staging to port 7000 yesterday."}]}`, alice...)
	waitUntil("the supersede", func() bool { ms := active(); return len(ms) == 1 && strings.Contains(ms[0].Content, "7000") })
	hist, err := lc.History(context.Background(), sc, active()[0].ID)
	if err != nil || len(hist) != 2 || hist[0].ID != first.ID || hist[0].Status != memory.StatusSuperseded {
		t.Fatalf("history: %+v %v", hist, err)
	}
	// The next question gets the new fact only.
	resp, _ := h.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"which port does the staging database use?"}]}`, alice...)
	if resp.Header.Get("X-Memproxy-Memories") != active()[0].ID {
		t.Errorf("injected %q, want only the new fact %s", resp.Header.Get("X-Memproxy-Memories"), active()[0].ID)
	}
	sent, _ := json.Marshal(oai.Requests()[2].Body["messages"])
	if strings.Contains(string(sent), "6543") || !strings.Contains(string(sent), "7000") {
		t.Errorf("the prompt holds the stale fact: %s", sent)
	}
	var rows []usage.Record
	for _, r := range h.rows() {
		if r.Purpose == "memory_extraction" {
			rows = append(rows, r)
		}
	}
	if len(rows) < 3 { // facts, facts, decision (the third turn's facts call may add one)
		t.Fatalf("%d extraction rows", len(rows))
	}
	for _, r := range rows {
		if r.ParentRequestID == "" || r.PromptTokens != 40 || r.Model != "extractor" || r.User != "alice" || r.Project != "shop" {
			t.Errorf("extraction row %+v", r)
		}
	}
}
