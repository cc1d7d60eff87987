package tools

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/gateway/memory"
)

func docBackend() *fakeBackend {
	b := rexBackend()
	b.GetF = func(s memory.Scope, id string) (memory.Memory, error) {
		if s != scope || id != "mem_1" { // what Backend.Get guarantees
			return memory.Memory{}, memory.ErrNotFound
		}
		return memory.Memory{ID: "mem_1", Content: "The user's dog is called Rex.",
			Metadata: map[string]string{"source": "chat", memory.ReservedMetaPrefix + "hash": "abc"}}, nil
	}
	return b
}

// (8) The scope guard: a containerTag naming another scope is an error
// result and the backend is never read; ids are looked up in the bound
// scope only; the id aliases work.
func TestMemoryToolsScope(t *testing.T) {
	tests := []struct {
		tool, args string
		wantErr    string // "" for success
		wantIn     string
		backend    []string
	}{
		{SearchToolName, `{"query":"dog","containerTag":"u:mallory/p:shop"}`, "containerTag", "", nil},
		{SearchToolName, `{"query":"dog","containerTag":"u:alice/p:shop2"}`, "containerTag", "", nil},
		{SearchToolName, `{"query":"dog","containerTag":"u:alice/p:shop"}`, "", "Rex", []string{`Search u:alice/p:shop "dog" 3`}},
		{SearchToolName, `{"query":"dog"}`, "", `"count":1`, []string{`Search u:alice/p:shop "dog" 3`}},
		{SearchToolName, `{"query":"  "}`, "query is required", "", nil},
		{SearchToolName, `{"query":7}`, "query must be a string", "", nil},
		{SearchToolName, `[1]`, "not a JSON object", "", nil},
		{GetDocumentToolName, `{"id":"mem_1"}`, "", "Rex", []string{"Get u:alice/p:shop mem_1"}},
		{GetDocumentToolName, `{"doc_id":"mem_1"}`, "", "Rex", []string{"Get u:alice/p:shop mem_1"}},
		{GetDocumentToolName, `{"document_id":"mem_1"}`, "", `"source":"chat"`, []string{"Get u:alice/p:shop mem_1"}},
		{GetDocumentToolName, `{"id":"mem_of_bob"}`, `no memory with id "mem_of_bob"`, "", []string{"Get u:alice/p:shop mem_of_bob"}},
		{GetDocumentToolName, `{}`, "id is required", "", nil},
	}
	for _, tt := range tests {
		b := docBackend()
		ts := MemoryTools(b, scope, 3)
		i := slices.IndexFunc(ts, func(x Tool) bool { return x.Name() == tt.tool })
		res, err := ts[i].Call(t.Context(), json.RawMessage(tt.args))
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s %s: err %v, want %q", tt.tool, tt.args, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || !strings.Contains(res, tt.wantIn)):
			t.Errorf("%s %s: %q, %v; want it to hold %q", tt.tool, tt.args, res, err, tt.wantIn)
		}
		if err != nil {
			if h, ok := errors.AsType[Hinted](err); !ok || h.RetryHint() == "" {
				t.Errorf("%s %s: error without a retry hint", tt.tool, tt.args)
			}
		}
		if strings.Contains(res, memory.ReservedMetaPrefix) {
			t.Errorf("reserved metadata shown: %s", res)
		}
		if got := b.calls(); !slices.Equal(got, tt.backend) {
			t.Errorf("%s %s: backend calls %v, want %v", tt.tool, tt.args, got, tt.backend)
		}
	}
}

// Through the loop: the foreign containerTag comes back to the model as a
// structured error, and the backend is not read.
func TestScopeGuardInLoop(t *testing.T) {
	b := docBackend()
	m := scripted(
		toolRound("r1", 1, 1, tc{"c1", SearchToolName, `{"query":"dog","containerTag":"u:mallory/p:x"}`},
			tc{"c2", GetDocumentToolName, `{"doc_id":"mem_1"}`}),
		textRound("r2", 1, 1, "ok"),
	)
	if _, err := Run(t.Context(), []byte(clientBody), MemoryTools(b, scope, 3), m.call, &strings.Builder{}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	got := toolMessages(m.request(t, 2))
	msg, hint, attempt := errorResultOf(t, got["c1"])
	if !strings.Contains(msg, "containerTag") || !strings.Contains(hint, "without containerTag") || attempt != 1 {
		t.Errorf("containerTag result %q / %q / %d", msg, hint, attempt)
	}
	if !strings.Contains(got["c2"], "Rex") {
		t.Errorf("doc_id result %q", got["c2"])
	}
	if calls := b.calls(); !slices.Equal(calls, []string{"Get u:alice/p:shop mem_1"}) {
		t.Errorf("backend calls %v", calls)
	}
}

// A backend failure reaches the model without its detail.
func TestMemoryBackendFailure(t *testing.T) {
	b := docBackend()
	b.SearchF = func(memory.Scope, string, int) ([]memory.Memory, error) {
		return nil, errors.New("POST https://api.supermemory.ai/v3/search: 502")
	}
	_, err := MemoryTools(b, scope, 3)[0].Call(t.Context(), json.RawMessage(`{"query":"x"}`))
	if err == nil || strings.Contains(err.Error(), "supermemory.ai") || !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("err %v", err)
	}
}

func TestMemoryToolDefinitions(t *testing.T) {
	for _, tool := range MemoryTools(docBackend(), scope, 3) {
		var d struct {
			Type     string `json:"type"`
			Function struct {
				Name       string `json:"name"`
				Parameters struct {
					Required []string `json:"required"`
				} `json:"parameters"`
			} `json:"function"`
		}
		if err := json.Unmarshal(tool.Definition(), &d); err != nil || d.Type != "function" ||
			d.Function.Name != tool.Name() || len(d.Function.Parameters.Required) != 1 {
			t.Errorf("%s definition %s", tool.Name(), tool.Definition())
		}
	}
}
