package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// agentFacts are what the scripted extractor distils from a turn that
// names their marker; a turn naming none has no durable fact.
var agentFacts = []struct{ marker, fact string }{
	{"6543", "The staging database listens on port 6543."},
	{"make ship", "The project deploys with make ship on Tuesdays."},
	{"Buildkite", "The project's CI runs on Buildkite."},
}

// extractor is a scripted OpenAI-compatible extraction model: asked for a
// turn's facts it states those of agentFacts whose marker the turn names;
// asked to decide, it adds each fact. It keeps every turn it was given.
type extractor struct {
	*httptest.Server
	mu    sync.Mutex
	turns []string
}

func newExtractor(t *testing.T) *extractor {
	x := &extractor{}
	x.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &req) != nil || len(req.Messages) == 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		in := req.Messages[len(req.Messages)-1].Content
		var decide struct {
			Facts []json.RawMessage `json:"facts"`
		}
		type fact struct {
			Fact string   `json:"fact"`
			Keys []string `json:"keys"`
		}
		var out any
		if json.Unmarshal([]byte(in), &decide) == nil && len(decide.Facts) > 0 {
			var ds []map[string]any
			for i := range decide.Facts {
				ds = append(ds, map[string]any{"fact": i, "action": "add"})
			}
			out = map[string]any{"decisions": ds}
		} else {
			x.mu.Lock()
			x.turns = append(x.turns, in)
			x.mu.Unlock()
			facts := []fact{}
			for _, f := range agentFacts {
				if strings.Contains(in, f.marker) {
					facts = append(facts, fact{f.fact, []string{f.marker, "project fact"}})
				}
			}
			out = map[string]any{"facts": facts}
		}
		content, _ := json.Marshal(out)
		answer, _ := json.Marshal(map[string]any{"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "ex",
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": string(content)}, "finish_reason": "stop"}},
			"usage":   map[string]int{"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	}))
	t.Cleanup(x.Close)
	return x
}

// seen returns the turns the extractor was given.
func (x *extractor) seen() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]string(nil), x.turns...)
}

// extractedFact is the memory the extractor makes of a turn whose prompt
// is said ("" when it states no fact).
func extractedFact(said string) string {
	for _, f := range agentFacts {
		if strings.Contains(said, f.marker) {
			return f.fact
		}
	}
	return ""
}

// checkExtracted asserts the extractor was given each turn once, with the
// person's words and none of the client's boilerplate, tool output or
// recalled memories.
func checkExtracted(t *testing.T, seen, prompts []string) {
	t.Helper()
	for _, p := range prompts {
		n := 0
		for _, s := range seen {
			if strings.Contains(s, p) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the extractor was given the turn %q %d times, want once", p, n)
		}
	}
	for _, s := range seen {
		for _, b := range boilerplate {
			if strings.Contains(s, b) {
				t.Errorf("the extractor was given %q: %.400q", b, s)
			}
		}
	}
}
