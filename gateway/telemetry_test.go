package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/memproxy/memproxy/edge"
	"github.com/memproxy/memproxy/internal/telemetry"
	"github.com/memproxy/memproxy/registry"
)

// recordSpans installs a span recorder as the process's tracer provider
// for the test; the globals go back to no-op after it.
func recordSpans(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	p, err := telemetry.Setup(context.Background(), telemetry.Options{SpanProcessor: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Shutdown(context.Background())
		_, _ = telemetry.Setup(context.Background(), telemetry.Options{})
	})
	return rec
}

// spanNamed returns the one ended span called name in trace tid.
func spanNamed(t *testing.T, spans []sdktrace.ReadOnlySpan, tid trace.TraceID, name string, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name && s.SpanKind() == kind && (!tid.IsValid() || s.SpanContext().TraceID() == tid) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		var names []string
		for _, s := range spans {
			names = append(names, s.SpanKind().String()+" "+s.Name()+" "+s.SpanContext().TraceID().String())
		}
		t.Fatalf("%d %s spans named %q in trace %s; spans:\n%s", len(found), kind, name, tid, strings.Join(names, "\n"))
	}
	return found[0]
}

func attrOf(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// noSecrets fails if any attribute of any span holds one of the texts.
func noSecrets(t *testing.T, spans []sdktrace.ReadOnlySpan, texts ...string) {
	t.Helper()
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			for _, x := range texts {
				if strings.Contains(kv.Value.Emit(), x) {
					t.Errorf("span %q attribute %s holds %q", s.Name(), kv.Key, x)
				}
			}
		}
		if strings.Contains(s.Status().Description, texts[0]) {
			t.Errorf("span %q status holds a secret", s.Name())
		}
	}
}

const promptText = "please remember the zanzibar-42 launch code"

// TestTraceFromEdgeToGateway runs a real edge daemon against the real
// gateway, in one process with one span recorder: the gateway's spans
// join the edge's trace, parent after parent.
func TestTraceFromEdgeToGateway(t *testing.T) {
	spans := recordSpans(t)
	h := newHarness(t, "")
	reg, err := registry.Open(t.TempDir(), registry.Options{PortMin: 30000, PortMax: 39999})
	if err != nil {
		t.Fatal(err)
	}
	d, err := edge.New(edge.Options{Gateway: h.grpcAddr, Key: testMaster, User: "alice", Hostname: "laptop", EdgeID: "edge-1",
		Registry: reg, ShutdownGrace: time.Second, ConnectWait: 2 * time.Second,
		DetectClient: func(func(string) string) (string, string) { return "claude-code", "^claude-cli/" }})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := edge.ListenControl(t.TempDir() + "/s.sock")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	edgeDone := make(chan struct{})
	go func() { _ = d.Run(ctx, ctl); close(edgeDone) }()
	stopEdge := func() { cancel(); <-edgeDone; http.DefaultClient.CloseIdleConnections() }
	t.Cleanup(stopEdge)
	st, err := d.Start(edge.StartRequest{Project: "shop"})
	if err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequest(http.MethodPost, st.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-test","messages":[{"role":"user","content":"`+promptText+`"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	stopEdge() // every handler has returned: its spans have ended
	h.stop()
	ended := spans.Ended()

	fwd := spanNamed(t, ended, trace.TraceID{}, "edge.forward", trace.SpanKindInternal)
	tid := fwd.SpanContext().TraceID()
	client := spanNamed(t, ended, tid, "memproxy.v1.Gateway/Forward", trace.SpanKindClient)
	server := spanNamed(t, ended, tid, "memproxy.v1.Gateway/Forward", trace.SpanKindServer)
	api := spanNamed(t, ended, tid, "POST /v1/chat/completions", trace.SpanKindServer)
	for _, link := range []struct{ child, parent sdktrace.ReadOnlySpan }{{client, fwd}, {server, client}, {api, server}} {
		if link.child.Parent().SpanID() != link.parent.SpanContext().SpanID() {
			t.Errorf("%s %q: parent %s, want %s %q (%s)", link.child.SpanKind(), link.child.Name(), link.child.Parent().SpanID(),
				link.parent.SpanKind(), link.parent.Name(), link.parent.SpanContext().SpanID())
		}
	}
	if !server.Parent().IsRemote() || fwd.Parent().IsValid() {
		t.Error("the gateway's Forward span should continue the edge's context, from the call's metadata")
	}
	for key, want := range map[string]string{"memproxy.project": "shop", "memproxy.client": "claude-code"} {
		if v, _ := attrOf(fwd, key); v.AsString() != want {
			t.Errorf("edge.forward %s = %q, want %q", key, v.Emit(), want)
		}
	}
	for key, want := range map[string]string{
		"memproxy.request_id": resp.Header.Get("X-Request-Id"), "gen_ai.request.model": "gpt-test", "gen_ai.provider.name": "openai",
		"memproxy.ingress": "tunnel", "http.response.status_code": "200", "http.route": "/v1/chat/completions", "memproxy.project": "shop",
	} {
		if v, _ := attrOf(api, key); v.Emit() != want || want == "" {
			t.Errorf("gateway span %s = %q, want %q", key, v.Emit(), want)
		}
	}
	noSecrets(t, ended, testMaster, "zanzibar", "sk-upstream-secret")
}

// TestHTTPContinuesCallerTrace: a plain-HTTP caller's traceparent is the
// parent of the gateway's span.
func TestHTTPContinuesCallerTrace(t *testing.T) {
	spans := recordSpans(t)
	h := newHarness(t, "")
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	if resp, body := h.post(chatBody, "Traceparent", "00-"+tid+"-"+sid+"-01"); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp, _ := h.post(chatBody, "Authorization", "Bearer wrong-key"); resp.StatusCode != 401 {
		t.Fatalf("wrong key answered %d", resp.StatusCode)
	}
	h.stop()
	ended := spans.Ended()
	want, _ := trace.TraceIDFromHex(tid)
	api := spanNamed(t, ended, want, "POST /v1/chat/completions", trace.SpanKindServer)
	if api.Parent().SpanID().String() != sid {
		t.Errorf("parent %s, want the caller's %s", api.Parent().SpanID(), sid)
	}
	var refused sdktrace.ReadOnlySpan
	for _, s := range ended {
		if v, _ := attrOf(s, "http.response.status_code"); v.AsInt64() == 401 {
			refused = s
		}
	}
	if refused == nil {
		t.Fatal("no span for the refused request")
	}
	if v, _ := attrOf(refused, "memproxy.ingress"); v.AsString() != "http" || refused.Status().Code.String() != "Unset" {
		t.Errorf("refused request: ingress %q, status %v (a 4xx is not a server error)", v.Emit(), refused.Status())
	}
	noSecrets(t, ended, testMaster, "wrong-key", "sk-upstream-secret")
}

// TestMemoryRetrieveSpan: retrieval is a child span of the request's,
// naming the backend and the result count, never the query.
func TestMemoryRetrieveSpan(t *testing.T) {
	spans := recordSpans(t)
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "The zanzibar project deploys with make ship.", nil)
	h := memHarness(t, mem, nil)
	if resp, out := h.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"how does zanzibar deploy?"}]}`, alice...); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	h.stop()
	ended := spans.Ended()
	api := spanNamed(t, ended, trace.TraceID{}, "POST /v1/chat/completions", trace.SpanKindServer)
	mr := spanNamed(t, ended, api.SpanContext().TraceID(), "memory.retrieve", trace.SpanKindInternal)
	if mr.Parent().SpanID() != api.SpanContext().SpanID() {
		t.Error("memory.retrieve is not a child of the request's span")
	}
	if v, _ := attrOf(mr, "memproxy.memory.backend"); v.AsString() != "fake" {
		t.Errorf("backend %q", v.Emit())
	}
	if v, _ := attrOf(mr, "memproxy.memory.results"); v.AsInt64() != 1 {
		t.Errorf("results %s", v.Emit())
	}
	if v, _ := attrOf(api, "memproxy.memory.status"); v.AsString() != "injected" {
		t.Errorf("request span memory status %q", v.Emit())
	}
	noSecrets(t, ended, testMaster, "zanzibar")
}

// TestAdminRoutesTraced: the routes outside track (memory, usage, models)
// get one server span each, named by the route's template (no id or query
// in it), and add no usage row; a completion still has exactly one span.
func TestAdminRoutesTraced(t *testing.T) {
	spans := recordSpans(t)
	mem := &fakeMemory{}
	mem.Add(context.Background(), "u:alice/p:shop", "secret-ish memory text", nil)
	h := memHarness(t, mem, func(o *MemoryOptions) { o.WriteBack = "off" })
	for _, path := range []string{"/v1/memory/m1", "/v1/memory/search?q=zanzibarquery", "/v1/models"} {
		req, _ := newReq("GET", h.httpURL+path, alice)
		if resp, err := httpDo(req); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
	}
	h.send("/v1/chat/completions", `{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`, alice...)
	rows := h.rows()
	ended := spans.Ended()
	for _, name := range []string{"GET /v1/memory/{id}", "GET /v1/memory/search", "GET /v1/models", "POST /v1/chat/completions"} {
		s := spanNamed(t, ended, trace.TraceID{}, name, trace.SpanKindServer)
		if v, _ := attrOf(s, "http.response.status_code"); v.AsInt64() != 200 {
			t.Errorf("%s: status %s", name, v.Emit())
		}
	}
	if len(rows) != 1 {
		t.Errorf("%d usage rows, want the completion's only", len(rows))
	}
	noSecrets(t, ended, "zanzibarquery")
}
