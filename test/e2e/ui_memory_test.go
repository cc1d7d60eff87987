package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// memoryAPI sends one memory API call with the master key for user's
// project and decodes the answer into out (may be nil); it returns the
// status.
func memoryAPI(t *testing.T, g *gateway, user, project, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, g.httpURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+g.masterKey)
	req.Header.Set("X-Memory-User-Id", user)
	req.Header.Set("X-Memory-Project", project)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %d: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode
}

// TestUIMemoryEditForget drives the dashboard's memory browser in headless
// Chromium as a person would: it shows a memory's status and source, Edit
// and Save supersede it (the old text stays in history, shown struck
// through with "superseded too"), and Forget deletes it.
func TestUIMemoryEditForget(t *testing.T) {
	browser := requireChromium(t)
	g := startGateway(t, uiConfig)
	id := addMemory(t, g, "alice", "alpha-shop", "Staging listens on port 6543.")

	p := openPage(t, browser, g.httpURL+"/ui#key="+g.masterKey+"&user=alice&project=alpha-shop")
	item := `document.querySelector('li[data-memory-id="` + id + `"]')`
	p.waitTrue("the memory in the browser", item)
	var meta string
	p.eval(item+".querySelector('.meta').textContent", &meta)
	if !strings.Contains(meta, "active") || !strings.Contains(meta, "api") {
		t.Errorf("the memory's line says %q; want its status (active) and source client", meta)
	}

	p.eval(item+`.querySelector('button[data-action="edit"]').click()`, nil)
	p.waitTrue("the editor", `document.getElementById('mem-edit-text')`)
	p.eval(`document.getElementById('mem-edit-text').value = 'Staging listens on port 7000.'; document.getElementById('mem-edit').requestSubmit()`, nil)
	p.waitTrue("the saved edit", `document.getElementById('message').textContent.includes('superseded by')`)

	var hist struct {
		Data []struct {
			ID, Content, Status string
			Source              *struct{ Client string }
		} `json:"data"`
	}
	if code := memoryAPI(t, g, "alice", "alpha-shop", http.MethodGet, "/v1/memory/"+id+"/history", &hist); code != 200 || len(hist.Data) != 2 ||
		hist.Data[0].Status != "superseded" || hist.Data[1].Content != "Staging listens on port 7000." ||
		hist.Data[1].Source == nil || hist.Data[1].Source.Client != "edit" {
		t.Fatalf("history after the edit in the page: %d %+v", code, hist)
	}
	newID := hist.Data[1].ID
	newItem := `document.querySelector('li[data-memory-id="` + newID + `"]')`
	p.waitTrue("the new text listed", newItem+` && `+newItem+`.dataset.status === 'active'`)
	var gone bool
	p.eval(item+` === null`, &gone)
	if !gone {
		t.Error("the superseded memory is still listed by default")
	}
	p.waitTrue("the view's history", `document.querySelectorAll('#mem-view li[data-history-id]').length === 2`)

	p.eval(`document.getElementById('mem-all').click()`, nil)
	p.waitTrue("the superseded memory listed", item+` && `+item+`.dataset.status === 'superseded'`)
	var canEdit bool
	p.eval(item+`.querySelector('button[data-action="edit"]') !== null`, &canEdit)
	if canEdit {
		t.Error("a superseded memory offers Edit")
	}

	p.eval(`window.confirm = () => true; `+newItem+`.querySelector('button[data-action="forget"]').click()`, nil)
	p.waitTrue("the forgotten memory gone", newItem+` === null`)
	if code := memoryAPI(t, g, "alice", "alpha-shop", http.MethodGet, "/v1/memory/"+newID, nil); code != 404 {
		t.Errorf("GET the forgotten memory: %d; want 404", code)
	}
}
