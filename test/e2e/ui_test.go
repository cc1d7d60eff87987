package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// uiConfig serves two mock models, so the dashboard has two of each to
// show, and memory on the gateway's own database for the memory browser.
const uiConfig = `model_list:
  - model_name: mock
    litellm_params:
      model: mock/echo
  - model_name: mock-large
    litellm_params:
      model: mock/echo
context_retrieval:
  enabled: true
`

// hostileMemory is a memory whose text is HTML: the page must show it as
// text, never build elements from it.
const hostileMemory = `Deploy notes <img src=x id=injected onerror="document.title='pwned'"><b>bold</b>`

// addMemory stores content in user's scope for project (master key and
// the scope headers) and returns its id.
func addMemory(t *testing.T, g *gateway, user, project, content string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"content": content, "metadata": map[string]string{"source": "ui-test"}})
	req, _ := http.NewRequest(http.MethodPost, g.httpURL+"/v1/memory", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.masterKey)
	req.Header.Set("X-Memory-User-Id", user)
	req.Header.Set("X-Memory-Project", project)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Memory struct {
			ID string `json:"id"`
		} `json:"memory"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("adding a memory: %d %v", resp.StatusCode, err)
	}
	return out.Memory.ID
}

// requireChromium returns the path of Debian's chromium (or another
// Chromium/Chrome on PATH). Without one the test skips, unless
// MEMPROXY_REQUIRE_CLIENTS is set (CI, where .ci/run installs it).
func requireChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("MEMPROXY_REQUIRE_CLIENTS") != "" {
		t.Fatal("chromium is required (MEMPROXY_REQUIRE_CLIENTS is set) but not on PATH: apt-get install chromium")
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the dashboard's browser test. " +
		"Set MEMPROXY_REQUIRE_CLIENTS=1 to make this a failure.")
	return ""
}

// headless runs chromium on url with args (--dump-dom, --screenshot=…)
// in a profile of its own and returns what it printed.
func headless(t *testing.T, browser, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir(),
		"--virtual-time-budget=10000"}, args...)
	cmd := exec.CommandContext(ctx, browser, append(all, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// sendAs makes one chat request for user and project with the master key
// and returns its request id.
func sendAs(t *testing.T, g *gateway, user, project, model, userAgent string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.httpURL+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hello dashboard"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.masterKey)
	req.Header.Set("X-Memory-User-Id", user)
	req.Header.Set("X-Memory-Project", project)
	req.Header.Set("User-Agent", userAgent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 200 || id == "" {
		t.Fatalf("chat for %s: %d, request id %q: %s", project, resp.StatusCode, id, body)
	}
	return id
}

var (
	tagRE  = regexp.MustCompile(`<(rect|circle|tr|li)\s[^>]*>`)
	attrRE = regexp.MustCompile(`([\w-]+)="([^"]*)"`)
)

// marks returns the attributes of every element of the given tag that has
// a class of mark (chart marks) or a data-request-id (table rows).
func marks(dom, tag string) []map[string]string {
	var out []map[string]string
	for _, m := range tagRE.FindAllStringSubmatch(dom, -1) {
		if m[1] != tag {
			continue
		}
		a := map[string]string{}
		for _, kv := range attrRE.FindAllStringSubmatch(m[0], -1) {
			a[kv[1]] = kv[2]
		}
		out = append(out, a)
	}
	return out
}

// TestUIDashboard loads /ui in headless Chromium against a gateway with
// real usage rows and checks what the page's script built from the API.
func TestUIDashboard(t *testing.T) {
	browser := requireChromium(t)
	g := startGateway(t, uiConfig)

	// Memories first, so that alice's requests in alpha-shop get one
	// injected and their rows say so.
	memIDs := []string{addMemory(t, g, "alice", "alpha-shop", "the dashboard lives at /ui"),
		addMemory(t, g, "alice", "alpha-shop", hostileMemory)}
	other := addMemory(t, g, "bob", "alpha-shop", "bob's memory, not in alice's scope")

	ids := map[string]bool{}
	for range 3 {
		ids[sendAs(t, g, "alice", "alpha-shop", "mock", "claude-cli/2.0.14 (external, cli)")] = true
	}
	for _, model := range []string{"mock", "mock-large"} {
		ids[sendAs(t, g, "bob", "beta-blog", model, "OpenAI/JS 4.104.0")] = true
	}
	waitFor(t, "5 usage rows", func() bool { return len(g.usage("")) == 5 })

	// The page itself: no key needed, no data in it, strict headers.
	resp, err := http.Get(g.httpURL + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || strings.Contains(page, "<script>") || strings.Contains(page, "alpha-shop") {
		t.Fatalf("GET /ui: %d, CSP %q, nosniff %q; page:\n%s", resp.StatusCode,
			resp.Header.Get("Content-Security-Policy"), resp.Header.Get("X-Content-Type-Options"), page)
	}

	url := g.httpURL + "/ui#key=" + g.masterKey + "&user=alice&project=alpha-shop"
	if shot := os.Getenv("MEMPROXY_UI_SCREENSHOT"); shot != "" {
		abs, _ := filepath.Abs(shot)
		headless(t, browser, url, "--screenshot="+abs, "--window-size=1280,900", "--hide-scrollbars")
		t.Logf("screenshot in %s", abs)
	}
	dom := headless(t, browser, url, "--dump-dom")

	// The requests chart: a bar per bucket and project carrying the API's
	// count (summed, in case the requests straddled an hour boundary).
	perProject := map[string]int{}
	for _, a := range marks(dom, "rect") {
		if n, err := strconv.Atoi(a["data-requests"]); err == nil && a["data-bucket"] != "" {
			perProject[a["data-group"]] += n
		}
	}
	if perProject["alpha-shop"] != 3 || perProject["beta-blog"] != 2 || len(perProject) != 2 {
		t.Errorf("requests chart bars add up to %v; want alpha-shop 3, beta-blog 2", perProject)
	}
	var latency int
	for _, a := range marks(dom, "circle") {
		if a["data-p95"] != "" && a["data-p50"] != "" {
			latency++
		}
	}
	if latency < 2 {
		t.Errorf("latency chart has %d points with data-p50/data-p95; want one per project", latency)
	}

	// The recent-requests table lists every request made.
	listed := map[string]bool{}
	for _, a := range marks(dom, "tr") {
		listed[a["data-request-id"]] = true
	}
	for id := range ids {
		if !listed[id] || !strings.Contains(dom, ">"+id+"<") {
			t.Errorf("request %s is not in the recent-requests table", id)
		}
	}
	for _, s := range []string{"alpha-shop", "beta-blog", "mock-large", "claude-code", "openai-js"} {
		if !strings.Contains(dom, ">"+s+"<") {
			t.Errorf("the page does not show %q", s)
		}
	}
	// The rows' memory counts are shown, since they have some.
	if !strings.Contains(dom, "<th>Memories</th>") || !strings.Contains(dom, ">injected<") {
		t.Error("the recent-requests table does not show the memories injected")
	}

	// The memory browser lists alice's memories in alpha-shop, and only
	// hers, with HTML in a memory shown as text.
	shown := map[string]bool{}
	for _, a := range marks(dom, "li") {
		shown[a["data-memory-id"]] = true
	}
	for _, id := range memIDs {
		if !shown[id] {
			t.Errorf("memory %s is not in the memory browser", id)
		}
	}
	if shown[other] {
		t.Error("the memory browser shows another user's memory")
	}
	if strings.Contains(dom, `id="injected"`) || strings.Contains(dom, "<title>pwned") || !strings.Contains(dom, "Deploy notes &lt;img src=x") {
		t.Error("a memory's HTML was not shown as text")
	}
	if strings.Contains(dom, g.masterKey) {
		t.Error("the key is in the page's DOM")
	}
	if strings.Contains(dom, `class="message error"`) {
		t.Errorf("the page shows an error: %s", regexp.MustCompile(`<p id="message"[^>]*>[^<]*`).FindString(dom))
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
}
