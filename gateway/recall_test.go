package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/memory"
	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// fakeMemory is an in-memory Backend: search scores a memory by how many
// query words it contains. delay slows Search down (for the budget).
type fakeMemory struct {
	mu    sync.Mutex
	data  map[memory.Scope][]memory.Memory
	delay time.Duration
	fail  error
}

func (f *fakeMemory) Search(ctx context.Context, s memory.Scope, q string, limit int) ([]memory.Memory, error) {
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.fail != nil {
		return nil, f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []memory.Memory
	for _, m := range f.data[s] {
		n := 0
		for _, w := range strings.Fields(strings.ToLower(q)) {
			if strings.Contains(strings.ToLower(m.Content), w) {
				n++
			}
		}
		if n > 0 {
			m.Score = float64(n)
			out = append(out, m)
		}
	}
	return out[:min(len(out), limit)], nil
}

func (f *fakeMemory) Add(_ context.Context, s memory.Scope, content string, meta map[string]string) (memory.Memory, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data == nil {
		f.data = map[memory.Scope][]memory.Memory{}
	}
	m := memory.Memory{ID: fmt.Sprintf("m%d", len(f.data[s])+1), Content: content, Metadata: meta}
	f.data[s] = append(f.data[s], m)
	return m, true, nil
}

func (f *fakeMemory) all(s memory.Scope) []memory.Memory {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]memory.Memory(nil), f.data[s]...)
}

func (f *fakeMemory) Get(_ context.Context, s memory.Scope, id string) (memory.Memory, error) {
	for _, m := range f.all(s) {
		if m.ID == id {
			return m, nil
		}
	}
	return memory.Memory{}, memory.ErrNotFound
}
func (f *fakeMemory) List(context.Context, memory.Scope, string, int) ([]memory.Memory, string, error) {
	return nil, "", nil
}
func (f *fakeMemory) Delete(context.Context, memory.Scope, string) error   { return memory.ErrNotFound }
func (f *fakeMemory) DeleteAll(context.Context, memory.Scope) (int, error) { return 0, nil }

var _ memory.Backend = (*fakeMemory)(nil)

// memHarness is a gateway with memory on, an OpenAI and an Anthropic fake.
func memHarness(t *testing.T, mem *fakeMemory, tweak func(*MemoryOptions)) *dialectHarness {
	return memToolsHarness(t, mem, tweak, nil)
}

func memToolsHarness(t *testing.T, mem *fakeMemory, tweak func(*MemoryOptions), to *ToolOptions) *dialectHarness {
	t.Helper()
	oai, anth := providertest.NewOpenAI(t), providertest.NewAnthropic(t)
	y := "general_settings:\n  master_key: " + testMaster + "\nmodel_list:\n" +
		"  - model_name: gpt\n    litellm_params: {model: openai/gpt-up, api_base: \"" + oai.URL + "/v1\", api_key: k}\n" +
		"  - model_name: claude\n    litellm_params: {model: anthropic/claude-up, api_base: \"" + anth.URL + "\", api_key: k}\n"
	mo := &MemoryOptions{Enabled: true, Backend: mem, BackendName: "fake"}
	if tweak != nil {
		tweak(mo)
	}
	if to == nil {
		to = &ToolOptions{}
	}
	h := serveYAML(t, y, oai, func(o *Options) {
		o.Memory = mo
		o.Tools = to
	})
	return &dialectHarness{harness: h, anth: anth}
}

var alice = []string{"X-Memory-User-Id", "alice", "X-Memory-Project", "shop"}

func TestMemoryInjectedAndWrittenBack(t *testing.T) {
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "The shop project deploys with make ship.", nil)
	mem.Add(context.Background(), "u:alice/p:billing", "Billing deploys with make deploy-billing.", nil)
	h := memHarness(t, mem, nil)
	resp, out := h.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"how does the project deploy?"}]}`, alice...)
	if resp.StatusCode != 200 || resp.Header.Get("X-Memproxy-Memories") != "m1" || resp.Header.Get("X-Memproxy-Memory-Ms") == "" {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, out)
	}
	sent, _ := json.Marshal(h.fake.Requests()[0].Body["messages"])
	if !strings.Contains(string(sent), "make ship") || strings.Contains(string(sent), "billing") {
		t.Errorf("upstream prompt: %s", sent)
	}
	h.stop() // drains write-back
	got := mem.all("u:alice/p:shop")
	if len(got) != 2 || got[1].Content != "User: how does the project deploy?\nAssistant: "+h.fake.Answer() {
		t.Errorf("write-back: %+v", got)
	}
	if n := len(mem.all("u:alice/p:billing")); n != 1 {
		t.Errorf("another project's scope was written: %d", n)
	}
}

func TestMemoryStreamWriteBackAndRedaction(t *testing.T) {
	mem := &fakeMemory{}
	h := memHarness(t, mem, nil)
	body := `{"model":"claude","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"my key is sk-proj-abcdefghijklmnopqrstuvwx0123 <memproxy-context>\nold memory\n</memproxy-context>"}]}`
	h.send("/v1/messages", body, alice...)
	h.stop()
	got := mem.all("u:alice/p:shop")
	if len(got) != 1 || strings.Contains(got[0].Content, "sk-proj") || strings.Contains(got[0].Content, "old memory") ||
		!strings.HasSuffix(got[0].Content, "Assistant: "+h.anth.Answer()) {
		t.Errorf("stored: %+v", got)
	}
}

func TestMemoryFailOpenAndOptOut(t *testing.T) {
	mem := &fakeMemory{delay: time.Second}
	mem.Add(context.Background(), "u:alice/p:shop", "deploy facts", nil)
	h := memHarness(t, mem, func(o *MemoryOptions) { o.Budget = 20 * time.Millisecond; o.WriteBack = "off" })
	start := time.Now()
	resp, _ := h.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"deploy"}]}`, alice...)
	if resp.StatusCode != 200 || resp.Header.Get("X-Memproxy-Memories") != "" || time.Since(start) > 900*time.Millisecond {
		t.Errorf("slow memory must not hold the request: %d %v after %s", resp.StatusCode, resp.Header, time.Since(start))
	}
	mem.delay = 0
	resp, _ = h.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"deploy"}]}`, append(alice, "X-Memory-Disable", "1")...)
	if resp.Header.Get("X-Memproxy-Memories") != "" {
		t.Error("x-memory-disable: 1 still injected memories")
	}
	h.stop()
	if n := len(mem.all("u:alice/p:shop")); n != 1 {
		t.Errorf("write-back off still wrote: %d", n)
	}
}

func TestMemoryAnthropicCacheAwarePassthrough(t *testing.T) {
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "Use pnpm, never npm, in the shop project.", nil)
	h := memHarness(t, mem, nil)
	body := `{"model":"claude","max_tokens":50,"system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],` +
		`"messages":[{"role":"user","content":[{"type":"text","text":"which package manager should I use?","cache_control":{"type":"ephemeral"}}]}]}`
	resp, _ := h.send("/v1/messages", body, alice...)
	if resp.Header.Get("X-Memproxy-Memories") != "m1" {
		t.Fatalf("headers %v", resp.Header)
	}
	up := h.anth.Requests()[0].Body
	sys, _ := json.Marshal(up["system"])
	if string(sys) != `[{"cache_control":{"type":"ephemeral"},"text":"You are Claude Code.","type":"text"}]` {
		t.Errorf("system prompt changed: %s", sys)
	}
	last, _ := json.Marshal(up["messages"])
	if !strings.Contains(string(last), `"text":"which package manager should I use?","type":"text"},{"text":"\u003cmemproxy-context\u003e`) {
		t.Errorf("memories must follow the user's cached block: %s", last)
	}
}

func TestMemoryAPIScoped(t *testing.T) {
	mem := &fakeMemory{}
	h := memHarness(t, mem, nil)
	bob := []string{"X-Memory-User-Id", "bob", "X-Memory-Project", "shop"}
	resp, out := h.send("/v1/memory", `{"content":"alice prefers tabs"}`, alice...)
	if resp.StatusCode != 201 || !strings.Contains(out, `"created":true`) {
		t.Fatalf("add: %d %s", resp.StatusCode, out)
	}
	if got := mem.all("u:alice/p:shop"); len(got) != 1 {
		t.Fatalf("stored in alice's scope: %+v", got)
	}
	get := func(path string, hdr []string) (int, string) {
		req, _ := newReq("GET", h.httpURL+path, hdr)
		resp, err := httpDo(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.body
	}
	if code, body := get("/v1/memory/search?q=tabs", alice); code != 200 || !strings.Contains(body, "alice prefers tabs") {
		t.Errorf("alice's search: %d %s", code, body)
	}
	if code, body := get("/v1/memory/search?q=tabs", bob); code != 200 || strings.Contains(body, "tabs") {
		t.Errorf("bob sees alice's memory: %d %s", code, body)
	}
	if code, _ := get("/v1/memory/m1", bob); code != 404 {
		t.Errorf("bob got alice's memory by id: %d", code)
	}
	if code, body := get("/memory-routing/info", alice); code != 200 || !strings.Contains(body, `"scope":"u:alice/p:shop"`) || !strings.Contains(body, `"backend":"fake"`) {
		t.Errorf("routing info: %d %s", code, body)
	}
	req, _ := newReq("DELETE", h.httpURL+"/v1/memory", alice)
	if resp, _ := httpDo(req); resp.StatusCode != 400 {
		t.Errorf("delete-all without ?all=true: %d", resp.StatusCode)
	}
	if code, _ := get("/v1/memory/search?q=x", []string{"X-Memory-User-Id", "carol"}); code != 400 {
		t.Errorf("no project under user_project policy: %d", code)
	}
}

func TestMemoryWhy(t *testing.T) {
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "The shop project deploys with make ship.", nil)
	h := memHarness(t, mem, func(o *MemoryOptions) { o.WriteBack = "off" })
	resp, _ := h.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"how does the project deploy?"}]}`, alice...)
	id := resp.Header.Get("X-Request-Id")
	var body string
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := newReq("GET", h.httpURL+"/v1/memory/why/"+id, alice)
		r, err := httpDo(req)
		if err != nil {
			t.Fatal(err)
		}
		if r.StatusCode == 200 {
			body = r.body
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("why: %d %s", r.StatusCode, r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(body, `"status":"injected"`) || !strings.Contains(body, "make ship") || !strings.Contains(body, `"id":"m1"`) ||
		!strings.Contains(body, `"query":"how does the project deploy?"`) || !strings.Contains(body, `"score":`) {
		t.Errorf("why: %s", body)
	}
	req, _ := newReq("GET", h.httpURL+"/v1/memory/why/"+id, []string{"X-Memory-User-Id", "bob", "X-Memory-Project", "shop"})
	if r, _ := httpDo(req); r.StatusCode != 404 {
		t.Errorf("bob read alice's request explanation: %d %s", r.StatusCode, r.body)
	}
}
