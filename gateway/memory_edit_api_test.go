package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
	"github.com/memproxy/memproxy/gateway/store/sqlite"
)

// lifecycleHarness serves the memory API over a real SQLite store.
func lifecycleHarness(t *testing.T) (*harness, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.MemorySupported(t.Context()); err != nil {
		t.Skipf("needs FTS5 (-tags sqlite_fts5): %v", err)
	}
	oai := providertest.NewOpenAI(t)
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: gpt\n    litellm_params: {model: openai/gpt-up, api_base: \"" + oai.URL + "/v1\", api_key: k}\n"
	h := serveYAML(t, y, oai, func(o *Options) {
		o.Memory = &MemoryOptions{Enabled: true, Backend: db, BackendName: "sqlite", Policy: "user_project"}
	})
	return h, db
}

// call sends method path with body (may be "") as the user of hdr and
// decodes the JSON answer into out (may be nil).
func call(t *testing.T, h *harness, method, path, body string, hdr []string, out any) int {
	t.Helper()
	req, _ := newReq(method, h.httpURL+path, hdr)
	if body != "" {
		req.Body = io.NopCloser(strings.NewReader(body))
	}
	resp, err := httpDo(req)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(resp.body), out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, resp.body, err)
		}
	}
	return resp.StatusCode
}

type memList struct {
	Data []memoryJSON `json:"data"`
}

// TestMemoryEditAndHistory: a person edits a memory through the API; the
// old text stays in history with its status and source, only the new
// one is listed and searched, and another user can neither edit nor see
// the chain.
func TestMemoryEditAndHistory(t *testing.T) {
	h, db := lifecycleHarness(t)
	bob := []string{"X-Memory-User-Id", "bob", "X-Memory-Project", "shop"}
	orig, _, err := db.AddWith(t.Context(), "u:alice/p:shop", "Staging listens on port 6543.",
		memory.AddOptions{Keys: "postgres database db", Source: memory.Source{Client: "claude-code", RequestID: "req_1", Session: "s", Turn: 2}})
	if err != nil {
		t.Fatal(err)
	}
	var edited struct {
		Memory     memoryJSON `json:"memory"`
		Supersedes string     `json:"supersedes"`
	}
	if code := call(t, h, http.MethodPut, "/v1/memory/"+orig.ID, `{"content":"Staging listens on port 7000."}`, bob, nil); code != 404 {
		t.Errorf("bob edits alice's memory: %d; want 404", code)
	}
	if code := call(t, h, http.MethodPut, "/v1/memory/"+orig.ID, `{"content":"Staging listens on port 7000."}`, alice, &edited); code != 200 {
		t.Fatalf("edit: %d", code)
	}
	if edited.Memory.ID == orig.ID || edited.Memory.Content != "Staging listens on port 7000." || edited.Supersedes != orig.ID ||
		edited.Memory.Status != "active" || edited.Memory.Source == nil || edited.Memory.Source.Client != memory.SourceEdit {
		t.Fatalf("edit answer: %+v", edited)
	}
	if code := call(t, h, http.MethodPut, "/v1/memory/"+orig.ID, `{"content":"again"}`, alice, nil); code != 409 {
		t.Errorf("editing a superseded memory: %d; want 409", code)
	}
	if code := call(t, h, http.MethodPut, "/v1/memory/"+edited.Memory.ID, `{"nope":1}`, alice, nil); code != 400 {
		t.Errorf("edit without content: %d; want 400", code)
	}
	var hist memList
	if code := call(t, h, http.MethodGet, "/v1/memory/"+edited.Memory.ID+"/history", "", alice, &hist); code != 200 || len(hist.Data) != 2 {
		t.Fatalf("history: %d %+v", code, hist)
	}
	old := hist.Data[0]
	if old.ID != orig.ID || old.Status != "superseded" || old.SupersededBy != edited.Memory.ID || old.ValidTo == nil ||
		old.Source == nil || old.Source.RequestID != "req_1" || old.Source.Turn != 2 {
		t.Errorf("history[0] = %+v; want the original, superseded, with its source", old)
	}
	if code := call(t, h, http.MethodGet, "/v1/memory/"+orig.ID+"/history", "", bob, nil); code != 404 {
		t.Errorf("bob reads alice's history: %d; want 404", code)
	}
	var list memList
	call(t, h, http.MethodGet, "/v1/memory", "", alice, &list)
	if len(list.Data) != 1 || list.Data[0].ID != edited.Memory.ID {
		t.Errorf("list = %+v; want only the edited memory", list.Data)
	}
	call(t, h, http.MethodGet, "/v1/memory?include_superseded=true", "", alice, &list)
	if len(list.Data) != 2 {
		t.Errorf("list with superseded = %d memories; want 2", len(list.Data))
	}
	var found memList
	call(t, h, http.MethodGet, "/v1/memory/search?q=staging+port", "", alice, &found)
	if len(found.Data) != 1 || found.Data[0].ID != edited.Memory.ID {
		t.Errorf("search = %+v; want only the edited memory", found.Data)
	}
	// Keys given to the API are searched, never shown.
	var added struct {
		Memory memoryJSON `json:"memory"`
	}
	if code := call(t, h, http.MethodPost, "/v1/memory", `{"content":"Releases go out on Fridays.","keys":"ship deploy prod"}`, alice, &added); code != 201 ||
		added.Memory.Source == nil || added.Memory.Source.Client == "" {
		t.Fatalf("add with keys: %d %+v", code, added)
	}
	req, _ := newReq(http.MethodGet, h.httpURL+"/v1/memory/search?q=how+do+we+ship", alice)
	if resp, err := httpDo(req); err != nil || !strings.Contains(resp.body, added.Memory.ID) || strings.Contains(resp.body, "deploy prod") {
		t.Errorf("search by keys: %s, %v; want the memory, without its keys", resp.body, err)
	}
}

// memoryJSON is a memory as the API shows it (adminapi's format).
type memoryJSON struct {
	ID           string            `json:"id"`
	Content      string            `json:"content"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	Status       string            `json:"status"`
	SupersededBy string            `json:"superseded_by,omitempty"`
	ValidTo      *time.Time        `json:"valid_to,omitempty"`
	Source       *memory.Source    `json:"source,omitempty"`
}
